"""ocr: page text, language, confidence, word boxes; searchable PDFs

Revision ID: 0002_ocr
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ocr"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ocr_status", sa.String(length=20), server_default="pending", nullable=False))
        batch_op.add_column(sa.Column("searchable_key", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("searchable_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("indexed_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("text_source", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("ocr_confidence", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("low_confidence", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("words_json", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ocr_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_column("ocr_error")
        batch_op.drop_column("words_json")
        batch_op.drop_column("low_confidence")
        batch_op.drop_column("language")
        batch_op.drop_column("ocr_confidence")
        batch_op.drop_column("text_source")
        batch_op.drop_column("text")

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("indexed_at")
        batch_op.drop_column("searchable_sha256")
        batch_op.drop_column("searchable_key")
        batch_op.drop_column("ocr_status")

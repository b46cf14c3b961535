"""packets: exhibit lists and translations

Revision ID: 0003_packets
Revises: 0002_ocr
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_packets"
down_revision = "0002_ocr"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "translations",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=16), nullable=False),
        sa.Column("source_document_id", sa.String(length=16), nullable=False),
        sa.Column("document_id", sa.String(length=16), nullable=False),
        sa.Column("source_language", sa.String(length=8), nullable=False),
        sa.Column("translator_name", sa.String(length=200), nullable=False),
        sa.Column("translator_address", sa.Text(), nullable=False),
        sa.Column("translator_phone", sa.String(length=60), nullable=False),
        sa.Column("translator_email", sa.String(length=200), nullable=False),
        sa.Column("certified_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.ForeignKeyConstraint(["source_document_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_document_id"),
    )
    with op.batch_alter_table("translations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_translations_case_id"), ["case_id"], unique=False)

    op.create_table(
        "exhibits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=8), nullable=False),
        sa.Column("document_id", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("doc_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "label", name="uq_exhibit_label"),
        sa.UniqueConstraint("case_id", "position", name="uq_exhibit_position"),
    )
    with op.batch_alter_table("exhibits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exhibits_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exhibits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exhibits_case_id"))
    op.drop_table("exhibits")
    with op.batch_alter_table("translations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_translations_case_id"))
    op.drop_table("translations")

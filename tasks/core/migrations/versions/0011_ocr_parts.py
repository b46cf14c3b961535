"""ocr parts: page ranges of long documents OCR'd by separate flow runs on a work pool

Revision ID: 0011_ocr_parts
Revises: 0010_staff
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_ocr_parts"
down_revision = "0010_staff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ocr_parts",
        sa.Column("document_id", sa.String(length=16), nullable=False),
        sa.Column("first_page", sa.Integer(), nullable=False),
        sa.Column("last_page", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("flow_run_id", sa.String(length=36), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("searchable_key", sa.String(length=300), nullable=True),
        sa.Column("searchable_sha256", sa.String(length=64), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("document_id", "first_page"),
    )


def downgrade() -> None:
    op.drop_table("ocr_parts")

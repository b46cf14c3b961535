"""filing ready: pinned exhibit labels; a document's own title and date, and a person's confirmation that a
document flagged by the identity cross-check belongs to the case

Revision ID: 0009_filing_ready
Revises: 0008_intake_repairs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_filing_ready"
down_revision = "0008_intake_repairs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exhibits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("doc_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("identity_confirmed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        for column in ("identity_confirmed_at", "doc_date", "title"):
            batch_op.drop_column(column)
    with op.batch_alter_table("exhibits", schema=None) as batch_op:
        batch_op.drop_column("pinned")

"""intake: symbolic links followed or refused per batch, hidden files skipped, what re-adding a file repaired

Revision ID: 0008_intake_repairs
Revises: 0007_conditions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_intake_repairs"
down_revision = "0007_conditions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_symlinks", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("hidden_skipped", sa.Integer(), server_default="0", nullable=False))

    with op.batch_alter_table("intake_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repaired", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intake_items", schema=None) as batch_op:
        batch_op.drop_column("repaired")

    with op.batch_alter_table("intake_batches", schema=None) as batch_op:
        batch_op.drop_column("hidden_skipped")
        batch_op.drop_column("follow_symlinks")

"""scheduled runs: the last outcome of each scheduled job (the overdue check, the inbox poll)

Revision ID: 0006_scheduled_runs
Revises: 0005_legal_review
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_scheduled_runs"
down_revision = "0005_legal_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduled_runs",
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("flow_run_id", sa.String(length=36), nullable=True),
        sa.Column("error_type", sa.String(length=100), nullable=True),
        sa.Column("failing_since", sa.DateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_ok_at", sa.DateTime(), nullable=True),
        sa.Column("alerted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("job"),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")

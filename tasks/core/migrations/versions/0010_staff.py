"""the staff web page: users, sessions, sign-in failures, jobs started from the page

Revision ID: 0010_staff
Revises: 0009_filing_ready
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_staff"
down_revision = "0009_filing_ready"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(), nullable=False),
        sa.Column("last_signin_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "staff_signin_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("name_key", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staff_signin_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_signin_failures_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_signin_failures_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_signin_failures_name_key"), ["name_key"], unique=False)

    op.create_table(
        "staff_jobs",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("case_id", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("runner", sa.String(length=12), nullable=False),
        sa.Column("flow_run_id", sa.String(length=40), nullable=True),
        sa.Column("batch_id", sa.String(length=16), nullable=True),
        sa.Column("profile", sa.String(length=40), nullable=True),
        sa.Column("build_id", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staff_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_jobs_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_table("staff_jobs")
    op.drop_table("staff_signin_failures")
    op.drop_table("staff_sessions")
    op.drop_table("staff_users")

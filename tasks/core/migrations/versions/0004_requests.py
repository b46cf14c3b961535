"""record requests: requests, their events, the outbound mail ledger, the inbox

Revision ID: 0004_requests
Revises: 0003_packets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_requests"
down_revision = "0003_packets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_requests",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=16), nullable=False),
        sa.Column("record_type", sa.String(length=40), nullable=False),
        sa.Column("provider_key", sa.String(length=60), nullable=False),
        sa.Column("provider_name", sa.String(length=200), nullable=False),
        sa.Column("provider_email", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("records_description", sa.Text(), nullable=False),
        sa.Column("advocate", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("extended_due_on", sa.Date(), nullable=True),
        sa.Column("at_risk", sa.Boolean(), nullable=False),
        sa.Column("escalation_step", sa.Integer(), nullable=False),
        sa.Column("letter_document_id", sa.String(length=16), nullable=True),
        sa.Column("authorization_document_id", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["authorization_document_id"],
            ["documents.id"],
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["letter_document_id"],
            ["documents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("record_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_requests_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_record_requests_due_on"), ["due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_record_requests_status"), ["status"], unique=False)

    op.create_table(
        "inbox_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("source_ref", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.String(length=16), nullable=True),
        sa.Column("request_id", sa.String(length=16), nullable=True),
        sa.Column("matched_by", sa.String(length=12), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["record_requests.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_ref", "sha256", name="uq_inbox_source"),
    )
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_items_case_id"), ["case_id"], unique=False)

    op.create_table(
        "outbound_mail",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=16), nullable=True),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=100), nullable=True),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["record_requests.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("outbound_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbound_mail_request_id"), ["request_id"], unique=False)

    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("document_id", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["record_requests.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("request_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_events_request_id"), ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("request_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_events_request_id"))

    op.drop_table("request_events")
    with op.batch_alter_table("outbound_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_mail_request_id"))

    op.drop_table("outbound_mail")
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_items_case_id"))

    op.drop_table("inbox_items")
    with op.batch_alter_table("record_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_requests_status"))
        batch_op.drop_index(batch_op.f("ix_record_requests_due_on"))
        batch_op.drop_index(batch_op.f("ix_record_requests_case_id"))

    op.drop_table("record_requests")

"""legal review: hearing time, filer and USCIS fields on cases; receipt, routing, expected delivery, subject and
enclosure on record requests; how a translator signed

Revision ID: 0005_legal_review
Revises: 0004_requests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_legal_review"
down_revision = "0004_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hearing_time", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("advocate", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("uscis_role", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("receipt_number", sa.String(length=20), nullable=True))
    with op.batch_alter_table("record_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder_receipt_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("routed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("expected_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("subject_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("subject_relationship", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("enclosed_document_id", sa.String(length=16), nullable=True))
        batch_op.create_foreign_key(
            "fk_record_requests_enclosed_document_id_documents", "documents", ["enclosed_document_id"], ["id"]
        )
    with op.batch_alter_table("translations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("translations", schema=None) as batch_op:
        batch_op.drop_column("signature")
    with op.batch_alter_table("record_requests", schema=None) as batch_op:
        batch_op.drop_constraint("fk_record_requests_enclosed_document_id_documents", type_="foreignkey")
        for column in (
            "enclosed_document_id",
            "subject_relationship",
            "subject_name",
            "expected_on",
            "routed_on",
            "holder_receipt_on",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for column in ("receipt_number", "uscis_role", "advocate", "hearing_time"):
            batch_op.drop_column(column)

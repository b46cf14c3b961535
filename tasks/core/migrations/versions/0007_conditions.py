"""conditions: the country-conditions library (sources, pages, translations) and the cases' bundles

Revision ID: 0007_conditions
Revises: 0006_scheduled_runs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_conditions"
down_revision = "0006_scheduled_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "condition_sources",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("original_key", sa.String(length=300), nullable=False),
        sa.Column("original_name", sa.String(length=500), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("normalised_key", sa.String(length=300), nullable=False),
        sa.Column("normalised_sha256", sa.String(length=64), nullable=False),
        sa.Column("searchable_key", sa.String(length=300), nullable=True),
        sa.Column("searchable_sha256", sa.String(length=64), nullable=True),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("ocr_status", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("publisher", sa.String(length=200), nullable=False),
        sa.Column("series", sa.String(length=300), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("edition", sa.String(length=40), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("accessed_on", sa.Date(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("indexed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    with op.batch_alter_table("condition_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_condition_sources_country"), ["country"], unique=False)

    op.create_table(
        "condition_pages",
        sa.Column("source_id", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("width_pt", sa.Double(), nullable=False),
        sa.Column("height_pt", sa.Double(), nullable=False),
        sa.Column("rotation", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_source", sa.String(length=20), nullable=True),
        sa.Column("ocr_confidence", sa.Double(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("words_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["condition_sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", "number"),
    )

    op.create_table(
        "condition_translations",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=16), nullable=False),
        sa.Column("first_page", sa.Integer(), nullable=False),
        sa.Column("last_page", sa.Integer(), nullable=False),
        sa.Column("source_language", sa.String(length=8), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("original_key", sa.String(length=300), nullable=False),
        sa.Column("normalised_key", sa.String(length=300), nullable=False),
        sa.Column("normalised_sha256", sa.String(length=64), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("translator_name", sa.String(length=200), nullable=False),
        sa.Column("translator_address", sa.Text(), nullable=False),
        sa.Column("translator_phone", sa.String(length=60), nullable=False),
        sa.Column("translator_email", sa.String(length=200), nullable=False),
        sa.Column("certified_on", sa.Date(), nullable=False),
        sa.Column("signature", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["condition_sources.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("condition_translations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_condition_translations_source_id"), ["source_id"], unique=False)

    op.create_table(
        "condition_bundles",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("manifest_key", sa.String(length=300), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("exhibits", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("selected_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("condition_bundles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_condition_bundles_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("condition_bundles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_condition_bundles_case_id"))
    op.drop_table("condition_bundles")
    with op.batch_alter_table("condition_translations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_condition_translations_source_id"))
    op.drop_table("condition_translations")
    op.drop_table("condition_pages")
    with op.batch_alter_table("condition_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_condition_sources_country"))
    op.drop_table("condition_sources")

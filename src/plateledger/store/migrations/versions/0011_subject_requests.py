"""subject requests ("is my plate held?"): the request with its contact details, and one row per candidate agency
with the keeper's verification and the answer

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("postal_address", sa.Text(), nullable=False),
        sa.Column("client", sa.String(length=45), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index("ix_subject_requests_plate_created", "subject_requests", ["plate", "created_ms"], unique=False)
    op.create_index("ix_subject_requests_client_created", "subject_requests", ["client", "created_ms"], unique=False)
    op.create_table(
        "subject_request_owners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("verified_ms", sa.BigInteger(), nullable=True),
        sa.Column("verified_by", sa.String(length=64), nullable=True),
        sa.Column("verification_method", sa.String(length=32), nullable=True),
        sa.Column("verified_on", sa.String(length=10), nullable=True),
        sa.Column("verification_note", sa.String(length=500), nullable=False),
        sa.Column("answered_ms", sa.BigInteger(), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["subject_requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "agency_id"),
    )
    op.create_index("ix_subject_request_owners_agency_id", "subject_request_owners", ["agency_id"], unique=False)
    op.create_index("ix_subject_request_owners_request_id", "subject_request_owners", ["request_id"], unique=False)
    op.create_index("ix_subject_request_owners_answered_ms", "subject_request_owners", ["answered_ms"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_subject_request_owners_answered_ms", table_name="subject_request_owners")
    op.drop_index("ix_subject_request_owners_request_id", table_name="subject_request_owners")
    op.drop_index("ix_subject_request_owners_agency_id", table_name="subject_request_owners")
    op.drop_table("subject_request_owners")
    op.drop_index("ix_subject_requests_client_created", table_name="subject_requests")
    op.drop_index("ix_subject_requests_plate_created", table_name="subject_requests")
    op.drop_table("subject_requests")

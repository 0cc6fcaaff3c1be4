"""sharing agreements, versioned owner policies, read holds, policy generation

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agency_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("preset", sa.String(length=32), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agency_id", "version"),
    )
    op.create_index(op.f("ix_agency_policies_agency_id"), "agency_policies", ["agency_id"], unique=False)
    op.create_table(
        "sharing_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_terms", sa.Text(), nullable=False),
        sa.Column("granted_terms", sa.Text(), nullable=True),
        sa.Column("attestation", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("decided_ms", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("ended_ms", sa.BigInteger(), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["requester_id"], ["agencies.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sharing_agreements_owner_id"), "sharing_agreements", ["owner_id"], unique=False)
    op.create_index(op.f("ix_sharing_agreements_requester_id"), "sharing_agreements", ["requester_id"], unique=False)
    op.create_table(
        "read_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("read_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["agencies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_id", "read_id", "kind", "reference"),
    )
    op.create_index(op.f("ix_read_holds_owner_id"), "read_holds", ["owner_id"], unique=False)
    generation = op.create_table(
        "policy_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(generation, [{"id": 1, "value": 0}])


def downgrade() -> None:
    op.drop_table("policy_generation")
    op.drop_index(op.f("ix_read_holds_owner_id"), table_name="read_holds")
    op.drop_table("read_holds")
    op.drop_index(op.f("ix_sharing_agreements_requester_id"), table_name="sharing_agreements")
    op.drop_index(op.f("ix_sharing_agreements_owner_id"), table_name="sharing_agreements")
    op.drop_table("sharing_agreements")
    op.drop_index(op.f("ix_agency_policies_agency_id"), table_name="agency_policies")
    op.drop_table("agency_policies")

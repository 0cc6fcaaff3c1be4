"""oversight review: the case register, sensitive places, oversight flags and their review, the live rules'
cursor; users get a unit

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-22 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=64), nullable=True))
    op.create_table(
        "case_register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agency_id", "number"),
    )
    op.create_index("ix_case_register_agency_id", "case_register", ["agency_id"], unique=False)
    op.create_index("ix_case_register_updated_ms", "case_register", ["updated_ms"], unique=False)
    op.create_table(
        "sensitive_places",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("geojson", sa.Text(), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("set_ms", sa.BigInteger(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.PrimaryKeyConstraint("agency_id"),
    )
    op.create_table(
        "oversight_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("explained_by", sa.Text(), nullable=True),
        sa.Column("raised_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("decided_ms", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agency_id", "rule", "key"),
    )
    op.create_index("ix_oversight_flags_agency_status", "oversight_flags", ["agency_id", "status"], unique=False)
    op.create_index("ix_oversight_flags_raised_ms", "oversight_flags", ["raised_ms"], unique=False)
    op.create_table(
        "oversight_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("oversight_cursor")
    op.drop_index("ix_oversight_flags_raised_ms", table_name="oversight_flags")
    op.drop_index("ix_oversight_flags_agency_status", table_name="oversight_flags")
    op.drop_table("oversight_flags")
    op.drop_table("sensitive_places")
    op.drop_index("ix_case_register_updated_ms", table_name="case_register")
    op.drop_index("ix_case_register_agency_id", table_name="case_register")
    op.drop_table("case_register")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("unit")

"""hot-list matching: per-list confusable matching, and the generation counter of the matcher's mirror

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 02:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hot_lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("match_confusable", sa.Boolean(), nullable=False, server_default=sa.false()))
    generation = op.create_table(
        "hotlist_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(generation, [{"id": 1, "value": 0}])


def downgrade() -> None:
    op.drop_table("hotlist_generation")
    with op.batch_alter_table("hot_lists", schema=None) as batch_op:
        batch_op.drop_column("match_confusable")

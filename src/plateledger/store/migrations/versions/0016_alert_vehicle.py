"""alerts: the vehicle of the alert's read (make, model, colour, type), carried from the hot-list match, so an
alert describes its vehicle without a second read of the reads store outside the gate (null: not given)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

COLUMNS = ("make", "model", "color", "vtype")


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)

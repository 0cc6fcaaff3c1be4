"""approval notices: a held or break-glass search keeps the requester's note (the break-glass reason the review
queue shows); the webhook delivery log also logs approval notices (``approval_request_id``, ``alert_id`` null)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-29 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.String(length=500), nullable=True))
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.alter_column("alert_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("approval_request_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_webhook_deliveries_approval_request_id", "approval_requests", ["approval_request_id"], ["id"]
        )
        batch_op.create_index("ix_webhook_deliveries_approval_request_id", ["approval_request_id"], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM webhook_deliveries WHERE alert_id IS NULL")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_approval_request_id")
        batch_op.drop_constraint("fk_webhook_deliveries_approval_request_id", type_="foreignkey")
        batch_op.drop_column("approval_request_id")
        batch_op.alter_column("alert_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_column("note")

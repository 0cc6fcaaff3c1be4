"""client address on audit entries; sign-in failures per client address and username (lockout no longer per user);
an index of audit entries by user and time (the query budget's window)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing entries keep client NULL, which the hash leaves out: their hashes still verify.
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client", sa.String(length=45), nullable=True))
        batch_op.create_index("ix_audit_log_actor_user_ts", ["actor_user_id", "ts_ms"], unique=False)
    op.create_table(
        "signin_failures",
        sa.Column("client", sa.String(length=45), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("locked_until_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("client", "username"),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locked_until_ms")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("locked_until_ms", sa.BigInteger(), nullable=True))
    op.drop_table("signin_failures")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_actor_user_ts")
        batch_op.drop_column("client")

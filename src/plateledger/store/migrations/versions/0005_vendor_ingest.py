"""vendor ingest: quarantined reads of unknown vendor cameras, camera aliases, camera health, read images

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 04:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.add_column(sa.Column("silent_after_s", sa.Integer(), nullable=True))
    op.create_table(
        "quarantined_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("vendor_camera", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_quarantined_reads_agency_camera", "quarantined_reads", ["agency_id", "vendor_camera"], unique=False
    )
    op.create_table(
        "camera_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("vendor_camera", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agency_id", "vendor_camera"),
    )
    op.create_table(
        "camera_health",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("last_read_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_heartbeat_ms", sa.BigInteger(), nullable=True),
        sa.Column("healthy", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"]),
        sa.PrimaryKeyConstraint("camera_id"),
    )
    op.create_table(
        "read_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("read_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("read_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["agencies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_id", "read_id", "kind"),
    )
    op.create_index("ix_read_images_sha256", "read_images", ["sha256"], unique=False)
    op.create_index("ix_read_images_read_ms", "read_images", ["read_ms"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_read_images_read_ms", table_name="read_images")
    op.drop_index("ix_read_images_sha256", table_name="read_images")
    op.drop_table("read_images")
    op.drop_table("camera_health")
    op.drop_table("camera_aliases")
    op.drop_index("ix_quarantined_reads_agency_camera", table_name="quarantined_reads")
    op.drop_table("quarantined_reads")
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_column("silent_after_s")

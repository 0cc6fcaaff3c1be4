"""the audit log's Merkle tree: a leaf per entry (public part + salted commitment, and the salt), hash tiles and
the tree's size and compact range; existing entries get their leaves (fresh salts), tiles and tree

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-20 04:00:00.000000
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from alembic import op

from plateledger.audit.public import leaf_of, split
from plateledger.audit.tree import TreeState
from plateledger_verify import merkle

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 2000
_FULL = 256 * merkle.HASH_SIZE

# The tables as this revision knows them (not the models: a later revision may change those).
_entries = sa.table(
    "audit_log",
    *(
        sa.column(name)
        for name in (
            "seq",
            "ts_ms",
            "action",
            "outcome",
            "actor_user_id",
            "actor_username",
            "actor_agency_id",
            "purpose",
            "case_number",
            "client",
            "params",
            "counts",
        )
    ),
)
_agencies = sa.table("agencies", sa.column("id"), sa.column("slug"))


def upgrade() -> None:
    leaves = op.create_table(
        "audit_leaves",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    tiles = op.create_table(
        "audit_tiles",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )
    tree = op.create_table(
        "audit_tree",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("compact", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    connection = op.get_bind()
    slugs = {int(i): str(s) for i, s in connection.execute(sa.select(_agencies.c.id, _agencies.c.slug))}
    state = TreeState.empty()
    pending: dict[tuple[int, int], bytes] = {}  # partial tiles, written at the end in their final form
    after = 0
    while True:
        rows = [
            dict(r._mapping)
            for r in connection.execute(
                sa.select(_entries).where(_entries.c.seq > after).order_by(_entries.c.seq).limit(_BATCH)
            )
        ]
        if not rows:
            break
        batch: list[dict[str, Any]] = []
        gap = False
        for row in rows:
            if int(row["seq"]) != state.size + len(batch) + 1:
                # A damaged log (an entry missing): the tree stops before the gap. The store still opens, so
                # `audit verify` can name the gap; appends are refused until the log is repaired (the tree must
                # hold exactly the chain).
                gap = True
                break
            salt = os.urandom(32)
            agency = slugs.get(row["actor_agency_id"]) if row["actor_agency_id"] is not None else None
            batch.append({"seq": row["seq"], "data": leaf_of(split(row, agency), salt), "salt": salt})
        if batch:
            op.bulk_insert(leaves, batch)
        state, writes = state.grow(merkle.leaf_hash(b["data"]) for b in batch)
        full = [{"level": w.level, "idx": w.index, "hashes": w.hashes} for w in writes if len(w.hashes) == _FULL]
        if full:
            op.bulk_insert(tiles, full)  # a full tile never changes again
        for w in writes:
            pending.pop((w.level, w.index), None)
            if len(w.hashes) != _FULL:
                pending[(w.level, w.index)] = w.hashes
        after = int(rows[-1]["seq"])
        if gap:
            break
    if pending:
        op.bulk_insert(tiles, [{"level": lv, "idx": ix, "hashes": h} for (lv, ix), h in sorted(pending.items())])
    op.bulk_insert(tree, [{"id": 1, "size": state.size, "compact": b"".join(state.compact)}])


def downgrade() -> None:
    op.drop_table("audit_tree")
    op.drop_table("audit_tiles")
    op.drop_table("audit_leaves")

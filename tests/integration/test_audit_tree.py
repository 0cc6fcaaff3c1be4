"""The audit log's Merkle tree in the governance store (plateledger.audit.tree), on SQLite and PostgreSQL: leaves,
hash tiles and the compact range are appended with the entries, proofs from the stored tiles verify, and an
upgraded data directory gets the tree of its existing entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from plateledger.audit.events import AgencyCreated, AuditEvent, PlateSearched
from plateledger.audit.log import GENESIS, SYSTEM, Actor, AuditLog, entry_hash
from plateledger.core.clock import FixedClock
from plateledger.platform import Platform
from plateledger.store.governance import Governance, make_engine, migrate
from plateledger_verify import leaf, merkle, tiles
from tests.support import NOW_MS


def leaf_rows(platform: Platform | Governance) -> list[tuple[int, bytes, bytes | None]]:
    gov = platform.governance if isinstance(platform, Platform) else platform
    with gov.engine.connect() as connection:
        rows = connection.execute(text("SELECT seq, data, salt FROM audit_leaves ORDER BY seq"))
        return [(int(s), bytes(d), bytes(t) if t is not None else None) for s, d, t in rows]


def check_tree(log: AuditLog, gov: Governance, entries: int) -> None:
    """The stored tree is the RFC 6962 tree of the stored leaves, tile by tile, and proofs from it verify."""
    leaves = leaf_rows(gov)
    assert [s for s, _, _ in leaves] == list(range(1, entries + 1))
    hashes = [merkle.leaf_hash(d) for _, d, _ in leaves]
    size, root = log.tree.head()
    assert (size, root) == (entries, merkle.root_of_leaf_hashes(hashes) if hashes else merkle.EMPTY_ROOT)
    nodes: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange()
    for h in hashes:
        nodes.update(((n.level, n.index), n.hash) for n in compact.append(h))
    for ref in tiles.tiles_for_size(size, entries=True):
        if ref.is_entries:
            bundle = log.tree.bundle(ref.index, ref.width)
            assert bundle is not None
            tile = log.tree.tile(0, ref.index, ref.width)
            assert tile is not None
            tiles.check_bundle(tiles.decode_bundle(bundle, ref.width), tiles.split_hashes(tile, ref.width))
            continue
        assert ref.level is not None
        assert log.tree.tile(ref.level, ref.index, ref.width) == tiles.tile_hashes_from_nodes(
            ref, lambda lv, ix: nodes[(lv, ix)]
        )
        if ref.is_partial:
            assert log.tree.tile(ref.level, ref.index, ref.width + 1) is None
    for index in {0, 1, size // 2, size - 1} if size else set():
        proof = log.tree.inclusion_proof(index, size)
        merkle.verify_inclusion(index, size, hashes[index], proof, root)
    for old in {1, 255, 256, 257, size // 3} if size else set():
        if 0 < old <= size:
            old_root = merkle.root_of_leaf_hashes(hashes[:old])
            merkle.verify_consistency(old, size, log.tree.consistency_proof(old, size), old_root, root)


def test_leaves_tiles_and_tree_grow_with_the_entries(gov_platform: Platform) -> None:
    log = gov_platform.audit
    check_tree(log, gov_platform.governance, 0)
    search = PlateSearched(purpose="stolen_vehicle", case_number="C-9", query={"plate": "ABC123"}, per_owner={})
    for i in range(300):
        log.append(Actor("ofc", None, user_id=1), search if i % 2 else AgencyCreated(slug=f"a{i}", kind="county"))
    # A batch (several entries in one transaction) crosses a tile boundary.
    log.record_all(SYSTEM, lambda _s: ([AgencyCreated(slug=f"b{i}", kind="county") for i in range(250)], None))
    check_tree(log, gov_platform.governance, 550)
    assert log.tree.tile(0, 2, 38) is not None
    assert log.tree.tile(0, 2, 39) is None
    assert log.tree.tile(1, 0, 2) is not None
    assert log.tree.tile(1, 0, 3) is None
    assert log.tree.bundle(2, 38) is not None
    assert log.tree.bundle(2, 39) is None
    assert log.tree.bundle(3, 1) is None
    for seq, data, salt in leaf_rows(gov_platform):
        parsed = leaf.parse_leaf(data)
        assert parsed.seq == seq
        assert salt is not None
        assert len(salt) == 32
        assert b"ABC123" not in data
        assert b"C-9" not in data
        assert b"ofc" not in data


def test_another_process_appending_and_a_failed_transaction_keep_one_tree(gov_platform: Platform) -> None:
    """Two logs on one store (two processes), and a change that fails after its entries were built: the tree
    each append continues from is always the committed one."""
    first = gov_platform.audit
    second = AuditLog(gov_platform.governance, gov_platform.clock)
    for i in range(40):
        (first if i % 3 else second).append(SYSTEM, AgencyCreated(slug=f"x{i}", kind="county"))

    def failing(_session: Any) -> tuple[list[AuditEvent], None]:
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        first.record_all(SYSTEM, failing)
    first.append(SYSTEM, AgencyCreated(slug="after", kind="county"))
    second.append(SYSTEM, AgencyCreated(slug="after2", kind="county"))
    check_tree(first, gov_platform.governance, 42)
    assert first.verify().intact


def test_proofs_beyond_the_tree_are_refused(platform: Platform) -> None:
    platform.audit.append(SYSTEM, AgencyCreated(slug="a", kind="county"))
    with pytest.raises(ValueError, match="holds 1 leaves"):
        platform.audit.tree.inclusion_proof(0, 2)


def test_an_upgraded_data_directory_gets_the_tree_of_its_entries(
    governance_url: str, data_dir: Path, clock: FixedClock
) -> None:
    """Entries written at revision 0007 get leaves (fresh salts), tiles and the tree from migration 0008; the log
    verifies and appends go on from there."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(governance_url)
    migrate(engine, "0007")
    prev = GENESIS
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO agencies (id, slug, name, kind, country, state, created_ms) VALUES (1, 'city', 'City', "
                 "'municipal', 'US', 'OR', 0)")
        )  # fmt: skip
        for seq in range(1, 301):
            old: dict[str, Any] = {
                "seq": seq,
                "ts_ms": NOW_MS + seq,
                "action": "search.plate",
                "actor_user_id": 7,
                "actor_username": "ofc",
                "actor_agency_id": 1,
                "purpose": "stolen_vehicle",
                "case_number": "C-1",
                "outcome": "ok",
                "params": '{"query":{"plate":"ABC123"},"withheld":{},"withheld_others":null}',
                "counts": '{"per_owner":{"city":2}}',
                "prev_hash": prev,
            }
            prev = entry_hash(old)
            columns = ", ".join([*old, "hash"])
            values = ", ".join(":" + c for c in [*old, "hash"])
            connection.execute(text(f"INSERT INTO audit_log ({columns}) VALUES ({values})"), {**old, "hash": prev})
        connection.execute(text("UPDATE audit_head SET seq = 300, hash = :hash WHERE id = 1"), {"hash": prev})
    engine.dispose()
    governance = Governance(governance_url)  # upgrades to the newest revision
    try:
        log = AuditLog(governance, clock)
        check_tree(log, governance, 300)
        first = leaf.parse_leaf(leaf_rows(governance)[0][1]).public
        assert (first["agency"], first["per_owner"], first["action"]) == ("city", {"city": 2}, "search.plate")
        assert log.verify().intact
        log.append(SYSTEM, AgencyCreated(slug="d", kind="county"))
        check_tree(log, governance, 301)
        assert log.verify().intact
    finally:
        governance.close()

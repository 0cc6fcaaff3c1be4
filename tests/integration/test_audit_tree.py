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
from plateledger.core.errors import AuditUnavailable
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


def write_0007_log(governance_url: str, seqs: list[int]) -> None:
    """Entries written the way revision 0007 did (no leaves), by one user of agency ``city``."""
    engine = make_engine(governance_url)
    migrate(engine, "0007")
    prev = GENESIS
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO agencies (id, slug, name, kind, country, state, created_ms) VALUES (1, 'city', 'City', "
                 "'municipal', 'US', 'OR', 0)")
        )  # fmt: skip
        for seq in seqs:
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
        connection.execute(
            text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"), {"seq": seqs[-1], "hash": prev}
        )
    engine.dispose()


def test_an_upgraded_damaged_log_still_opens_and_verify_names_the_gap(
    governance_url: str, data_dir: Path, clock: FixedClock
) -> None:
    """A log with a gap gets a tree up to the gap; it opens (so verify can say where), and appends are refused
    (the tree must hold exactly the chain)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    write_0007_log(governance_url, [1, 2, 4, 5])
    governance = Governance(governance_url)
    try:
        log = AuditLog(governance, clock)
        assert log.tree.size() == 2
        result = log.verify()
        assert (result.intact, result.first_bad_seq) == (False, 3)
        with pytest.raises(AuditUnavailable, match="audit tree holds 2 leaves, the chain 5"):
            log.append(SYSTEM, AgencyCreated(slug="d", kind="county"))
    finally:
        governance.close()


def test_an_upgraded_data_directory_gets_the_tree_of_its_entries(
    governance_url: str, data_dir: Path, clock: FixedClock
) -> None:
    """Entries written at revision 0007 get leaves (fresh salts), tiles and the tree from migration 0008; the log
    verifies and appends go on from there."""
    data_dir.mkdir(parents=True, exist_ok=True)
    write_0007_log(governance_url, list(range(1, 301)))
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


# --- audit verify checks the leaves and the tree -----------------------------------------------------------------


def tamper(platform: Platform, sql: str, **params: Any) -> None:
    with platform.governance.engine.begin() as connection:
        connection.execute(text(sql), params)


def filled(platform: Platform, entries: int = 300) -> None:
    search = PlateSearched(purpose="stolen_vehicle", case_number="C-1", query={"plate": "ABC123"}, per_owner={"a": 1})
    for i in range(entries):
        platform.audit.append(Actor("ofc", None, user_id=1), search if i % 2 else AgencyCreated(slug=f"a{i}"))
    assert platform.audit.verify().intact


def broken_at(platform: Platform, seq: int, problem: str) -> None:
    result = platform.audit.verify()
    assert (result.intact, result.first_bad_seq) == (False, seq), result
    assert problem in result.problem, result


def leaf_data(platform: Platform, seq: int) -> bytes:
    return next(d for s, d, _ in leaf_rows(platform) if s == seq)


def test_an_edited_leaf_is_detected(gov_platform: Platform) -> None:
    filled(gov_platform)
    data = leaf_data(gov_platform, 8)
    forged = data.replace(b'"per_owner":{"a":1}', b'"per_owner":{"a":9}')
    assert forged != data
    tamper(gov_platform, "UPDATE audit_leaves SET data = :d WHERE seq = 8", d=forged)
    broken_at(gov_platform, 8, "leaf's public part does not match the entry")


def test_an_edited_leaf_is_detected_after_its_salt_was_deleted(gov_platform: Platform) -> None:
    filled(gov_platform)
    tamper(gov_platform, "UPDATE audit_leaves SET salt = NULL")
    assert gov_platform.audit.verify().intact  # the leaf stays valid without its salt
    forged = leaf_data(gov_platform, 8).replace(b'"hour":', b'"hour":1')
    tamper(gov_platform, "UPDATE audit_leaves SET data = :d WHERE seq = 8", d=forged)
    broken_at(gov_platform, 8, "leaf")


def test_a_missing_leaf_is_detected(gov_platform: Platform) -> None:
    filled(gov_platform)
    tamper(gov_platform, "DELETE FROM audit_leaves WHERE seq = 100")
    broken_at(gov_platform, 100, "leaf missing")


def test_a_salt_that_does_not_open_the_commitment_is_detected(gov_platform: Platform) -> None:
    filled(gov_platform)
    tamper(gov_platform, "UPDATE audit_leaves SET salt = :s WHERE seq = 12", s=bytes(32))
    broken_at(gov_platform, 12, "leaf commitment does not match the entry's private part and salt")


def test_an_edited_tile_is_detected(gov_platform: Platform) -> None:
    filled(gov_platform)
    with gov_platform.governance.engine.connect() as connection:
        tile = bytes(
            connection.execute(text("SELECT hashes FROM audit_tiles WHERE level = 0 AND idx = 0")).scalar_one()
        )
    forged = tile[: 5 * 32] + bytes(32) + tile[6 * 32 :]
    tamper(gov_platform, "UPDATE audit_tiles SET hashes = :h WHERE level = 0 AND idx = 0", h=forged)
    broken_at(gov_platform, 6, "stored tile 0/0 disagrees")


def test_a_level_one_tile_edited_is_detected(gov_platform: Platform) -> None:
    filled(gov_platform)
    tamper(gov_platform, "UPDATE audit_tiles SET hashes = :h WHERE level = 1 AND idx = 0", h=bytes(32))
    broken_at(gov_platform, 1, "stored tile 1/0 disagrees")


def test_a_tree_moved_back_is_detected(gov_platform: Platform) -> None:
    filled(gov_platform)
    size, _ = gov_platform.audit.tree.head()
    compact = b"".join(merkle.CompactRange.from_reader(size - 1, lambda lv, ix: bytes(32)).hashes)
    tamper(gov_platform, "UPDATE audit_tree SET size = :s, compact = :c WHERE id = 1", s=size - 1, c=compact)
    broken_at(gov_platform, size, "audit tree holds 299 leaves, the chain 300")


def test_a_tree_root_replaced_is_detected(gov_platform: Platform) -> None:
    filled(gov_platform)
    with gov_platform.governance.engine.connect() as connection:
        compact = bytes(connection.execute(text("SELECT compact FROM audit_tree")).scalar_one())
    tamper(gov_platform, "UPDATE audit_tree SET compact = :c", c=compact[:-32] + bytes(32))
    broken_at(gov_platform, 297, "stored root does not match")


def test_leaves_and_tiles_beyond_the_tree_are_detected(gov_platform: Platform) -> None:
    filled(gov_platform)
    tamper(gov_platform, "INSERT INTO audit_tiles (level, idx, hashes) VALUES (0, 5, :h)", h=bytes(32))
    broken_at(gov_platform, 5 * 256 + 1, "lies beyond the tree")
    tamper(gov_platform, "DELETE FROM audit_tiles WHERE idx = 5")
    tamper(gov_platform, "INSERT INTO audit_leaves (seq, data) VALUES (301, :d)", d=leaf_data(gov_platform, 300))
    broken_at(gov_platform, 301, "leaf beyond the chain head")


def test_a_chain_break_is_reported_before_the_leaf_it_also_breaks(gov_platform: Platform) -> None:
    filled(gov_platform, 5)
    tamper(gov_platform, "UPDATE audit_log SET outcome = 'refused' WHERE seq = 3")
    broken_at(gov_platform, 3, "entry content does not match its hash")

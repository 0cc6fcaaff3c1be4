"""The audit log is hash-chained and fails closed (invariants 2 and 3), on SQLite and PostgreSQL.

Tampering is done the way an attacker with database access would: raw SQL on the governance database,
through SQLAlchemy on both engines and, for SQLite, also with the ``sqlite3`` module on the file itself.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from plateledger.audit.events import AgencyCreated, PlateSearched, SearchRefused
from plateledger.audit.log import GENESIS, SYSTEM, Actor, AuditLog, entry_hash
from plateledger.core.clock import FixedClock
from plateledger.core.errors import AuditUnavailable, AuthenticationFailed
from plateledger.platform import Platform
from plateledger.store.governance import Governance, make_engine, migrate
from tests.support import NOW_MS, in_threads, ingest, read, search, seed_agency

Statement = tuple[str, dict[str, Any]]

# Both engines through SQLAlchemy; SQLite also through the stdlib driver on the file.
TAMPER_PATHS = [
    pytest.param("sqlite", "sqlalchemy", id="sqlite-sqlalchemy"),
    pytest.param("sqlite", "sqlite3", id="sqlite-stdlib"),
    pytest.param("postgresql", "sqlalchemy", id="postgresql", marks=pytest.mark.postgres),
]
tamper_paths = pytest.mark.parametrize(("governance_url", "via"), TAMPER_PATHS, indirect=["governance_url"])

HASHED = (
    "seq",
    "ts_ms",
    "action",
    "actor_user_id",
    "actor_username",
    "actor_agency_id",
    "purpose",
    "case_number",
    "outcome",
    "params",
    "counts",
    "prev_hash",
)

INTEGERS = {"seq", "ts_ms", "actor_user_id", "actor_agency_id"}


def altered(value: str | None) -> str:
    """A different string of the same length (columns have length limits); "X" for an empty one."""
    if not value:
        return "X"
    return value[:-1] + ("Y" if value.endswith("X") else "X")


def fill(platform: Platform, entries: int = 5) -> None:
    """Append ``entries`` events of different kinds, one clock tick apart."""
    events = [
        AgencyCreated(slug="city", kind="municipal"),
        PlateSearched(purpose="stolen_vehicle", case_number="C-1", query={"plate": "ABC123"}),
        SearchRefused(reason="purpose: required", query={"plate": "XYZ"}),
    ]
    assert isinstance(platform.clock, FixedClock)
    for i in range(entries):
        platform.clock.advance(1000)
        platform.audit.append(SYSTEM, events[i % len(events)])


def execute(platform: Platform, via: str, *statements: Statement) -> None:
    """Run raw SQL in one transaction behind the library's back."""
    if via == "sqlite3":
        with closing(sqlite3.connect(platform.settings.data / "governance.db")) as db, db:
            for sql, params in statements:
                db.execute(sql, params)
        return
    with platform.governance.engine.begin() as connection:
        for sql, params in statements:
            connection.execute(text(sql), params)


def row(platform: Platform, seq: int) -> dict[str, Any]:
    with platform.governance.engine.connect() as connection:
        found = connection.execute(text("SELECT * FROM audit_log WHERE seq = :seq"), {"seq": seq})
        return dict(found.mappings().one())


def assert_broken_at(platform: Platform, seq: int, problem: str) -> None:
    result = platform.audit.verify()
    assert not result.intact
    assert result.first_bad_seq == seq, result
    assert problem in result.problem


def test_an_untouched_chain_verifies(gov_platform: Platform) -> None:
    assert gov_platform.audit.verify().intact
    assert gov_platform.audit.verify().entries == 0
    fill(gov_platform)
    result = gov_platform.audit.verify()
    assert (result.intact, result.entries, result.first_bad_seq) == (True, 5, None)
    entries = gov_platform.audit.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(entries))


@tamper_paths
def test_changing_any_hashed_field_is_detected(gov_platform: Platform, via: str) -> None:
    fill(gov_platform)
    original = row(gov_platform, 3)
    for column in HASHED:
        if column == "seq":
            continue  # renumbering is covered by the insertion and reordering tests
        value = original[column]
        forged: Any = (value or 0) + 1 if column in INTEGERS else altered(value)
        execute(gov_platform, via, (f"UPDATE audit_log SET {column} = :v WHERE seq = 3", {"v": forged}))
        result = gov_platform.audit.verify()
        assert (result.intact, result.first_bad_seq) == (False, 3), column
        execute(gov_platform, via, (f"UPDATE audit_log SET {column} = :v WHERE seq = 3", {"v": value}))
    assert gov_platform.audit.verify().intact


@tamper_paths
def test_changing_an_entry_and_its_hash_breaks_the_next_link(gov_platform: Platform, via: str) -> None:
    fill(gov_platform)
    entry = row(gov_platform, 3)
    entry["case_number"] = "NOT-THE-REAL-CASE"
    rehashed = entry_hash({k: entry[k] for k in HASHED})
    execute(
        gov_platform,
        via,
        (
            "UPDATE audit_log SET case_number = :case, hash = :hash WHERE seq = 3",
            {"case": "NOT-THE-REAL-CASE", "hash": rehashed},
        ),
    )
    assert_broken_at(gov_platform, 4, "previous-hash link broken")


@tamper_paths
@pytest.mark.parametrize(("deleted", "first_bad"), [(1, 1), (3, 3), (5, 5)], ids=["first", "middle", "last"])
def test_deleting_an_entry_is_detected(gov_platform: Platform, via: str, deleted: int, first_bad: int) -> None:
    fill(gov_platform)
    execute(gov_platform, via, ("DELETE FROM audit_log WHERE seq = :seq", {"seq": deleted}))
    result = gov_platform.audit.verify()
    assert (result.intact, result.first_bad_seq) == (False, first_bad), result


@tamper_paths
def test_deleting_the_newest_entries_is_detected_by_the_head(gov_platform: Platform, via: str) -> None:
    fill(gov_platform)
    execute(gov_platform, via, ("DELETE FROM audit_log WHERE seq >= 4", {}))
    assert_broken_at(gov_platform, 4, "chain head")


@tamper_paths
def test_inserting_a_forged_entry_with_renumbering_is_detected(gov_platform: Platform, via: str) -> None:
    fill(gov_platform)
    # Make room at seq 3 (highest first, so the primary key never collides) ...
    shifts = [("UPDATE audit_log SET seq = seq + 1 WHERE seq = :seq", {"seq": s}) for s in (5, 4, 3)]
    # ... and insert a well-formed entry chained to entry 2, then point the head at the new last entry.
    forged = {
        **{k: None for k in HASHED},
        "seq": 3,
        "ts_ms": NOW_MS + 2500,
        "action": "search.plate",
        "actor_username": "nobody",
        "outcome": "ok",
        "params": "{}",
        "counts": "{}",
        "prev_hash": row(gov_platform, 2)["hash"],
    }
    forged["hash"] = entry_hash({k: forged[k] for k in HASHED})
    columns = ", ".join(forged)
    insert = (f"INSERT INTO audit_log ({columns}) VALUES ({', '.join(':' + c for c in forged)})", forged)
    head = ("UPDATE audit_head SET seq = 6, hash = :hash", {"hash": row(gov_platform, 5)["hash"]})
    execute(gov_platform, via, *shifts, insert, head)

    # The forged entry itself chains correctly; the entry after it no longer does.
    assert_broken_at(gov_platform, 4, "previous-hash link broken")


@tamper_paths
def test_appending_a_forged_entry_is_detected_by_the_head(gov_platform: Platform, via: str) -> None:
    fill(gov_platform)
    forged = {**row(gov_platform, 5), "seq": 6, "prev_hash": row(gov_platform, 5)["hash"]}
    forged["hash"] = entry_hash({k: forged[k] for k in HASHED})
    columns = ", ".join(forged)
    execute(
        gov_platform,
        via,
        (f"INSERT INTO audit_log ({columns}) VALUES ({', '.join(':' + c for c in forged)})", forged),
    )
    assert_broken_at(gov_platform, 6, "chain head")


@tamper_paths
def test_reordering_two_entries_is_detected(gov_platform: Platform, via: str) -> None:
    fill(gov_platform)
    swap = [
        ("UPDATE audit_log SET seq = -2 WHERE seq = 2", {}),
        ("UPDATE audit_log SET seq = 2 WHERE seq = 3", {}),
        ("UPDATE audit_log SET seq = 3 WHERE seq = -2", {}),
    ]
    execute(gov_platform, via, *swap)
    assert_broken_at(gov_platform, 2, "previous-hash link broken")


@tamper_paths
def test_a_gap_in_the_sequence_is_detected(gov_platform: Platform, via: str) -> None:
    fill(gov_platform)
    execute(gov_platform, via, ("UPDATE audit_log SET seq = 9 WHERE seq = 5", {}))
    assert_broken_at(gov_platform, 5, "sequence 5 expected")


# -- fail closed -------------------------------------------------------------------------------------------------
def test_search_fails_closed_when_the_audit_log_cannot_be_written(gov_platform: Platform) -> None:
    kit = seed_agency(gov_platform, "city", roles=("investigator", "device"))
    assert ingest(gov_platform, kit, [read("ABC123", camera=kit.cameras[0])]).stored == 1
    assert len(search(gov_platform, kit.investigator, "ABC123").reads) == 1
    before = gov_platform.audit.verify().entries

    execute(gov_platform, "sqlalchemy", ("ALTER TABLE audit_log RENAME TO audit_log_gone", {}))
    outcome: list[Any] = []
    with pytest.raises(AuditUnavailable):
        outcome.append(search(gov_platform, kit.investigator, "ABC123"))
    assert outcome == []  # no result, hence no reads, reached the caller
    # A refusal that cannot be audited fails closed too (not as the refusal's own error).
    with pytest.raises(AuditUnavailable):
        search(gov_platform, kit.investigator, "ABC123", purpose=None)
    with pytest.raises(AuditUnavailable):
        gov_platform.tokens.authenticate("plt_not-a-token")

    execute(gov_platform, "sqlalchemy", ("ALTER TABLE audit_log_gone RENAME TO audit_log", {}))
    result = gov_platform.audit.verify()
    assert (result.intact, result.entries) == (True, before)  # the failed appends left nothing behind
    with pytest.raises(AuthenticationFailed):
        gov_platform.tokens.authenticate("plt_not-a-token")
    assert gov_platform.audit.verify().entries == before + 1


def test_ingest_stores_nothing_when_the_audit_log_cannot_be_written(gov_platform: Platform) -> None:
    kit = seed_agency(gov_platform, "city", roles=("device",))
    execute(gov_platform, "sqlalchemy", ("ALTER TABLE audit_log RENAME TO audit_log_gone", {}))
    with pytest.raises(AuditUnavailable):
        ingest(gov_platform, kit, [read("ABC123", camera=kit.cameras[0])])
    assert gov_platform.reads.count() == 0
    execute(gov_platform, "sqlalchemy", ("ALTER TABLE audit_log_gone RENAME TO audit_log", {}))
    # The batch was not half-applied: sending it again stores it (not a duplicate) and audits it.
    assert ingest(gov_platform, kit, [read("ABC123", camera=kit.cameras[0])]).stored == 1
    assert gov_platform.audit.entries(action="ingest.batch")


def test_concurrent_appends_keep_one_chain(gov_platform: Platform) -> None:
    fill(gov_platform, 1)
    errors: list[BaseException] = []

    def append_many() -> None:
        try:
            for _ in range(15):
                gov_platform.audit.append(SYSTEM, AgencyCreated(slug="x", kind="county"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = gov_platform.audit.verify()
    assert (result.intact, result.entries) == (True, 61)


@pytest.mark.postgres
def test_two_engines_on_one_postgres_database_keep_one_chain(postgres_url: str) -> None:
    """Two processes' worth of engines appending at once: the head row lock serialises them."""
    clock = FixedClock(NOW_MS)
    stores = [Governance(postgres_url), Governance(postgres_url)]
    try:
        logs = [AuditLog(store, clock) for store in stores]
        logs[0].append(SYSTEM, AgencyCreated(slug="first", kind="state"))

        def append_many(log: AuditLog) -> Callable[[], None]:
            def run() -> None:
                for _ in range(20):
                    log.append(SYSTEM, AgencyCreated(slug="x", kind="county"))

            return run

        errors = in_threads(*(append_many(log) for log in logs))
        assert errors == []
        result = logs[1].verify()
        assert (result.intact, result.entries) == (True, 41)
    finally:
        for store in stores:
            store.close()


def test_a_wiped_log_and_head_is_not_intact(platform: Platform) -> None:
    fill(platform)
    execute(platform, "sqlalchemy", ("DELETE FROM audit_log", {}), ("DELETE FROM audit_head", {}))
    result = platform.audit.verify()
    assert (result.intact, result.problem) == (False, "chain head missing")


def test_an_entry_beyond_the_head_is_detected(platform: Platform) -> None:
    fill(platform)
    forged = platform.audit.entries()[-1]
    execute(
        platform,
        "sqlalchemy",
        (
            "INSERT INTO audit_log (seq, ts_ms, action, outcome, params, counts, prev_hash, hash) "
            "VALUES (:seq, 0, 'search.plate', 'ok', '{}', '{}', :prev, :prev)",
            {"seq": forged.seq + 1, "prev": forged.hash},
        ),
    )
    result = platform.audit.verify()
    assert (result.intact, result.first_bad_seq) == (False, forged.seq + 1)


def test_verify_while_appending_never_reports_a_false_break(platform: Platform) -> None:
    fill(platform, 3)
    stop = threading.Event()

    def append() -> None:
        while not stop.is_set():
            platform.audit.append(SYSTEM, AgencyCreated(slug="x", kind="municipal"))

    writer = threading.Thread(target=append)
    writer.start()
    try:
        results = [platform.audit.verify() for _ in range(20)]
    finally:
        stop.set()
        writer.join()
    assert all(r.intact for r in results), [r for r in results if not r.intact]


# -- the client address (issue 15, defect 10) ---------------------------------------------------------------------


@tamper_paths
def test_the_client_address_is_covered_by_the_hash_when_set(gov_platform: Platform, via: str) -> None:
    fill(gov_platform, entries=2)
    gov_platform.audit.append(Actor("web-user", None, client="198.51.100.7"), AgencyCreated(slug="x", kind="county"))
    fill(gov_platform, entries=1)
    assert gov_platform.audit.verify().intact
    for seq, forged in ((3, "198.51.100.8"), (3, None), (2, "198.51.100.7")):
        original = row(gov_platform, seq)["client"]
        execute(gov_platform, via, ("UPDATE audit_log SET client = :v WHERE seq = :seq", {"v": forged, "seq": seq}))
        assert_broken_at(gov_platform, seq, "entry content does not match its hash")
        execute(gov_platform, via, ("UPDATE audit_log SET client = :v WHERE seq = :seq", {"v": original, "seq": seq}))
    assert gov_platform.audit.verify().intact


def test_entries_written_before_the_client_column_still_verify_after_the_upgrade(
    governance_url: str, data_dir: Path, clock: FixedClock
) -> None:
    """A log written at revision 0006 (no client column: raw rows hashed the old way) is upgraded to the client
    column, verifies, and goes on verifying with entries that record a client."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(governance_url)
    migrate(engine, "0006")
    prev = GENESIS
    with engine.begin() as connection:
        for seq in (1, 2, 3):
            old = {k: None for k in HASHED} | {
                "seq": seq,
                "ts_ms": NOW_MS + seq,
                "action": "agency.created",
                "actor_username": "system",
                "outcome": "ok",
                "params": f'{{"kind":"county","slug":"c{seq}"}}',
                "counts": "{}",
                "prev_hash": prev,
            }
            prev = entry_hash(old)
            columns = ", ".join([*old, "hash"])
            values = ", ".join(":" + c for c in [*old, "hash"])
            connection.execute(text(f"INSERT INTO audit_log ({columns}) VALUES ({values})"), {**old, "hash": prev})
        connection.execute(text("UPDATE audit_head SET seq = 3, hash = :hash WHERE id = 1"), {"hash": prev})
    engine.dispose()
    governance = Governance(governance_url)  # upgrades to the newest revision
    try:
        log = AuditLog(governance, clock)
        assert (log.verify().intact, log.verify().entries) == (True, 3)
        log.append(Actor("web-user", None, client="2001:db8::1"), AgencyCreated(slug="d", kind="county"))
        log.append(SYSTEM, AgencyCreated(slug="e", kind="county"))
        assert (log.verify().intact, log.verify().entries) == (True, 5)
        assert [e.client for e in log.entries()] == [None, None, None, "2001:db8::1", None]
    finally:
        governance.close()

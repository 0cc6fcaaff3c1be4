"""A data directory made before the area-search projection (or with an earlier one) gets the current one when
opened, and answers the same."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from chdb import session as _chdb_session

from plateledger.policy.gate import Book, Gate, Owner, Request
from plateledger.policy.rules import DEFAULT
from plateledger.store import sql
from plateledger.store.queries import AreaQuery
from plateledger.store.reads import BatchResult, ReadsStore
from plateledger.vocab import QueryKind, Role
from tests.support import HOUR_MS, NOW_MS, store_block

chdb_session: Any = _chdb_session

#: The columns of the first release (before ``source_ts`` and ``source_confidence``).
FIRST_COLUMNS = """
        plate_key   String CODEC(ZSTD(3)),
        plate       String CODEC(ZSTD(3)),
        ts          DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3)),
        owner       UInt32 CODEC(ZSTD(3)),
        camera      LowCardinality(String),
        plate_raw   String CODEC(ZSTD(3)),
        read_id     String CODEC(ZSTD(3)),
        region      LowCardinality(String),
        lat         Float32 CODEC(ZSTD(3)),
        lon         Float32 CODEC(ZSTD(3)),
        confidence  Float32 CODEC(ZSTD(3)),
        make        LowCardinality(String),
        model       LowCardinality(String),
        color       LowCardinality(String),
        vtype       LowCardinality(String),
        direction   Float32 CODEC(ZSTD(3)),
        source      LowCardinality(String),
        ingest_ts   DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3))"""
#: The reads table as the first release created it: no projection, no lightweight-delete setting, no raw columns.
OLD_READS = f"CREATE TABLE reads ({FIRST_COLUMNS}) ENGINE = MergeTree ORDER BY (plate_key, plate, ts)"
#: The reads table with the area projection of issue 3 (every column ordered by time).
TIME_PROJECTION_READS = (
    f"CREATE TABLE reads ({FIRST_COLUMNS}, PROJECTION reads_by_time (SELECT * ORDER BY ts)) "
    "ENGINE = MergeTree ORDER BY (plate_key, plate, ts)"
)


@pytest.mark.parametrize("ddl", [OLD_READS, TIME_PROJECTION_READS], ids=["no-projection", "time-projection"])
def test_an_old_reads_table_gets_the_projection_and_answers_the_same(tmp_path: Path, ddl: str) -> None:
    path = tmp_path / "reads"
    old = chdb_session.Session(str(path))
    old.query(ddl)
    old.query(
        "INSERT INTO reads (plate_key, plate, ts, owner, camera, read_id, lat, lon) SELECT 'ABC123', 'ABC123', "
        f"fromUnixTimestamp64Milli(toInt64({NOW_MS - HOUR_MS} + number), 'UTC'), 1, 'cam', "
        "concat('r', toString(number)), 37.7749, -122.4194 FROM numbers(10)"
    )
    old.close()
    assert sql.AREA_PROJECTION_NAME not in sql.OLD_AREA_PROJECTIONS

    store = ReadsStore(path)
    try:
        names = store._rows("SELECT name FROM system.projections WHERE table = 'reads'")
        assert names == [[sql.AREA_PROJECTION_NAME]]
        deadline = time.monotonic() + 60
        while store._scalar("SELECT count() FROM system.mutations WHERE table = 'reads' AND NOT is_done"):
            assert time.monotonic() < deadline, "MATERIALIZE PROJECTION did not finish"
            time.sleep(0.2)
        projected = (
            "SELECT sum(rows) FROM system.projection_parts WHERE table = 'reads' AND active "
            f"AND name = '{sql.AREA_PROJECTION_NAME}'"
        )
        assert int(store._scalar(projected)) == 10
        request = Request(
            agency_id=1,
            agency_kind="municipal",
            country="US",
            state="CA",
            role=Role.INVESTIGATOR,
            purpose="stolen_vehicle",
            case_number="C-1",
            query_kind=QueryKind.AREA,
            since_ms=NOW_MS - 2 * HOUR_MS,
            now_ms=NOW_MS,
            radius_m=100,
            window_ms=2 * HOUR_MS,
        )
        permit = Gate().permit(request, Book(1, [Owner(1, "city", "City PD")], {}, {}, DEFAULT))
        query = AreaQuery(since_ms=NOW_MS - 2 * HOUR_MS, until_ms=NOW_MS, lat=37.7749, lon=-122.4194, radius_m=100)
        assert [r.read_id for r in store.area_reads(permit, query)] == [f"r{i}" for i in range(10)]
        # Deleting (as retention will) never leaves a deleted read visible through the projection: a mutation
        # rewrites the part and its projection; a lightweight delete drops the projection of the parts it touches.
        store._query("ALTER TABLE reads DELETE WHERE read_id = 'r0' SETTINGS mutations_sync = 1")
        assert [r.read_id for r in store.area_reads(permit, query)] == [f"r{i}" for i in range(1, 10)]
        assert int(store._scalar(projected)) == 9
        store._query("DELETE FROM reads WHERE read_id = 'r1'")
        assert [r.read_id for r in store.area_reads(permit, query)] == [f"r{i}" for i in range(2, 10)]
    finally:
        store.close()


def ingest(store: ReadsStore, block: bytes) -> BatchResult:
    """``block`` (JSON lines) through the store's ingest path as owner 1, at camera ``cam``."""
    return store_block(store, block)


def test_an_old_reads_table_gets_the_source_columns_and_stores_them(tmp_path: Path) -> None:
    path = tmp_path / "reads"
    old = chdb_session.Session(str(path))
    old.query(OLD_READS)
    old.query(
        "INSERT INTO reads (plate_key, plate, ts, owner, camera, read_id, lat, lon) VALUES "
        f"('ABC123', 'ABC123', fromUnixTimestamp64Milli(toInt64({NOW_MS - HOUR_MS}), 'UTC'), 1, 'cam', 'old', 1, 2)"
    )
    old.close()

    store = ReadsStore(path)
    try:
        columns = dict(store._rows("SELECT name, type FROM system.columns WHERE table = 'reads'"))
        assert columns["source_ts"] == "String"
        assert columns["source_confidence"] == "LowCardinality(String)"
        result = ingest(
            store,
            b'{"plate": "ABC123", "ts": %d, "camera": "cam", "read_id": "new", '
            b'"source_ts": "2025/06/01 11:00:00", "source_confidence": "93.5"}' % (NOW_MS - HOUR_MS + 1),
        )
        assert (result.stored, result.rejected) == (1, [])
        rows = store._rows("SELECT read_id, source_ts, source_confidence FROM reads ORDER BY read_id")
        assert rows == [["new", "2025/06/01 11:00:00", "93.5"], ["old", "", ""]]
        # Opening again is a no-op for the columns (ADD COLUMN IF NOT EXISTS).
        store.close()
        store = ReadsStore(path)
        assert store.count() == 2
    finally:
        store.close()


#: ``read_keys`` as releases before the small granules made it (ClickHouse's default granularity).
OLD_READ_KEYS = (
    "CREATE TABLE read_keys (owner UInt32, key UInt64 CODEC(Delta, ZSTD(3))) ENGINE = MergeTree ORDER BY (owner, key)"
)

KEY_PARTS = (
    "SELECT groupArray(name) FROM (SELECT name FROM system.parts WHERE active AND table = 'read_keys' ORDER BY name)"
)


def test_old_read_keys_are_rebuilt_with_small_granules_and_still_find_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "reads"
    block = b"\n".join(
        b'{"plate": "ABC%d", "ts": %d, "camera": "cam"%s}'
        % (i, NOW_MS - HOUR_MS + i, b', "read_id": "r%d"' % i if i % 2 else b"")
        for i in range(100)
    )

    def counts(store: ReadsStore) -> tuple[int, int]:
        result = ingest(store, block)
        return result.stored, result.duplicates

    store = ReadsStore(path)
    assert counts(store) == (100, 0)
    store._query("DROP TABLE read_keys SYNC")
    store._query(OLD_READ_KEYS)
    store._query(f"INSERT INTO read_keys SELECT owner, {sql.READ_KEY} FROM reads")
    assert f"index_granularity = {sql.READ_KEYS_GRANULARITY}," not in store._engine("read_keys")
    store.close()

    store = ReadsStore(path)
    try:
        engine = store._engine("read_keys")
        assert f"index_granularity = {sql.READ_KEYS_GRANULARITY}," in engine
        for name, value in sql.TABLE_SETTINGS.items():
            assert f" {name} = {value}" in engine, name
        assert int(store._scalar("SELECT count() FROM read_keys")) == 100
        assert counts(store) == (0, 100)
        # Opening again keeps the table: no second rebuild (which would write fresh, unmerged parts).
        store._query("OPTIMIZE TABLE read_keys FINAL")
        merged = store._scalar(KEY_PARTS)
        assert all(not name.endswith("_0") for name in merged), merged
        store.close()
        store = ReadsStore(path)
        assert store._scalar(KEY_PARTS) == merged
    finally:
        store.close()


#: Every column of the old table, in a stable order, with the floats and times as exact integers.
ALL_VALUES = (
    f"SELECT {sql.STORED_COLUMNS.replace('ts, ', 'toUnixTimestamp64Milli(ts), ', 1)}, reinterpretAsUInt32(lat), "
    "reinterpretAsUInt32(lon), reinterpretAsUInt32(confidence), reinterpretAsUInt32(direction) "
    "FROM reads ORDER BY read_id"
)


MODIFIED = (
    "SELECT name, metadata_modification_time FROM system.tables WHERE database = currentDatabase() "
    "AND name IN ('reads', 'read_keys') ORDER BY name"
)


def test_old_tables_get_the_compression_codecs_in_place_and_answer_the_same(tmp_path: Path) -> None:
    path = tmp_path / "reads"
    old = chdb_session.Session(str(path))
    old.query(OLD_READS)
    # The keys as the release before this one made them: small granules, the key Delta and ZSTD only.
    old.query(f"{OLD_READ_KEYS} SETTINGS index_granularity = {sql.READ_KEYS_GRANULARITY}")
    old.query(
        "INSERT INTO reads (plate_key, plate, ts, owner, camera, read_id, lat, lon, confidence, direction, ingest_ts) "
        f"SELECT 'ABC123', 'ABC123', fromUnixTimestamp64Milli(toInt64({NOW_MS - HOUR_MS} + number * 7919), 'UTC'), "
        "1, concat('cam', toString(number % 3)), concat('r', leftPad(toString(number), 4, '0')), "
        "toFloat32(37.7749 + number % 3 / 1000), toFloat32(-122.4194), toFloat32((number * 37) % 1000 / 1000), "
        f"toFloat32(number % 360), fromUnixTimestamp64Milli(toInt64({NOW_MS}), 'UTC') FROM numbers(2000)"
    )
    old.query(f"INSERT INTO read_keys SELECT owner, {sql.READ_KEY} FROM reads")
    old.close()

    store = ReadsStore(path)
    try:
        assert store.keys_at_open == {}  # the keys were kept, not rebuilt
        before = store._rows(ALL_VALUES)
        for table, wanted in (
            ("reads", {name: sql.codec_of(kind) for name, kind in sql.READS_COLUMN_TYPES.items()}),
            ("read_keys", sql.READ_KEYS_CODECS),
        ):
            stored = dict(store._rows(f"SELECT name, compression_codec FROM system.columns WHERE table = '{table}'"))
            assert all(sql.same_codec(stored[name], codec) for name, codec in wanted.items()), (table, stored)
            engine = store._engine(table)
            for name, value in sql.COMPRESSION.items():
                assert f" {name} = {value}" in engine, (table, name)
        assert stored["key"] == "CODEC(Delta(8), T64, ZSTD(3))"
        # A codec change is metadata: no mutation rewrites the stored parts (the projection's build is one).
        mutations = store._rows("SELECT command FROM system.mutations WHERE table IN ('reads', 'read_keys')")
        assert [m for m in mutations if "PROJECTION" not in str(m[0])] == []
        # Merged with the new codecs (the adaptive choice runs in merges), every value is bit for bit the same.
        store._query("OPTIMIZE TABLE reads FINAL")
        assert store._rows(ALL_VALUES) == before
        modified = store._rows(MODIFIED)
        store.close()
        time.sleep(1.1)  # the modification time counts seconds
        # Opening again changes nothing.
        store = ReadsStore(path)
        assert store._rows(MODIFIED) == modified
        assert store._rows(ALL_VALUES) == before
    finally:
        store.close()

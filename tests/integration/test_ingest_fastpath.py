"""The ingest fast path (store/fastpath.py) must store exactly what the SQL validator stores.

Hypothesis generates batches of canonical reads — valid, invalid and borderline: ISO times in every accepted
form, numbers at the range limits, regions, unicode strings, wrong types. Each batch is ingested twice into one
real reads store: the lines as orjson encodes them (the fast path takes every batch whose lines it can all
vouch for) for owner 1, and the same lines with a leading space (a form the fast path leaves to SQL) for owner
2. The SQL validator is the definition of a valid read: the fast path must never accept a line SQL rejects, and
what both stored must be identical, column by column.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from plateledger.store import fastpath
from plateledger.store.cameras import CameraInfo
from plateledger.store.reads import ReadsStore
from plateledger.store.sql import STORED_COLUMNS

NOW_MS = 1_790_000_000_000
CAMERAS = (
    CameraInfo(external_id="cam-1", name="fixed", lat=37.5, lon=-122.25, mobile=False),
    CameraInfo(external_id="unit-7", name="car", lat=None, lon=None, mobile=True),
)
COMPARED = [c.strip() for c in STORED_COLUMNS.split(",") if c.strip() not in ("owner", "ingest_ts")]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadsStore]:
    reads = ReadsStore(Path(tmp_path_factory.mktemp("fastpath")) / "reads")
    yield reads
    reads.close()


@st.composite
def iso_times(draw: st.DrawFn) -> str:
    date = f"{draw(st.integers(1999, 2031)):04d}-{draw(st.integers(1, 12)):02d}-{draw(st.integers(1, 31)):02d}"
    clock = f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}"
    if draw(st.booleans()):
        clock += f":{draw(st.integers(0, 59)):02d}"
        if draw(st.booleans()):
            digits = draw(st.integers(1, 9))
            clock += draw(st.sampled_from(".,")) + str(draw(st.integers(0, 10**digits - 1))).zfill(digits)
    hours, minutes = draw(st.integers(0, 23)), draw(st.sampled_from([0, 30, 45]))
    zone = draw(
        st.sampled_from(
            ["Z", "z", f"+{hours:02d}", f"-{hours:02d}:{minutes:02d}", f"+{hours:02d}{minutes:02d}", "", "+25:00"]
        )
    )
    return date + draw(st.sampled_from("T ")) + clock + zone


def mostly(draw: st.DrawFn, usual: st.SearchStrategy[Any], unusual: st.SearchStrategy[Any]) -> Any:
    """A value from ``usual`` nine times in ten, else from ``unusual``: most generated reads are valid, so the
    fast path is exercised, and every field is sometimes wrong or at an edge."""
    # Hypothesis favours the ends of a range (0 and 9): the rare branch is a value from the middle.
    return draw(unusual if draw(st.integers(0, 9)) == 5 else usual)


wild = st.one_of(
    st.text(max_size=70),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.lists(st.integers(-5, 5), max_size=2),
)
strings = st.one_of(
    st.text(max_size=12), st.sampled_from(["", " ", "a\\b", 'q"q', "ı", "ß", "Ä" * 64, "x" * 64, "x" * 65])
)
numbers = st.one_of(
    st.floats(-200, 200, allow_nan=False),
    st.integers(-200, 200),
    st.sampled_from([90, 90.0, -90.0, 180, -180.0, 100, 100.5, 1, 1.0000001, 0, -0.0, 360, 360.1, 1e-7]),
)
edge_times = st.sampled_from(
    [946_684_800_000, 946_684_799_999, NOW_MS + 60_000, NOW_MS + 60_001, -1, 2**63 - 1, 1.5e12, "1790000000000"]
)


def optional(draw: st.DrawFn, read: dict[str, Any], field: str, usual: st.SearchStrategy[Any]) -> None:
    """Absent, null, usual or unusual."""
    choice = draw(st.integers(0, 9))
    if choice == 4:
        read[field] = None
    elif choice in (1, 2, 3, 9):
        read[field] = mostly(draw, usual, wild)


@st.composite
def reads(draw: st.DrawFn) -> dict[str, Any]:
    read: dict[str, Any] = {
        "plate": mostly(draw, st.from_regex(r"[A-Za-z0-9 \-·]{1,12}", fullmatch=True), st.one_of(strings, wild)),
        "ts": mostly(draw, st.one_of(st.integers(NOW_MS - 10**11, NOW_MS), iso_times()), st.one_of(edge_times, wild)),
        "camera": mostly(draw, st.sampled_from(["cam-1", "unit-7"]), st.sampled_from(["cam-2", "CAM-1", "", 7])),
    }
    if draw(st.integers(0, 30)) == 15:
        del read[draw(st.sampled_from(["plate", "ts", "camera"]))]
    optional(draw, read, "read_id", st.one_of(st.uuids().map(str), strings))
    regions = st.sampled_from(["ca", " us-ca ", "US-TX", "CAL", "u", "MX-CMX", "ı"])
    optional(draw, read, "region", st.one_of(regions, strings))
    if draw(st.booleans()):
        read["lat"] = mostly(draw, st.floats(-90, 90), numbers)
        read["lon"] = mostly(draw, st.floats(-180, 180), numbers)
        if draw(st.integers(0, 9)) == 5:
            del read[draw(st.sampled_from(["lat", "lon"]))]
    optional(draw, read, "confidence", st.one_of(st.floats(0, 100), numbers))
    if draw(st.booleans()):
        vehicle: dict[str, Any] = {}
        for field in ("make", "model", "color", "type"):
            optional(draw, vehicle, field, strings)
        optional(draw, vehicle, "direction", st.one_of(st.floats(0, 360), numbers))
        read["vehicle"] = mostly(draw, st.just(vehicle), st.sampled_from([[], "red", 1]))
    optional(draw, read, "source_ts", st.one_of(st.sampled_from(["1748775600.25", "10/24/2024 20:29:26"]), strings))
    optional(draw, read, "source_confidence", strings)
    if draw(st.integers(0, 9)) == 5:
        read["extra"] = draw(wild)
    return read


def stored(store: ReadsStore, owner: int) -> list[tuple[Any, ...]]:
    columns = ", ".join(f"toString({c})" if c != "ts" else "toUnixTimestamp64Milli(ts)" for c in COMPARED)
    return sorted(tuple(r) for r in store._rows(f"SELECT {columns} FROM reads WHERE owner = {owner}"))


_owners = iter(range(1, 1_000_000, 2))


def ingest(store: ReadsStore, block: bytes, owner: int) -> Any:
    return store.ingest_block(
        block,
        owner=owner,
        cameras=CAMERAS,
        country="US",
        now_ms=NOW_MS,
        future_tolerance_ms=60_000,
        max_read_bytes=4096,
        source="test",
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(reads(), min_size=1, max_size=20))
@example(batch=[{"plate": "A1", "ts": NOW_MS, "camera": "cam-1", "lat": -0.0, "lon": -0.0, "confidence": -0.0}])
@example(batch=[{"plate": "A2", "ts": NOW_MS, "camera": "unit-7", "vehicle": {"direction": -0.0}}])
def test_fast_path_stores_what_sql_stores(store: ReadsStore, batch: list[dict[str, Any]]) -> None:
    fast_owner = next(_owners)
    sql_owner = fast_owner + 1
    lines = [orjson.dumps(read) for read in batch]
    positions = fastpath.camera_positions(CAMERAS)
    vouched = [
        line
        for line in lines
        if fastpath.typed_row(
            line,
            owner=fast_owner,
            country="US",
            cameras=positions,
            earliest_ms=946_684_800_000,
            latest_ms=NOW_MS + 60_000,
            max_bytes=4096,
        )
        is not None
    ]
    if not vouched:
        return
    block = b"\n".join(vouched)
    staged = fastpath.staged_rows([(block, fast_owner, "US", "test", positions)], **LIMITS)
    assert staged is not None
    # An HTTP body's reads, typed as decoded from the body (not decoded again from their lines): the same rows.
    decoded = [orjson.loads(line) for line in vouched]
    assert fastpath.staged_rows([(block, fast_owner, "US", "test", positions)], **LIMITS, decoded=[decoded]) == staged
    fast = ingest(store, block, fast_owner)
    by_sql = ingest(store, b"\n".join(b" " + line for line in vouched), sql_owner)
    assert by_sql.rejected == [], "the fast path vouched for a line the SQL validator rejects"
    assert (fast.stored, fast.duplicates) == (by_sql.stored, by_sql.duplicates)
    assert_same(stored(store, fast_owner), stored(store, sql_owner))


LIMITS: dict[str, int] = {"now_ms": NOW_MS, "future_tolerance_ms": 60_000, "max_bytes": 4096}


def assert_same(fast: list[tuple[Any, ...]], by_sql: list[tuple[Any, ...]]) -> None:
    assert len(fast) == len(by_sql)
    for a, b in zip(fast, by_sql, strict=True):
        assert a == b, dict(zip(COMPARED, zip(a, b, strict=True), strict=True))


def test_fast_path_is_taken_for_live_traffic_and_not_for_hand_written_lines() -> None:
    positions = fastpath.camera_positions(CAMERAS)
    canonical = orjson.dumps({"plate": "7ABC123", "ts": NOW_MS, "camera": "cam-1"})
    spaced = b'{"plate": "7ABC123", "ts": 1790000000000, "camera": "cam-1"}'
    duplicate_key = b'{"plate":"7ABC123","plate":"8XYZ999","ts":1790000000000,"camera":"cam-1"}'
    for line, taken in ((canonical, True), (spaced, False), (duplicate_key, False)):
        staged = fastpath.staged_rows([(line, 1, "US", "test", positions)], **LIMITS)
        assert (staged is not None) is taken, line


def test_a_group_with_one_doubtful_line_goes_through_sql_whole(store: ReadsStore) -> None:
    owner = next(_owners)
    good = orjson.dumps({"plate": "GOOD1", "ts": NOW_MS, "camera": "cam-1"})
    bad = orjson.dumps({"plate": "BAD1", "ts": NOW_MS, "camera": "nowhere"})
    result = ingest(store, good + b"\n\n" + bad, owner)
    assert result.stored == 1
    assert result.rejected == [(2, "camera: not a camera registered to this agency")]


def test_iso_times_agree_with_the_sql_parser_at_the_edges() -> None:
    assert fastpath.iso_ms("2024-02-29T23:59:59.9999+00:00") == 1_709_251_199_999
    assert fastpath.iso_ms("2024-02-30T00:00:00Z") is None
    assert fastpath.iso_ms("2024-03-01 05:30:00,5+0530") == 1_709_251_200_500
    assert fastpath.iso_ms("2024-03-01T00:00:00Z\n") is None
    assert fastpath.iso_ms("2024-03-01T00:00:00") is None  # no zone: ambiguous, refused

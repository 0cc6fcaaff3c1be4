"""A returned read, from the engine's row to its JSON: ``stored_read`` (JSONCompact row to StoredRead),
``read_json`` and ``iso_ms``. These were rewritten for speed; the answers' bytes must not change."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from plateledger.core.clock import iso_ms
from plateledger.search.results import read_json
from plateledger.store.queries import READ_COLUMNS, StoredRead, stored_read, stored_reads

#: 1900-01-01 and 2200-01-01 UTC, in epoch ms: the span a stored read's time can take, and then some.
SPAN = (-2_208_988_800_000, 7_258_118_400_000)


def iso_ms_datetime(epoch_ms: int) -> str:
    """The formula ``iso_ms`` used before (through datetime)."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@given(st.integers(*SPAN))
@example(0)
@example(-1)
@example(-86_400_000)
@example(951_782_400_000)  # 2000-02-29
@example(1_764_633_599_999)  # the last millisecond of a day
def test_iso_ms_matches_datetime(epoch_ms: int) -> None:
    assert iso_ms(epoch_ms) == iso_ms_datetime(epoch_ms)


def test_iso_ms_shape() -> None:
    assert iso_ms(1_764_579_396_979) == "2025-12-01T08:56:36.979Z"
    assert iso_ms(-2_208_988_800_000) == "1900-01-01T00:00:00.000Z"


def row(**changes: Any) -> list[Any]:
    """A row of READ_COLUMNS as JSONCompact gives it (64-bit integers quoted)."""
    base = row_dict()
    base.update(changes)
    return list(base.values())


def row_keys() -> list[str]:
    return list(row_dict())


def row_dict() -> dict[str, Any]:
    return {
        "rid": "r-1",
        "plate": "ABC123",
        "plate_raw": "abc 123",
        "region": "US-CA",
        "ts": "1764579396979",
        "camera": "cam-1",
        "lat": 37.774929,
        "lon": -122.419416,
        "confidence": 0.91,
        "owner": 7,
        "make": "Toyota",
        "model": "Corolla",
        "color": "white",
        "vtype": "sedan",
        "direction": 270,
        "source_ts": "2025-12-01T00:56:36.979-08:00",
        "source_confidence": "91",
    }


def test_full_read() -> None:
    read = stored_read(row())
    assert isinstance(read, StoredRead)
    assert (read.ts_ms, read.owner, read.direction, read.lat) == (1_764_579_396_979, 7, 270.0, 37.774929)
    assert orjson.dumps(read_json(read, {7: "Bench PD"})) == (
        b'{"read_id":"r-1","plate":"ABC123","plate_as_read":"abc 123","region":"US-CA",'
        b'"ts":"2025-12-01T08:56:36.979Z","camera":"cam-1","lat":37.774929,"lon":-122.419416,"confidence":0.91,'
        b'"owner":"Bench PD","vehicle":{"make":"Toyota","model":"Corolla","color":"white","type":"sedan",'
        b'"direction":270.0},"source_ts":"2025-12-01T00:56:36.979-08:00","source_confidence":"91"}'
    )


def test_every_optional_field_empty() -> None:
    """NULL and NaN numbers become null, empty strings null, no vehicle field at all: null; an owner without a
    name is shown by its id."""
    for missing in (None, float("nan")):
        read = stored_read(
            row(
                region="",
                lat=missing,
                lon=missing,
                confidence=missing,
                make="",
                model="",
                color="",
                vtype="",
                direction=missing,
                source_ts="",
                source_confidence="",
            )
        )
        assert (read.lat, read.lon, read.confidence, read.direction) == (None, None, None, None)
        assert read_json(read, {}) == {
            "read_id": "r-1",
            "plate": "ABC123",
            "plate_as_read": "abc 123",
            "region": None,
            "ts": "2025-12-01T08:56:36.979Z",
            "camera": "cam-1",
            "lat": None,
            "lon": None,
            "confidence": None,
            "owner": "7",
            "vehicle": None,
            "source_ts": None,
            "source_confidence": None,
        }


def test_vehicle_with_only_some_fields() -> None:
    """A heading of 0 degrees is a heading; the vehicle keeps its field order whatever is missing."""
    only_direction = stored_read(row(make="", model="", color="", vtype="", direction=0))
    assert read_json(only_direction, {})["vehicle"] == {"direction": 0.0}
    some = stored_read(row(model="", vtype="", direction=None))
    assert list(orjson.loads(orjson.dumps(read_json(some, {})))["vehicle"]) == ["make", "color"]


def test_numbers_rounded_to_six_decimals() -> None:
    read = stored_read(row(lat=37.77492912345, lon=-122.4194161999, confidence=1))
    assert (read.lat, read.lon, read.confidence) == (37.774929, -122.419416, 1.0)


def test_reads_from_columns_equal_reads_from_rows() -> None:
    """``stored_reads`` (JSONCompactColumns, what the store now fetches) builds the same reads as ``stored_read``
    of each row, NaN, NULL and rounding included."""
    rows = [
        row(),
        row(lat=None, lon=None, confidence=None, direction=None, make="", source_ts=""),
        row(lat=37.77492912345, lon=-122.4194161999, confidence=1, ts="-1", owner=4294967295),
    ]
    columns = [list(column) for column in zip(*rows, strict=True)]
    assert stored_reads(columns) == [stored_read(r) for r in rows]
    assert all(type(read) is StoredRead for read in stored_reads(columns))
    assert stored_reads([]) == []
    assert stored_reads([[] for _ in rows[0]]) == []


def test_every_column_read_is_shown() -> None:
    """A search reads one granule of each column it selects from every active part (the engine's cost,
    docs/benchmarks.md, "Performance II, third pass"), so it selects only what an answer shows: changing any one
    column of a row changes the read's JSON (the ingest channel, ``source``, is stored but not selected)."""
    base = row()
    assert len(base) == len(StoredRead._fields)
    assert not re.search(r"\bsource\b", READ_COLUMNS)
    changed = {"ts": "1764579396980", "owner": 8, "lat": 1.5, "lon": 2.5, "confidence": 0.5, "direction": 90}
    shown = read_json(stored_read(base), {7: "Bench PD"})
    for index, key in enumerate(row_keys()):
        values = list(base)
        values[index] = changed.get(key, f"{values[index]}-changed")
        assert read_json(stored_read(values), {7: "Bench PD"}) != shown, key

"""Area search reads the ``reads_by_hour_place`` projection by hour: windows that start and end inside an hour, on
an hour, or a millisecond apart return exactly the reads of ``[since, until)``; and the plate as read comes back
whether or not it differs from the normalised plate (it is stored only where it differs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from plateledger.policy.gate import Book, Gate, Owner, Permit, Request
from plateledger.policy.rules import DEFAULT
from plateledger.store import sql
from plateledger.store.cameras import CameraInfo
from plateledger.store.queries import AreaQuery, PlateQuery, area_sql
from plateledger.store.reads import ReadsStore
from plateledger.vocab import QueryKind, Role
from tests.support import HOUR_MS, MINUTE_MS, NOW_MS

LAT, LON = 37.7749, -122.4194
#: One read every 7 min 13 s over five hours, so reads fall near every hour boundary.
STEP_MS = 7 * MINUTE_MS + 13_000
START_MS = NOW_MS - 5 * HOUR_MS
TIMES = list(range(START_MS, NOW_MS, STEP_MS))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadsStore]:
    store = ReadsStore(Path(tmp_path_factory.mktemp("hours")) / "reads")
    lines = [
        orjson.dumps({"plate": "7abc 123" if i % 2 else "7ABC123", "ts": ts, "camera": "cam", "read_id": f"r{i}"})
        for i, ts in enumerate(TIMES)
    ]
    # Exactly on an hour, and a millisecond either side of it.
    edge = NOW_MS - 2 * HOUR_MS
    lines += [
        orjson.dumps({"plate": "EDGE1", "ts": t, "camera": "cam", "read_id": f"e{t - edge}"})
        for t in (edge - 1, edge, edge + 1)
    ]
    result = store.ingest_block(
        b"\n".join(lines),
        owner=1,
        cameras=[CameraInfo("cam", "cam", False, LAT, LON)],
        country="US",
        now_ms=NOW_MS,
        future_tolerance_ms=0,
        max_read_bytes=16384,
        source="test",
    )
    assert (result.stored, result.rejected) == (len(lines), [])
    yield store
    store.close()


def permit(kind: QueryKind) -> Permit:
    request = Request(
        agency_id=1,
        agency_kind="municipal",
        country="US",
        state="CA",
        role=Role.INVESTIGATOR,
        purpose="stolen_vehicle",
        case_number="C-1",
        query_kind=kind,
        since_ms=START_MS - HOUR_MS,
        now_ms=NOW_MS,
        radius_m=500,
        window_ms=6 * HOUR_MS,
    )
    return Gate().permit(request, Book(1, [Owner(1, "city", "City PD")], {}, {}, DEFAULT))


EDGE = NOW_MS - 2 * HOUR_MS
WINDOWS = [
    (START_MS, NOW_MS),
    (START_MS + 1, NOW_MS - 1),
    (EDGE, EDGE + 1),
    (EDGE - 1, EDGE),
    (EDGE - 1, EDGE + 2),
    (EDGE - 17 * MINUTE_MS, EDGE + 3 * MINUTE_MS),
    (EDGE + 1, EDGE + HOUR_MS),
    (EDGE - HOUR_MS, EDGE),
    (EDGE - 2 * HOUR_MS + 12_345, EDGE + HOUR_MS + 54_321),
]


@pytest.mark.parametrize(("since", "until"), WINDOWS)
def test_windows_across_hours_return_exactly_their_reads(store: ReadsStore, since: int, until: int) -> None:
    every = store._rows(
        "SELECT toUnixTimestamp64Milli(ts) FROM reads WHERE owner = 1 SETTINGS optimize_use_projections = 0"
    )
    expected = sorted(int(t) for (t,) in every if since <= int(t) < until)
    query = AreaQuery(since_ms=since, until_ms=until, lat=LAT, lon=LON, radius_m=500)
    assert [r.ts_ms for r in store.area_reads(permit(QueryKind.AREA), query)] == expected


def test_the_planner_answers_an_area_query_from_the_projection_by_its_key(store: ReadsStore) -> None:
    """With enough reads (here 300,000 over 30 days at 300 places) the planner reads the projection, narrowed by
    its key to the window's hours and the box's latitude band: a few granules of the thousands in the store. They
    belong to owner 2, whom the other tests' permits never include."""
    store._query(
        "INSERT INTO reads (plate_key, plate, ts, owner, camera, lat, lon) SELECT p, p, "
        f"fromUnixTimestamp64Milli(toInt64({NOW_MS} - (number * 8640 + 7)), 'UTC'), 2, toString(number % 300), "
        "toFloat32(37 + (number % 300) / 100), toFloat32(-122) FROM numbers(300000) "
        "ARRAY JOIN [concat('P', toString(cityHash64(number) % 20000))] AS p"
    )
    store._query("OPTIMIZE TABLE reads FINAL")
    statement, params = area_sql(
        AreaQuery(since_ms=EDGE - 1, until_ms=EDGE + HOUR_MS, lat=37.5, lon=-122.0, radius_m=500), "owner = 2"
    )
    plan = "\n".join(str(row[0]) for row in store._rows(f"EXPLAIN indexes = 1 {statement}", params))
    assert f"ReadFromMergeTree ({sql.AREA_PROJECTION_NAME})" in plan
    keys = plan.split("PrimaryKey", 1)[1]
    assert "toStartOfHour(ts)" in keys
    granules = next(line for line in keys.splitlines() if "Granules:" in line)
    read, total = (int(x) for x in granules.split(":")[1].split("/"))
    assert read <= 4 < 30 <= total


def test_plate_as_read_comes_back_whether_or_not_it_differs(store: ReadsStore) -> None:
    stored = dict(store._rows("SELECT read_id, plate_raw FROM reads WHERE read_id IN ('r0', 'r1')"))
    assert stored == {"r0": "", "r1": "7abc 123"}  # kept only where it differs from the plate
    reads = store.plate_history(permit(QueryKind.PLATE), PlateQuery(plate="7ABC123"))
    assert {r.read_id: (r.plate, r.plate_raw) for r in reads if r.read_id in ("r0", "r1")} == {
        "r0": ("7ABC123", "7ABC123"),
        "r1": ("7ABC123", "7abc 123"),
    }
    area = store.area_reads(
        permit(QueryKind.AREA), AreaQuery(since_ms=START_MS, until_ms=NOW_MS, lat=LAT, lon=LON, radius_m=500)
    )
    assert {r.read_id: r.plate_raw for r in area if r.read_id in ("r0", "r1")} == {"r0": "7ABC123", "r1": "7abc 123"}

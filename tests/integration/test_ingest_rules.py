"""Every rule of the canonical read (store/sql.py ``parse_select``), through the real reads store.

All cases go into one batch on one store (ingest is the slow part): each rejected line must come back with
its index and a reason that names its field; each boundary value must be stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from plateledger.platform import Platform
from plateledger.store.reads import BatchResult
from tests.support import (
    HOUR_MS,
    MINUTE_MS,
    NOW_MS,
    AgencyKit,
    CameraSpec,
    line,
    module_platform,
    seed_agency,
)

FIXED = "rules-fixed"
TS = NOW_MS - HOUR_MS


def ok(**fields: Any) -> dict[str, Any]:
    return {"plate": "ABC123", "ts": TS, "camera": FIXED, **fields}


def without(key: str) -> dict[str, Any]:
    fields = ok()
    del fields[key]
    return fields


def vehicle(**fields: Any) -> dict[str, Any]:
    return ok(vehicle={"make": "Toyota", **fields})


def encode(value: dict[str, Any] | bytes) -> bytes:
    return value if isinstance(value, bytes) else orjson.dumps(value)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, AgencyKit]]:
    with module_platform(tmp_path_factory, "rules") as platform:
        kit = seed_agency(
            platform,
            "rules",
            roles=("device",),
            cameras=(CameraSpec(FIXED), CameraSpec("it's\\odd", 1.0, 2.0)),
        )
        yield platform, kit


def ingest_batch(store: tuple[Platform, AgencyKit], lines: list[bytes]) -> BatchResult:
    platform, kit = store
    return platform.ingest.store_lines(kit.device.actor, kit.agency, lines, channel="test", source="test")


# (bad read, field the reason must name, part of the rule). Dicts are JSON-encoded; bytes are sent as they are.
REJECTIONS = [
    pytest.param(without("plate"), "plate", "required", id="plate-missing"),
    pytest.param(ok(plate=None), "plate", "required", id="plate-null"),
    pytest.param(ok(plate=123), "plate", "must be a string", id="plate-number"),
    pytest.param(ok(plate=["ABC123"]), "plate", "must be a string", id="plate-array"),
    pytest.param(ok(plate="A" * 65), "plate", "longer than 64", id="plate-over-64-chars"),
    pytest.param(ok(plate="ABC-123-DEF-45"), "plate", "1-10", id="plate-11-after-normalising"),
    pytest.param(ok(plate=" -. "), "plate", "1-10", id="plate-empty-after-normalising"),
    pytest.param(without("ts"), "ts", "required", id="ts-missing"),
    pytest.param(ok(ts=True), "ts", "ISO 8601", id="ts-boolean"),
    pytest.param(ok(ts={"ms": TS}), "ts", "ISO 8601", id="ts-object"),
    pytest.param(ok(ts="2025-06-01T11:00:00"), "ts", "time zone", id="ts-zoneless"),
    pytest.param(ok(ts="2025-06-01 11:00"), "ts", "time zone", id="ts-zoneless-short"),
    pytest.param(ok(ts="yesterday"), "ts", "ISO 8601", id="ts-text"),
    pytest.param(ok(ts=str(TS)), "ts", "ISO 8601", id="ts-epoch-as-string"),
    pytest.param(ok(ts="1999-12-31T23:59:59.999Z"), "ts", "before 2000", id="ts-1999"),
    pytest.param(ok(ts=0), "ts", "before 2000", id="ts-epoch-zero"),
    pytest.param(ok(ts=-5), "ts", "before 2000", id="ts-negative"),
    pytest.param(ok(ts=NOW_MS + 5 * MINUTE_MS + 1), "ts", "future", id="ts-5min-1ms-ahead"),
    pytest.param(ok(ts="2025-06-01T12:06:00Z"), "ts", "future", id="ts-6min-ahead-iso"),
    pytest.param(ok(ts="2025-06-01T25:00:00Z"), "ts", "ISO 8601", id="ts-hour-25"),
    pytest.param(ok(ts="2025-02-31T10:00:00Z"), "ts", "ISO 8601", id="ts-february-31"),
    pytest.param(ok(ts="2025-06-01T1Z"), "ts", "ISO 8601", id="ts-hour-only"),
    pytest.param(ok(ts="2025-06-01T10:61:00Z"), "ts", "ISO 8601", id="ts-minute-61"),
    pytest.param(without("camera"), "camera", "required", id="camera-missing"),
    pytest.param(ok(camera=7), "camera", "must be a string", id="camera-number"),
    pytest.param(ok(camera="c" * 65), "camera", "longer than 64", id="camera-over-64"),
    pytest.param(ok(camera="nowhere-1"), "camera", "not a camera registered", id="camera-unknown"),
    pytest.param(ok(camera="RULES-FIXED"), "camera", "not a camera registered", id="camera-case"),
    pytest.param(ok(read_id=5), "read_id", "must be a string", id="read-id-number"),
    pytest.param(ok(read_id=""), "read_id", "must not be empty", id="read-id-empty"),
    pytest.param(ok(read_id="r" * 65), "read_id", "longer than 64", id="read-id-over-64"),
    pytest.param(ok(region="California"), "region", "ISO 3166-2", id="region-name"),
    pytest.param(ok(region="U-SCA"), "region", "ISO 3166-2", id="region-malformed"),
    pytest.param(ok(region=6), "region", "must be a string", id="region-number"),
    pytest.param(ok(lat="37.1", lon=-122.0), "lat", "must be a number", id="lat-string"),
    pytest.param(ok(lat=37.1, lon="-122"), "lon", "must be a number", id="lon-string"),
    pytest.param(ok(lat=37.1), "lat", "together", id="lat-without-lon"),
    pytest.param(ok(lon=-122.0), "lat", "together", id="lon-without-lat"),
    pytest.param(ok(lat=90.5, lon=0), "lat", "between -90 and 90", id="lat-over-90"),
    pytest.param(ok(lat=-91, lon=0), "lat", "between -90 and 90", id="lat-under-90"),
    pytest.param(ok(lat=0, lon=180.5), "lon", "between -180 and 180", id="lon-over-180"),
    pytest.param(ok(lat=0, lon=-181), "lon", "between -180 and 180", id="lon-under-180"),
    pytest.param(ok(confidence="high"), "confidence", "must be a number", id="confidence-text"),
    pytest.param(ok(confidence=True), "confidence", "must be a number", id="confidence-bool"),
    pytest.param(ok(confidence=100.5), "confidence", "between 0 and 1", id="confidence-over-100"),
    pytest.param(ok(confidence=-0.1), "confidence", "between 0 and 1", id="confidence-negative"),
    pytest.param(ok(vehicle="red sedan"), "vehicle", "must be an object", id="vehicle-string"),
    pytest.param(ok(vehicle=["Toyota"]), "vehicle", "must be an object", id="vehicle-array"),
    pytest.param(ok(vehicle=3), "vehicle", "must be an object", id="vehicle-number"),
    pytest.param(vehicle(make=5), "vehicle.make", "must be a string", id="make-number"),
    pytest.param(vehicle(model="m" * 65), "vehicle.model", "longer than 64", id="model-long"),
    pytest.param(vehicle(color=["red"]), "vehicle.color", "must be a string", id="color-array"),
    pytest.param(vehicle(type=1), "vehicle.type", "must be a string", id="type-number"),
    pytest.param(vehicle(direction="N"), "vehicle.direction", "must be a number", id="dir-text"),
    pytest.param(vehicle(direction=361), "vehicle.direction", "between 0 and 360", id="dir-361"),
    pytest.param(vehicle(direction=-1), "vehicle.direction", "between 0 and 360", id="dir-negative"),
    pytest.param(ok(source_ts=1748775600), "source_ts", "must be a string", id="source-ts-number"),
    pytest.param(ok(source_ts="9" * 65), "source_ts", "longer than 64", id="source-ts-long"),
    pytest.param(ok(source_confidence=93.5), "source_confidence", "must be a string", id="source-conf-number"),
    pytest.param(ok(source_confidence="é" * 65), "source_confidence", "longer than 64", id="source-conf-long"),
    pytest.param(b"[1, 2]", "read", "must be a JSON object", id="array"),
    pytest.param(b'"ABC123"', "read", "must be a JSON object", id="string"),
    pytest.param(b"42", "read", "must be a JSON object", id="number"),
    pytest.param(b"null", "read", "must be a JSON object", id="null"),
    pytest.param(b'{"plate": "ABC123", "ts": ', "read", "not valid JSON", id="truncated-json"),
    pytest.param(b"{plate: ABC123}", "read", "not valid JSON", id="unquoted-json"),
    pytest.param(b'{"plate": "ABC\xff123"}', "read", "not valid UTF-8", id="latin1-byte"),
    pytest.param(b'{"plate": "\xc3"}', "read", "not valid UTF-8", id="cut-utf8-sequence"),
    pytest.param(line(**ok(pad="x" * 16_400)), "read", "size limit", id="over-16KiB"),
]


@pytest.fixture(scope="module")
def rejected(store: tuple[Platform, AgencyKit]) -> tuple[BatchResult, int]:
    """One batch: every bad read, then one good read; returns the result and the store's count before."""
    before = store[0].reads.count()
    lines = [encode(p.values[0]) for p in REJECTIONS] + [line(**ok(plate="GOOD1"))]
    return ingest_batch(store, lines), before


@pytest.mark.parametrize(
    ("index", "field", "rule"),
    [pytest.param(i, p.values[1], p.values[2], id=p.id) for i, p in enumerate(REJECTIONS)],
)
def test_each_rule_rejects_with_index_and_field(
    rejected: tuple[BatchResult, int], index: int, field: str, rule: str
) -> None:
    reasons = dict(rejected[0].rejected)
    assert index in reasons, f"read {index} was not rejected"
    assert reasons[index].startswith(field + ": "), reasons[index]
    assert rule in reasons[index]


def test_only_the_good_read_of_the_rejection_batch_is_stored(
    store: tuple[Platform, AgencyKit], rejected: tuple[BatchResult, int]
) -> None:
    result, before = rejected
    assert [i for i, _ in result.rejected] == list(range(len(REJECTIONS)))
    assert (result.stored, result.duplicates) == (1, 0)
    assert store[0].reads.count() == before + 1


ACCEPTED = [
    pytest.param(ok(ts=NOW_MS + 5 * MINUTE_MS), id="ts-exactly-5min-ahead"),
    pytest.param(ok(ts="2000-01-01T00:00:00Z"), id="ts-2000"),
    pytest.param(ok(ts="2025-06-01T13:00:00+02:00"), id="ts-offset"),
    pytest.param(ok(ts="2025-06-01T11:00:00.123z"), id="ts-lower-z-millis"),
    pytest.param(ok(ts="2025-06-01 11:00:00Z"), id="ts-space"),
    pytest.param(ok(ts="2025-06-01T11:00:00,5+00:00"), id="ts-decimal-comma"),
    pytest.param(ok(plate="-" * 54 + "ABC-123-XY"), id="plate-64-chars"),
    pytest.param(ok(plate="7-abc.123"), id="plate-punctuated"),
    pytest.param(ok(confidence=0), id="confidence-0"),
    pytest.param(ok(confidence=100), id="confidence-100"),
    pytest.param(ok(lat=90, lon=-180), id="lat-lon-extremes"),
    pytest.param(ok(lat=None, lon=None), id="lat-lon-null"),
    pytest.param(ok(region=None, vehicle=None, confidence=None), id="optional-null"),
    pytest.param(vehicle(direction=0, model="Corolla", color="red", type="car"), id="vehicle"),
    pytest.param(vehicle(direction=360), id="direction-360"),
    pytest.param(ok(camera="it's\\odd"), id="camera-with-quote-and-backslash"),
    pytest.param(ok(extra_field={"ignored": True}), id="unknown-field-ignored"),
    pytest.param(ok(ts=TS, read_id="r" * 64), id="read-id-64"),
    pytest.param(ok(region="ca"), id="region-bare"),
    pytest.param(ok(source_ts="2025/06/01 11:00:00.5", source_confidence="é" * 64), id="source-values-64"),
]


@pytest.fixture(scope="module")
def accepted(store: tuple[Platform, AgencyKit]) -> BatchResult:
    lines = [orjson.dumps({"read_id": f"acc-{i}", **p.values[0]}) for i, p in enumerate(ACCEPTED)]
    return ingest_batch(store, lines)


@pytest.mark.parametrize("index", [pytest.param(i, id=p.id) for i, p in enumerate(ACCEPTED)])
def test_boundary_values_are_accepted(accepted: BatchResult, index: int) -> None:
    assert index not in dict(accepted.rejected), dict(accepted.rejected)[index]


def test_every_boundary_read_is_stored(accepted: BatchResult) -> None:
    assert (accepted.stored, accepted.duplicates, accepted.rejected) == (len(ACCEPTED), 0, [])

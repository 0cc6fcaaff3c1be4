"""Ingest through the real stores: conversions, positions, de-duplication (in a batch, across batches, across
restarts), files (JSONL, gzip, CSV) and HTTP bodies. Each validation rule has its case in test_ingest_rules.py."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from plateledger.core.clock import FixedClock
from plateledger.core.errors import InvalidInput, PayloadTooLarge
from plateledger.core.settings import Settings
from plateledger.ingest.canonical import parse_mapping
from plateledger.platform import Platform
from plateledger.store import fastpath
from plateledger.store.queries import StoredRead
from plateledger.store.reads import BatchResult
from tests.support import (
    HOUR_MS,
    MINUTE_MS,
    NOW_MS,
    AgencyKit,
    CameraSpec,
    ingest,
    line,
    opened,
    read,
    search,
    seed_agency,
)

FIXED = "city-fixed"
MOBILE = "city-mobile"
FIXED_LAT, FIXED_LON = 37.7749, -122.4194
TS = NOW_MS - HOUR_MS
ROLES = ("investigator", "device")


def seed_city(platform: Platform) -> AgencyKit:
    return seed_agency(
        platform,
        "city",
        roles=ROLES,
        cameras=(
            CameraSpec(FIXED, FIXED_LAT, FIXED_LON),
            CameraSpec(MOBILE, None, None, mobile=True),
        ),
    )


@pytest.fixture
def city(platform: Platform) -> AgencyKit:
    return seed_city(platform)


def store_lines(platform: Platform, kit: AgencyKit, lines: list[bytes]) -> BatchResult:
    return platform.ingest.store_lines(kit.device.actor, kit.agency, lines, channel="test", source="test")


def history(platform: Platform, kit: AgencyKit, plate: str) -> list[StoredRead]:
    return search(platform, kit.investigator, plate).reads


def ok(**fields: Any) -> dict[str, Any]:
    return {"plate": "ABC123", "ts": TS, "camera": FIXED, **fields}


def test_plate_of_64_characters_normalising_to_10_is_kept_as_read(platform: Platform, city: AgencyKit) -> None:
    raw = "·" * 54 + "ABC-123-XY"  # 64 characters, 118 bytes (middle dots are separators)
    assert store_lines(platform, city, [line(**ok(plate=raw))]).stored == 1
    (stored,) = history(platform, city, "ABC123XY")
    assert stored.plate_raw == raw


def test_ts_conversions(platform: Platform, city: AgencyKit) -> None:
    reads = [
        ok(plate="TS1", ts="2025-06-01T13:00:00+02:00"),
        ok(plate="TS2", ts="2025-06-01T11:00:00.123Z"),
        ok(plate="TS3", ts=TS + 7),
        ok(plate="TS4", ts="2025-06-01T11:00:00,250z"),
    ]
    assert ingest(platform, city, reads).stored == 4
    assert history(platform, city, "TS1")[0].ts_ms == NOW_MS - HOUR_MS
    assert history(platform, city, "TS2")[0].ts_ms == NOW_MS - HOUR_MS + 123
    assert history(platform, city, "TS3")[0].ts_ms == TS + 7
    assert history(platform, city, "TS4")[0].ts_ms == TS + 250


def test_confidence_region_and_vehicle_are_normalised(platform: Platform, city: AgencyKit) -> None:
    reads = [
        ok(plate="CONF1", confidence=93, region="ca"),
        ok(plate="CONF2", confidence=0.5, region="us-nv"),
        ok(plate="CONF3", region=" mx-cmx ", vehicle={"make": "Ford", "direction": 90.5}),
        ok(plate="CONF4"),
    ]
    assert ingest(platform, city, reads).stored == 4

    (first,) = history(platform, city, "CONF1")
    assert first.confidence == pytest.approx(0.93)
    assert first.region == "US-CA"
    (second,) = history(platform, city, "CONF2")
    assert (second.confidence, second.region) == (pytest.approx(0.5), "US-NV")
    (third,) = history(platform, city, "CONF3")
    assert (third.region, third.make, third.direction) == ("MX-CMX", "Ford", 90.5)
    (fourth,) = history(platform, city, "CONF4")
    assert (fourth.confidence, fourth.region, fourth.direction) == (None, "", None)


def test_source_values_are_kept_as_sent_and_returned(platform: Platform, city: AgencyKit) -> None:
    reads = [ok(plate="RAW1", confidence=0.935, source_ts="1748775600.25", source_confidence="93.5"), ok(plate="RAW2")]
    assert ingest(platform, city, reads).stored == 2
    (first,) = history(platform, city, "RAW1")
    assert (first.source_ts, first.source_confidence) == ("1748775600.25", "93.5")
    (second,) = history(platform, city, "RAW2")
    assert (second.source_ts, second.source_confidence) == ("", "")


def test_bare_region_takes_the_owner_agencys_country(platform: Platform) -> None:
    kit = seed_agency(platform, "cdmx", country="MX", state="CMX", roles=ROLES)
    assert ingest(platform, kit, [read("MEX1", camera=kit.cameras[0], region="ja")]).stored == 1
    assert history(platform, kit, "MEX1")[0].region == "MX-JA"


def test_positions(platform: Platform, city: AgencyKit) -> None:
    reads = [
        ok(plate="POS1"),  # fixed camera: its position fills in
        ok(plate="POS2", lat=40.0, lon=-75.5),  # an explicit position wins
        ok(plate="POS3", camera=MOBILE),  # mobile unit without a fix: stored without position
        ok(plate="POS4", camera=MOBILE, lat=-33.5, lon=151.25),
    ]
    result = ingest(platform, city, reads)
    assert (result.stored, result.rejected) == (4, [])

    (fixed,) = history(platform, city, "POS1")
    assert (fixed.lat, fixed.lon) == (pytest.approx(FIXED_LAT), pytest.approx(FIXED_LON))
    assert [(r.lat, r.lon) for r in history(platform, city, "POS2")] == [(40.0, -75.5)]
    assert [(r.lat, r.lon) for r in history(platform, city, "POS3")] == [(None, None)]
    assert [(r.lat, r.lon) for r in history(platform, city, "POS4")] == [(-33.5, 151.25)]


def test_another_agencys_camera_is_unknown(platform: Platform, city: AgencyKit) -> None:
    other = seed_agency(platform, "county", roles=())
    result = store_lines(platform, city, [line(**ok(camera=other.cameras[0]))])
    assert result.stored == 0
    assert result.rejected == [(0, "camera: not a camera registered to this agency")]


def test_a_batch_is_audited_with_its_counts(platform: Platform, city: AgencyKit) -> None:
    store_lines(platform, city, [line(**ok()), line(**ok()), b"nonsense"])
    (entry,) = platform.audit.entries(action="ingest.batch")
    assert entry.actor_username == "city-device"
    assert orjson.loads(entry.counts) == {"stored": 1, "duplicates": 1, "rejected": 1}
    assert orjson.loads(entry.params)["owner"] == "city"


# -- de-duplication -------------------------------------------------------------------------------------------
def test_duplicates_in_one_batch_are_counted(platform: Platform, city: AgencyKit) -> None:
    same = line(**ok(read_id="r-1"))
    generated = line(**ok(plate="GEN1"))  # no read_id: one is generated from camera, time and plate
    result = store_lines(platform, city, [same, generated, same, generated, line(**ok(plate="GEN1"))])
    assert (result.stored, result.duplicates, result.rejected) == (2, 3, [])
    assert platform.reads.count() == 2


def test_resending_stores_nothing_twice(platform: Platform, city: AgencyKit) -> None:
    lines = [line(**ok(read_id="r-1")), line(**ok(plate="GEN1"))]
    assert store_lines(platform, city, lines).stored == 2
    again = store_lines(platform, city, lines)
    assert (again.stored, again.duplicates) == (0, 2)
    assert platform.reads.count() == 2


def test_same_read_id_with_different_content_is_a_duplicate(platform: Platform, city: AgencyKit) -> None:
    assert store_lines(platform, city, [line(**ok(read_id="r-1", plate="FIRST1"))]).stored == 1
    result = store_lines(platform, city, [line(**ok(read_id="r-1", plate="OTHER1", ts=TS + 1))])
    assert (result.stored, result.duplicates) == (0, 1)
    assert history(platform, city, "OTHER1") == []
    assert [r.read_id for r in history(platform, city, "FIRST1")] == ["r-1"]


def test_read_ids_are_unique_per_owner_not_globally(platform: Platform, city: AgencyKit) -> None:
    county = seed_agency(platform, "county", roles=("device",))
    assert store_lines(platform, city, [line(**ok(read_id="r-1"))]).stored == 1
    theirs = platform.ingest.store_lines(
        county.device.actor,
        county.agency,
        [line(**ok(read_id="r-1", camera=county.cameras[0]))],
        channel="test",
        source="test",
    )
    assert (theirs.stored, theirs.duplicates) == (1, 0)


# -- files ------------------------------------------------------------------------------------------------------
MIXED = [
    line(**ok(plate="FILE1", read_id="f-1")),
    b"{not json",
    line(**ok(plate="FILE2", read_id="f-2", ts="2025-06-01T11:00:00")),
    line(**ok(plate="FILE3", read_id="f-3")),
    line(**ok(plate="FILE4", read_id="f-4", camera="ghost")),
    line(**ok(plate="FILE5")),
]
MIXED_REJECTED = [
    (1, "read: not valid JSON"),
    (2, "ts: must be an ISO 8601 string with a time zone or integer epoch milliseconds"),
    (4, "camera: not a camera registered to this agency"),
]


def write_jsonl(path: Path, lines: list[bytes]) -> Path:
    data = b"\n".join(lines) + b"\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["reads.jsonl", "reads.jsonl.gz"])
def test_mixed_file_stores_exactly_the_valid_reads(
    platform: Platform, city: AgencyKit, tmp_path: Path, name: str
) -> None:
    path = write_jsonl(tmp_path / name, MIXED)
    result = platform.ingest.ingest_file(city.device.actor, city.agency, path, fmt="jsonl")

    assert (result.stored, result.duplicates, result.rejected) == (3, 0, MIXED_REJECTED)
    for plate in ("FILE1", "FILE3", "FILE5"):
        assert len(history(platform, city, plate)) == 1
    for plate in ("FILE2", "FILE4"):
        assert history(platform, city, plate) == []

    again = platform.ingest.ingest_file(city.device.actor, city.agency, path, fmt="jsonl")
    assert (again.stored, again.duplicates, again.rejected) == (0, 3, MIXED_REJECTED)
    assert platform.reads.count() == 3


def test_blank_lines_and_crlf_are_tolerated(platform: Platform, city: AgencyKit, tmp_path: Path) -> None:
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(line(**ok(plate="CR1")) + b"\r\n\r\n  \n" + line(**ok(plate="CR2")) + b"\r\n")
    result = platform.ingest.ingest_file(city.device.actor, city.agency, path, fmt="jsonl")
    assert (result.stored, result.rejected) == (2, [])


def test_reingesting_after_a_restart_stores_nothing_new(settings: Settings, clock: FixedClock, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "reads.jsonl", MIXED)
    with opened(settings, clock) as platform:
        kit = seed_city(platform)
        assert platform.ingest.ingest_file(kit.device.actor, kit.agency, path, fmt="jsonl").stored == 3
    with opened(settings, clock) as platform:
        device = platform.tokens.authenticate(kit.tokens["device"])
        result = platform.ingest.ingest_file(device.actor, kit.agency, path, fmt="jsonl")
        assert (result.stored, result.duplicates) == (0, 3)
        assert platform.reads.count() == 3
        assert platform.audit.verify().intact


def test_rejected_indexes_count_from_the_start_of_the_file_across_chunks(
    platform_factory: Callable[..., Platform], tmp_path: Path
) -> None:
    platform = platform_factory(ingest_chunk_bytes=1024 * 1024)
    kit = seed_city(platform)
    lines = [line(**ok(plate=f"CH{i}", read_id=f"read-{i:06d}-" + "x" * 40)) for i in range(25_000)]
    lines[17_000] = b"[]"
    path = write_jsonl(tmp_path / "big.jsonl", lines)

    result = platform.ingest.ingest_file(kit.device.actor, kit.agency, path, fmt="jsonl")

    assert (result.stored, result.rejected) == (24_999, [(17_000, "read: must be a JSON object")])
    batches = [orjson.loads(e.counts) for e in platform.audit.entries(action="ingest.batch")]
    assert len(batches) >= 3  # the file went through in several chunks
    assert sum(b["stored"] for b in batches) == 24_999
    assert [b["rejected"] for b in batches].count(1) == 1


def test_blank_lines_keep_their_line_number_but_are_not_reads(platform: Platform, tmp_path: Path) -> None:
    kit = seed_city(platform)
    path = tmp_path / "gaps.jsonl"
    path.write_bytes(line(**ok(plate="GAP1")) + b"\r\n\n   \n" + line(**ok(plate="GAP2")) + b"\nnot json\n")
    result = platform.ingest.ingest_file(kit.device.actor, kit.agency, path, fmt="jsonl")
    assert (result.stored, result.duplicates, result.rejected) == (2, 0, [(4, "read: not valid JSON")])


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_csv_with_mapping_and_time_format(platform: Platform, city: AgencyKit, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "reads.csv",
        ["PLATE", "TIME", "CAM", "confidence", "lat", "lon", "make"],
        [
            ["abc 123", "2025-06-01 11:00:00", FIXED, "93", "", "", "Honda"],
            ["XYZ789", "2025-06-01 11:30:00", MOBILE, "0.8", "40.5", "-74.25", ""],
            ["BAD1", "01/06/2025 11:00", FIXED, "", "", "", ""],
            ["BAD2", "2025-06-01 11:00:00", FIXED, "", "north", "-74", ""],
            ["BAD3", "2025-06-01 11:00:00", "ghost", "", "", "", ""],
        ],
    )
    result = platform.ingest.ingest_file(
        city.device.actor,
        city.agency,
        path,
        fmt="csv",
        mapping=parse_mapping("plate=PLATE,ts=TIME,camera=CAM"),
        ts_format="%Y-%m-%d %H:%M:%S",
    )

    assert result.stored == 2
    assert [(i, reason.split(":")[0]) for i, reason in result.rejected] == [
        (2, "ts"),
        (3, "lat"),
        (4, "camera"),
    ]
    (first,) = history(platform, city, "ABC123")
    assert (first.ts_ms, first.confidence, first.make) == (TS, pytest.approx(0.93), "Honda")
    assert (first.lat, first.lon) == (pytest.approx(FIXED_LAT), pytest.approx(FIXED_LON))
    (second,) = history(platform, city, "XYZ789")
    assert (second.ts_ms, second.lat, second.lon) == (TS + 30 * MINUTE_MS, 40.5, -74.25)


def test_csv_time_zone_applies_to_zoneless_times(platform: Platform, city: AgencyKit, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tz.csv", ["plate", "ts", "camera"], [["TZ1", "2025-06-01 04:00", FIXED]])
    result = platform.ingest.ingest_file(
        city.device.actor,
        city.agency,
        path,
        fmt="csv",
        ts_format="%Y-%m-%d %H:%M",
        tz="America/Los_Angeles",
    )
    assert result.stored == 1
    assert history(platform, city, "TZ1")[0].ts_ms == TS  # 04:00 PDT is 11:00 UTC


def test_csv_time_zone_applies_to_zoneless_iso_times_too(platform: Platform, city: AgencyKit, tmp_path: Path) -> None:
    rows = [["TZ2", "2025-06-01T04:00:00", FIXED], ["TZ3", "2025-06-01T11:00:00Z", FIXED]]
    path = write_csv(tmp_path / "tz.csv", ["plate", "ts", "camera"], rows)
    result = platform.ingest.ingest_file(city.device.actor, city.agency, path, fmt="csv", tz="America/Los_Angeles")
    assert result.stored == 2
    assert history(platform, city, "TZ2")[0].ts_ms == TS  # local time in --tz
    assert history(platform, city, "TZ3")[0].ts_ms == TS  # an explicit zone wins


def test_csv_without_a_required_column_is_refused(platform: Platform, city: AgencyKit, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "nocam.csv", ["plate", "ts"], [["ABC123", str(TS)]])
    with pytest.raises(InvalidInput, match="camera"):
        platform.ingest.ingest_file(city.device.actor, city.agency, path, fmt="csv")
    assert platform.reads.count() == 0


def test_csv_with_undecodable_bytes_is_rejected_per_row(platform: Platform, city: AgencyKit, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        b"plate,ts,camera\n" + f"OK1,{TS},{FIXED}\n".encode() + f"\xc4BC1,{TS},{FIXED}\n".encode("latin-1")
    )
    result = platform.ingest.ingest_file(city.device.actor, city.agency, path, fmt="csv")
    assert result.stored == 1
    assert result.rejected == [(1, "read: not valid UTF-8")]


def test_bad_mapping_names_the_map_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_mapping("plate=PLATE,colour=COL")
    assert str(caught.value).startswith("map: ")


# -- HTTP bodies ------------------------------------------------------------------------------------------------
def test_json_body_stores_valid_reads_and_rejects_by_index(platform: Platform, city: AgencyKit) -> None:
    body = orjson.dumps([ok(plate="HTTP1"), ok(plate=None), ok(plate="HTTP2", read_id="h-2")])
    result = platform.ingest.ingest_json_body(city.device, body)
    assert result.stored == 2
    assert result.rejected == [(1, "plate: required")]
    (entry,) = platform.audit.entries(action="ingest.batch")
    assert orjson.loads(entry.params)["channel"] == "http"


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        pytest.param(b"{not json", InvalidInput, "not valid JSON", id="not-json"),
        pytest.param(b"", InvalidInput, "not valid JSON", id="empty"),
        pytest.param(orjson.dumps(ok()), InvalidInput, "JSON array", id="object"),
        pytest.param(b'"ABC123"', InvalidInput, "JSON array", id="string"),
        pytest.param(orjson.dumps([ok()] * 4), PayloadTooLarge, "at most 3 reads", id="too-many"),
        pytest.param(orjson.dumps([ok(pad="x" * 2000)]), PayloadTooLarge, "larger than 2048", id="too-big"),
    ],
)
def test_malformed_body_is_refused_whole_and_audited(
    platform_factory: Callable[..., Platform], body: bytes, error: type[Exception], message: str
) -> None:
    platform = platform_factory(max_batch_reads=3, max_body_bytes=2048)
    kit = seed_city(platform)

    with pytest.raises(error, match=message) as caught:
        platform.ingest.ingest_json_body(kit.device, body)

    assert type(caught.value) is error
    assert platform.reads.count() == 0
    assert platform.audit.entries(action="ingest.batch") == []
    (refusal,) = platform.audit.entries(action="ingest.refused")
    assert refusal.outcome == "refused"
    assert refusal.actor_username == "city-device"
    assert message in orjson.loads(refusal.params)["reason"]


def test_an_http_body_is_typed_without_decoding_its_reads_again(
    platform: Platform, city: AgencyKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body is decoded once (``Ingestor._split_body``); the fast path types those values, not the lines."""
    body = orjson.dumps([ok(plate=f"HTTP{i}", ts=TS - i) for i in range(20)])
    decodes: list[bytes] = []

    def loads(data: bytes) -> Any:
        decodes.append(data)
        return orjson.loads(data)

    spy = SimpleNamespace(loads=loads, dumps=orjson.dumps, JSONDecodeError=orjson.JSONDecodeError)
    monkeypatch.setattr(fastpath, "orjson", spy)
    assert platform.ingest.ingest_json_body(city.device, body).stored == 20
    assert decodes == []
    # A block of lines (a file, a vendor payload) is still decoded line by line, and checked for orjson's encoding.
    lines = [orjson.dumps(ok(plate=f"LINE{i}", ts=TS - i)) for i in range(3)]
    assert store_lines(platform, city, lines).stored == 3
    assert decodes == lines

"""AXIS License Plate Verifier events: the real sample, documented variants, bad fields named, and fuzzing."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plateledger.adapters import adapter
from plateledger.adapters.axis import adapt
from plateledger.adapters.base import SourceRead
from plateledger.core.errors import FieldInvalid, InvalidInput
from tests.unit.adapter_kit import FUZZ, HOSTILE_JSON, check, check_hostile
from tests.unit.adapters_support import mutated, sample, sample_json

SAMPLE = "parkpow_axis-lpr_event.json"


def event(**changes: Any) -> bytes:
    body = sample_json(SAMPLE)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return orjson.dumps(body)


def test_real_sample() -> None:
    adapted = adapter("axis")(sample(SAMPLE), "application/json")
    assert adapted.reads == [
        SourceRead(
            plate="RLE11684",
            ts_ms=1_623_405_938_252,  # 2021-06-11T10:05:38.252Z
            camera="ACCC8ED3290D",
            source_ts="1623405938252",
            region=None,  # plateCountry POL names a country, not a subdivision
            lat=50.418114,
            lon=30.476213,
            confidence=0.719034,
            source_confidence="0.719034",
        )
    ]
    assert adapted.statuses == []
    assert adapted.ignored == []


def test_plate_fields_in_order_of_preference_kept_as_read() -> None:
    # as read: the store normalises the plate (AB123) and keeps this text as plate_raw
    (read,) = adapt(event(plateUTF8=None, plateText="ab-12 3"), "application/json").reads
    assert read.plate == "ab-12 3"
    (read,) = adapt(event(plateUTF8="", plateText="", plateUnicode="", plateASCII="xy 9"), "application/json").reads
    assert read.plate == "xy 9"


def test_event_without_a_plate_is_ignored_with_a_reason() -> None:
    body = event(plateUTF8=None, plateText=None, plateUnicode=None, plateASCII="  ")
    adapted = adapt(body, "application/json")
    assert adapted.reads == []
    assert adapted.ignored == ["event without a plate"]


def test_numeric_timestamp_and_missing_optional_fields() -> None:
    (read,) = adapt(event(capture_timestamp=1_700_000_000_123, plateConfidence=None, geotag=None), "").reads
    assert (read.ts_ms, read.source_ts, read.confidence, read.lat, read.lon) == (
        1_700_000_000_123,
        "1700000000123",
        None,
        None,
        None,
    )


def test_geotag_zero_is_no_fix_and_mac_is_the_fallback_camera() -> None:
    body = event(geotag={"lat": 0, "lon": 0}, camera_info={"MACAddress": "AC:CC:8E:D3:29:0D"})
    (read,) = adapt(body, "application/json").reads
    assert (read.lat, read.lon, read.camera) == (None, None, "AC:CC:8E:D3:29:0D")


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"capture_timestamp": "2021-06-11"}, "capture_timestamp", "must be epoch milliseconds (digits)"),
        ({"capture_timestamp": "１２３"}, "capture_timestamp", "must be epoch milliseconds (digits)"),
        ({"capture_timestamp": "1623405938"}, "capture_timestamp", "must be epoch milliseconds between"),
        ({"capture_timestamp": None}, "capture_timestamp", "is required"),
        ({"plateConfidence": "71.9"}, "plateConfidence", "must be a confidence between 0 and 1"),
        ({"plateConfidence": "high"}, "plateConfidence", "must be a number"),
        ({"camera_info": {"ProdShortName": "AXIS"}}, "camera_info.MACAddress", "is required"),
        ({"camera_info": "ACCC8ED3290D"}, "camera_info", "must be an object"),
        ({"geotag": {"lat": 95, "lon": 1}}, "geotag.lat", "must be a latitude"),
        ({"plateUTF8": "A" * 11}, "plateUTF8", "must have 1-10 letters or digits"),
        ({"plateUTF8": 1234}, "plateUTF8", "must be a string"),
    ],
)
def test_bad_fields_are_named(changes: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(FieldInvalid) as err:
        adapt(event(**changes), "application/json")
    assert err.value.field == field
    assert err.value.rule.startswith(rule)
    assert err.value.status == 422


def test_not_json_at_all() -> None:
    with pytest.raises(InvalidInput) as err:
        adapt(b"<xml/>", "application/xml")
    assert err.value.status == 400


@FUZZ
@given(mutated(sample(SAMPLE)))
def test_fuzz_mutated_sample(body: bytes) -> None:
    check(lambda: adapt(body, "application/json"))


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes(body: bytes) -> None:
    check(lambda: adapt(body, "application/json"))


@pytest.mark.parametrize("body", HOSTILE_JSON, ids=range(len(HOSTILE_JSON)))
def test_hostile_bodies_are_4xx(body: bytes) -> None:
    check_hostile(lambda: adapt(body, "application/json"))

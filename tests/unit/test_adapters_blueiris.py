"""Blue Iris alert bodies with CodeProject.AI ALPR results, on the real ALPR-Database samples."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from plateledger.adapters import Adapted, blueiris
from plateledger.core.errors import FieldInvalid, InvalidInput
from tests.unit.adapters_support import assert_refused, sample, sample_json

JSON = "application/json"
TEST_PAYLOAD = "algertc_ALPR-Database_test-payload.json"
MULTI_AI = "algertc_ALPR-Database_multi-ai-payload.json"
ALERT_TS = 1752587944000  # 2025-07-15T13:59:04Z


def adapt(payload: Any) -> Adapted:
    """The adapter on a payload built here, sent as JSON."""
    return blueiris.adapt(orjson.dumps(payload), JSON)


def test_multi_ai_payload_reads_only_the_alpr_module() -> None:
    adapted = blueiris.adapt(sample(MULTI_AI), JSON)
    assert [r.canonical() for r in adapted.reads] == [
        {
            "plate": "SGX 7923G",  # kept as read (with its space); the store normalises to SGX7923G
            "ts": ALERT_TS,
            "camera": "ALPR2",
            "confidence": 0.940095,
            "source_ts": "2025-07-15T13:59:04Z",
            "source_confidence": "0.9400946199893951",
        },
        {
            "plate": "HF7499",
            "ts": ALERT_TS,
            "camera": "ALPR2",
            "confidence": 0.90813,
            "source_ts": "2025-07-15T13:59:04Z",
            "source_confidence": "0.9081299901008606",
        },
    ]
    assert adapted.ignored == ["plate_number 'HH333C72': not used, the alert's ALPR results or memo take precedence"]
    image = base64.b64decode(sample_json(MULTI_AI)["Image"])
    for read in adapted.reads:
        assert [(i.kind, i.content_type, i.data) for i in read.images] == [("overview", "image/webp", image)]


def test_prediction_plate_wins_over_its_label() -> None:
    # In this sample the first prediction's label says SGX 7923G but its plate field says 9RPX658.
    reads = blueiris.adapt(sample(TEST_PAYLOAD), JSON).reads
    assert [r.plate for r in reads] == ["9RPX658", "HF7499"]


@pytest.mark.parametrize(
    ("name", "expected_ts", "source_ts", "plates"),
    [
        ("algertc_ALPR-Database_example.json", 1732060280000, "Tue, 19 Nov 2024 23:51:20 GMT", ["T121396C", "KYJ5"]),
        (
            "algertc_ALPR-Database_json-dump-example.json",
            1739072818000,
            "Sun 09 Feb 2025 03:46:58 GMT",
            ["SGX 7923G", "HF7499"],
        ),
    ],
)
def test_ai_dump_samples_without_timestamp_take_the_codeproject_time(
    name: str, expected_ts: int, source_ts: str, plates: list[str]
) -> None:
    # These samples are the &JSON macro alone; in an alert body without timestamp the ALPR result's time is used.
    reads = adapt({"ai_dump": sample_json(name), "camera": "drive"}).reads
    assert [(r.plate, r.ts_ms, r.source_ts, r.camera) for r in reads] == [
        (p, expected_ts, source_ts, "drive") for p in plates
    ]


def test_bare_ai_dump_array_is_not_an_alert_body() -> None:
    with pytest.raises(InvalidInput, match="put the &JSON macro in its ai_dump field"):
        blueiris.adapt(sample("algertc_ALPR-Database_example.json"), JSON)


def test_ai_dump_quoted_into_a_string() -> None:
    dump = sample("algertc_ALPR-Database_example.json").decode()
    reads = adapt({"ai_dump": dump, "camera": "drive", "timestamp": "2024-11-19T15:51:20-08:00"}).reads
    assert [(r.plate, r.ts_ms) for r in reads] == [("T121396C", 1732060280000), ("KYJ5", 1732060280000)]


def test_memo_plates() -> None:
    payload = {
        "memo": "car:92%,[ABC123]:87%, person:70%,XYZ9,ABC123:50%",
        "camera": "c",
        "timestamp": "2024-01-01T00:00:00Z",
    }
    reads = adapt(payload).reads
    assert [(r.plate, r.confidence, r.source_confidence) for r in reads] == [
        ("ABC123", 0.87, "87%"),  # brackets of the old plate models removed; the first of duplicates kept
        ("XYZ9", None, None),
    ]


def test_plate_number_alone() -> None:
    (read,) = adapt({"plate_number": "7abc123", "camera": "c", "timestamp": "2024-01-01T00:00:00Z"}).reads
    assert read.canonical() == {
        "plate": "7abc123",
        "ts": 1704067200000,
        "camera": "c",
        "source_ts": "2024-01-01T00:00:00Z",
    }


def test_alert_without_any_plate() -> None:
    payload = sample_json(MULTI_AI)
    payload["ai_dump"] = payload["ai_dump"][:1]  # object detection only
    del payload["plate_number"], payload["Image"]
    adapted = adapt(payload)
    assert adapted.reads == []
    assert adapted.ignored == ["no plate in this alert (no ALPR prediction, plate memo or plate_number)"]


@pytest.mark.parametrize(
    ("mutate", "field", "rule"),
    [
        (lambda p: p.pop("camera"), "camera", "is required"),
        (lambda p: p.update(timestamp="15/07/2025 13:59"), "timestamp", "ISO 8601"),
        (lambda p: p.update(timestamp=1752587944000), "timestamp", "must be a string"),
        (lambda p: p.update(Image="%%%"), "Image", "must be valid base64"),
        (
            lambda p: p["ai_dump"][0]["found"]["predictions"][1].update(confidence=94),
            "ai_dump[0].found.predictions[1].confidence",
            "between 0 and 1",
        ),
        (
            lambda p: p["ai_dump"][0]["found"]["predictions"][0].update(plate="   "),
            "ai_dump[0].found.predictions[0].plate",
            "letters or digits",
        ),
        (
            lambda p: p["ai_dump"][0]["found"].update(predictions="T121396C"),
            "ai_dump[0].found.predictions",
            "must be an array",
        ),
        (lambda p: p["ai_dump"][0].update(found=None), "ai_dump[0].found", "is required"),
    ],
)
def test_bad_fields_are_named(mutate: Any, field: str, rule: str) -> None:
    assert_refused(blueiris.adapt, sample_json(TEST_PAYLOAD), mutate, field, rule)


def test_missing_time_everywhere() -> None:
    payload = sample_json(TEST_PAYLOAD)
    del payload["timestamp"], payload["ai_dump"][0]["found"]["timestampUTC"]
    with pytest.raises(FieldInvalid, match="timestamp: is required"):
        adapt(payload)

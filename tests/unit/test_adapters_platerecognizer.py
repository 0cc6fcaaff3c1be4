"""Plate Recognizer: the real Snapshot response and Stream webhook samples, the Snapshot webhook, the
``detection_mode: vehicle`` shape, and multipart bodies with an image part."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from plateledger.adapters import Adapted, platerecognizer
from plateledger.core.errors import FieldInvalid, InvalidInput, PayloadTooLarge
from tests.unit.adapters_support import assert_refused, multipart, sample, sample_json

SNAPSHOT = "platerecognizer_snapshot_response_from_docs.json"
STREAM = "platerecognizer_stream_webhook_recognition_from_webhook_tester.json"
JSON = "application/json"
MULTIPART = "multipart/form-data; boundary=plateledger-test"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(40) + b"\xff\xd9"

STREAM_READ = {
    "plate": "pl8rec",  # lower case as sent; the store normalises
    "ts": 1704067200000,
    "camera": "camera-1",
    "region": "US-CA",
    "confidence": 0.902,  # the OCR score, not dscore (0.757)
    "source_ts": "2024-01-01T00:00:00+00:00",
    "source_confidence": "0.902",
    "vehicle": {"make": "Porsche", "model": "911", "color": "red", "type": "Sedan", "direction": 210.0},
}


def adapt(payload: Any) -> Adapted:
    """The adapter on a payload built here, sent as JSON."""
    return platerecognizer.adapt(orjson.dumps(payload), JSON)


def test_stream_webhook_sample() -> None:
    adapted = platerecognizer.adapt(sample(STREAM), JSON)
    assert [r.canonical() for r in adapted.reads] == [STREAM_READ]
    assert adapted.ignored == []
    assert adapted.reads[0].images == ()


def test_snapshot_response_sample_leaves_the_camera_to_the_url() -> None:
    # The documented response has camera_id null: the read names no camera, and the ingest layer gives it the
    # camera of the URL (?camera=ID) or refuses it (tests/integration/test_real_ids.py).
    (read,) = platerecognizer.adapt(sample(SNAPSHOT), JSON).reads
    assert (read.plate, read.camera) == ("nhk552", "")


def test_snapshot_response_sample_with_its_camera() -> None:
    payload = sample_json(SNAPSHOT)
    payload["camera_id"] = "lot-gate"
    (read,) = adapt(payload).reads
    assert read.canonical() == {
        "plate": "nhk552",
        "ts": 1602519447574,
        "camera": "lot-gate",
        # "gb" is a country, not a subdivision: no canonical region.
        "confidence": 0.904,
        "source_ts": "2020-10-12T16:17:27.574008Z",
        "source_confidence": "0.904",
        "vehicle": {"make": "Riley", "model": "RMF", "color": "black", "type": "Sedan"},
    }


def test_snapshot_webhook() -> None:
    data = sample_json(SNAPSHOT)
    data.update(camera_id="entrance", timestamp="2025-09-09 23:22:38.030345")  # the webhook's zoneless UTC
    payload = {"hook": {"target": "http://x/", "id": 479, "event": "image.done"}, "data": data}
    (read,) = adapt(payload).reads
    assert (read.camera, read.ts_ms, read.source_ts) == ("entrance", 1757460158030, "2025-09-09 23:22:38.030345")


def test_snapshot_webhook_without_camera_does_not_take_the_hook_id() -> None:
    data = sample_json(SNAPSHOT)
    payload = {"hook": {"target": "http://x/", "id": 479, "event": "image.done"}, "data": data}
    assert [r.camera for r in adapt(payload).reads] == [""]


def test_stream_camera_falls_back_to_hook_id() -> None:
    payload = sample_json(STREAM)
    del payload["data"]["camera_id"]
    assert adapt(payload).reads[0].camera == "camera-1"


def test_snapshot_webhook_without_plates() -> None:
    data = {**sample_json(SNAPSHOT), "camera_id": "c1", "results": []}
    adapted = adapt({"hook": {"id": 1, "event": "image.done"}, "data": data})
    assert adapted.reads == []
    assert adapted.ignored == ["data: no plate in the image"]


def test_other_hook_events_are_ignored() -> None:
    adapted = adapt({"hook": {"id": "camera-1", "event": "camera.offline"}, "data": {}})
    assert adapted.ignored == ["hook.event 'camera.offline': not a recognition, nothing to store"]


def vehicle_mode() -> dict[str, Any]:
    box = {"xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}
    return {
        "processing_time": 120.5,
        "camera_id": "gate-2",
        "timestamp": "2024-05-06T07:08:09.123Z",
        "results": [
            {
                "plate": {
                    "type": "Plate",
                    "score": 0.95,  # detection
                    "box": box,
                    "props": {
                        "plate": [{"value": "abc1234", "score": 0.88}, {"value": "abc1z34", "score": 0.12}],
                        "region": [{"value": "us-tx", "score": 0.7}, {"value": "us-ok", "score": 0.2}],
                    },
                },
                "vehicle": {
                    "type": "Pickup Truck",
                    "score": 0.9,
                    "box": box,
                    "props": {
                        "make_model": [{"make": "Ford", "model": "F-150", "score": 0.6}],
                        "orientation": [{"value": "Rear", "score": 0.9}],
                        "color": [{"value": "unknown", "score": 0.5}, {"value": "blue", "score": 0.4}],
                    },
                },
                "direction": 15,
            },
            {"plate": None, "vehicle": {"type": "Sedan", "score": 0.8, "box": box, "props": {}}},
            {"plate": {"type": "Plate", "score": 0.4, "box": box, "props": {"plate": []}}, "vehicle": None},
        ],
    }


def test_vehicle_detection_mode() -> None:
    adapted = adapt(vehicle_mode())
    assert [r.canonical() for r in adapted.reads] == [
        {
            "plate": "abc1234",
            "ts": 1714979289123,
            "camera": "gate-2",
            "region": "US-TX",
            "confidence": 0.88,
            "source_ts": "2024-05-06T07:08:09.123Z",
            "source_confidence": "0.88",
            "vehicle": {"make": "Ford", "model": "F-150", "color": "blue", "type": "Pickup Truck", "direction": 15.0},
        }
    ]
    # A vehicle without a plate (plate null, or no plate text) is not stored.
    assert adapted.ignored == [
        "results[1]: a vehicle without a readable plate is not stored",
        "results[2]: a vehicle without a readable plate is not stored",
    ]


def test_stream_multipart_with_image() -> None:
    body = multipart([("json", None, None, sample(STREAM)), ("upload", "camera-1.jpg", "image/jpeg", JPEG)])
    (read,) = platerecognizer.adapt(body, MULTIPART).reads
    assert read.canonical() == STREAM_READ
    assert [(i.kind, i.content_type, i.data) for i in read.images] == [("overview", "image/jpeg", JPEG)]


def test_stream_multipart_without_image() -> None:
    body = multipart([("json", None, "application/json", sample(STREAM))])
    assert [r.canonical() for r in platerecognizer.adapt(body, MULTIPART).reads] == [STREAM_READ]


def test_multipart_refusals() -> None:
    with pytest.raises(FieldInvalid, match="json: is required"):
        platerecognizer.adapt(multipart([("upload", "a.jpg", "image/jpeg", JPEG)]), MULTIPART)
    with pytest.raises(FieldInvalid, match="upload: must be a JPEG"):
        platerecognizer.adapt(
            multipart([("json", None, None, sample(STREAM)), ("upload", "a.jpg", None, b"not an image")]), MULTIPART
        )
    with pytest.raises(InvalidInput, match="without a boundary"):
        platerecognizer.adapt(b"", "multipart/form-data")
    body = multipart([("json", None, None, sample(STREAM))])
    with pytest.raises(InvalidInput, match="closing boundary"):
        platerecognizer.adapt(body[:-30], MULTIPART)
    with pytest.raises(PayloadTooLarge):
        platerecognizer.adapt(multipart([("f", None, None, b"x")] * 20), MULTIPART)


@pytest.mark.parametrize(
    ("mutate", "field", "rule"),
    [
        (lambda p: p["data"]["results"][0].update(score=90.2), "data.results[0].score", "between 0 and 1"),
        (lambda p: p["data"]["results"][0].update(plate="#"), "data.results[0].plate", "letters or digits"),
        (lambda p: p["data"].update(timestamp="01/01/2024"), "data.timestamp", "ISO 8601"),
        (lambda p: p["data"].pop("timestamp"), "data.timestamp", "is required"),
        (lambda p: p["data"]["results"][0].update(region="us-ca"), "data.results[0].region", "must be an object"),
        (lambda p: p["data"]["results"][0].update(direction="north"), "data.results[0].direction", "number"),
        (lambda p: p["data"]["results"][0]["color"][0].pop("score"), "data.results[0].color[0].score", "required"),
        (lambda p: p["data"].update(results={}), "data.results", "must be an array"),
        (lambda p: p.update(hook=[]), "hook", "must be an object"),
    ],
)
def test_bad_fields_are_named(mutate: Any, field: str, rule: str) -> None:
    assert_refused(platerecognizer.adapt, sample_json(STREAM), mutate, field, rule)

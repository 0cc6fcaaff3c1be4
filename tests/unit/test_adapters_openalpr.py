"""OpenALPR / Rekor agent webhooks: every message kind, agent payload versions 2 and 3 (fixtures written from
the documented shapes: ``openalpr_payloads.py``)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from plateledger.adapters import adapter, openalpr
from plateledger.adapters.base import CameraStatus
from plateledger.core.errors import FieldInvalid, InvalidInput
from tests.unit.adapters_support import assert_refused
from tests.unit.openalpr_payloads import AGENT, JPEG, alert_v3, group_v2, group_v3, heartbeat, results_v2, vehicle_v3


def adapt(payload: Any, frames: openalpr.Frames = "group") -> openalpr.Adapted:
    return openalpr.adapt_with(orjson.dumps(payload), frames=frames)


def test_group_v2() -> None:
    adapted = adapt(group_v2())
    assert adapted.statuses == []
    assert adapted.ignored == []
    (read,) = adapted.reads
    assert read.canonical() == {
        "plate": "A424761",
        "ts": 1609433731402,
        "camera": "106232737",
        "read_id": f"{AGENT}-106232737-1609433731402",  # 64 characters: fits the canonical read id
        "region": "US-IN",
        "lat": 40.00997543334961,
        "lon": -86.14463806152344,
        "confidence": 0.935050,
        "source_ts": "1609433731402",
        "source_confidence": "93.50499725341797",
        "vehicle": {
            "make": "ford",
            "model": "f-150",
            "color": "white",
            "type": "truck-standard",
            "direction": 257.44775390625,
        },
    }
    assert [(i.kind, i.content_type, i.data) for i in read.images] == [("plate", "image/jpeg", JPEG)]
    assert read.vendor_alert is None


def test_long_vendor_ids_become_a_stable_digest() -> None:
    payload = group_v2()
    payload["best_uuid"] = f"{AGENT}-1062327370-1609433731402"  # 65 characters, over the canonical 64
    first, again = adapt(payload).reads[0].read_id, adapt(payload).reads[0].read_id
    assert first is not None
    assert first.startswith("sha256:")
    assert len(first) == 55
    assert first == again


def test_group_v3() -> None:
    (read,) = adapt(group_v3()).reads
    assert read.canonical() == {
        "plate": "2BH375",
        "ts": 1630695989342,
        "camera": "1000",
        "read_id": "TESTTESTTESTTESTTESTTESTTESTTESTTESTTEST-1000-1630695989342",
        "region": "US-MA",
        "lat": 39.0391,
        "lon": -77.0173,
        "confidence": 0.932547,
        "source_ts": "1630695989342",
        "source_confidence": "93.25465393",
        # make_model's best (lexus_rx) is not a model of the best make (toyota): no model rather than a wrong one.
        "vehicle": {"make": "toyota", "color": "black", "type": "sedan-standard", "direction": 90.0},
    }
    assert [i.kind for i in read.images] == ["plate", "overview"]


def test_alert_stores_the_group_and_records_the_vendor_alert() -> None:
    adapted = adapt(alert_v3())
    (read,) = adapted.reads
    assert read.vendor_alert == "Blacklist 'blacklist' (list 155): test"
    assert read.canonical() == adapt(group_v3()).reads[0].canonical()  # same read, same read_id: stored once


def test_alert_without_its_group() -> None:
    payload = alert_v3()
    del payload["group"]
    with pytest.raises(FieldInvalid, match=r"^group: is required$"):
        adapt(payload)


def test_alert_errors_name_the_wrapped_field() -> None:
    payload = alert_v3()
    payload["group"]["best_confidence"] = 930.0
    with pytest.raises(FieldInvalid) as err:
        adapt(payload)
    assert (err.value.field, err.value.rule) == ("group.best_confidence", "must be a confidence between 0 and 100")


def test_frames_are_collapsed_into_the_group_by_default() -> None:
    adapted = adapt(results_v2())
    assert adapted.reads == []
    assert adapted.ignored == [
        "unspecified-cam16488027-1490574589596: 2 per-frame plate(s) collapsed into the alpr_group that follows "
        "for each vehicle"
    ]


def test_frames_stored_each_when_configured() -> None:
    reads = adapt(results_v2(), frames="each").reads
    assert [r.canonical() for r in reads] == [
        {
            "plate": "AE1T3E",
            "ts": 1490574589596,
            "camera": "16488027",
            "read_id": "unspecified-cam16488027-1490574589596#0",
            "region": "US-MO",  # bare "mo" of a US agent
            "confidence": 0.939041,
            "source_ts": "1490574589596",
            "source_confidence": "93.904076",
        },
        {
            "plate": "7-xyz 12",  # kept as read: the store normalises to 7XYZ12
            "ts": 1490574589596,
            "camera": "16488027",
            "read_id": "unspecified-cam16488027-1490574589596#1",
            "region": "US-TX",
            "confidence": 0.81,
            "source_ts": "1490574589596",
            "source_confidence": "81",
        },
    ]
    assert adapter("openalpr") is not openalpr.adapt_each_frame


def test_vehicle_without_plate_is_ignored_with_its_reason() -> None:
    adapted = adapt(vehicle_v3())
    assert adapted.reads == []
    assert adapted.statuses == []
    assert adapted.ignored == [
        "vehicle: a vehicle seen without a readable plate is not stored (Plateledger keeps plate reads only)"
    ]


def test_heartbeat_reports_each_stream() -> None:
    adapted = adapt(heartbeat())
    assert adapted.reads == []
    assert adapted.statuses == [
        CameraStatus(camera="1630410444", ts_ms=1453426302086, healthy=True, detail="streaming at 12 fps"),
        CameraStatus(camera="1630410445", ts_ms=1453426000000, healthy=False, detail="not streaming at 0 fps"),
    ]


def test_heartbeat_without_streams() -> None:
    payload = heartbeat()
    payload["video_streams"] = []
    assert adapt(payload).ignored == ["heartbeat without video_streams: no camera to report on"]


def test_web_server_test_ping() -> None:
    adapted = adapt({"openalpr_webhook": "test"})
    assert (adapted.reads, adapted.statuses) == ([], [])
    assert adapted.ignored == ["web server test ping (openalpr_webhook): nothing to store"]


def test_preview_group_waits_for_the_final_one() -> None:
    payload = group_v2()
    payload["is_preview"] = True
    adapted = adapt(payload)
    assert adapted.reads == []
    assert adapted.ignored == ["alpr_group: preview group; the final group of this vehicle follows"]


def test_mobile_unit_without_fix_and_region_outside_iso() -> None:
    payload = group_v3()
    payload.update(gps_latitude=0, gps_longitude=0, best_region="eu-xx")
    del payload["vehicle"], payload["overview_jpeg"], payload["best_plate"], payload["travel_direction"]
    (read,) = adapt(payload).reads
    assert (read.lat, read.lon, read.region, read.images) == (None, None, None, ())
    assert "vehicle" not in read.canonical()


@pytest.mark.parametrize(
    ("mutate", "field", "rule"),
    [
        (lambda p: p.pop("best_plate_number"), "best_plate_number", "is required"),
        (lambda p: p.update(best_plate_number=""), "best_plate_number", "must have 1-10 letters or digits"),
        (lambda p: p.update(best_plate_number=123), "best_plate_number", "must be a string"),
        (lambda p: p.update(epoch_start=1609433731), "epoch_start", "must be epoch milliseconds"),
        (lambda p: p.update(epoch_start="1609433731402"), "epoch_start", "must be a number"),
        (lambda p: p.update(best_confidence=-3), "best_confidence", "must be a confidence between 0 and 100"),
        (lambda p: p.update(camera_id=None), "camera_id", "is required"),
        (lambda p: p.update(gps_latitude=123.0), "gps_latitude", "must be a latitude"),
        (lambda p: p["best_plate"].update(plate_crop_jpeg="not*base64"), "best_plate.plate_crop_jpeg", "base64"),
        (lambda p: p["vehicle"]["color"][1].pop("confidence"), "vehicle.color[1].confidence", "is required"),
        (lambda p: p.update(vehicle=[]), "vehicle", "must be an object"),
        (lambda p: p.update(is_preview="no"), "is_preview", "must be true or false"),
        (lambda p: p.update(data_type="alpr_plate"), "data_type", "must be one of alpr_group"),
    ],
)
def test_bad_fields_are_named(mutate: Any, field: str, rule: str) -> None:
    assert_refused(openalpr.adapt, group_v2(), mutate, field, rule)


@pytest.mark.parametrize("body", [b"[]", b'"alpr_group"', b"{", b"\xff"])
def test_bodies_that_are_not_webhooks(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        openalpr.adapt(body, "application/json")

"""OpenALPR / Rekor agent webhooks: every message kind, agent payload versions 2 and 3.

OpenALPR payload files are not in ../shared/data/vendor_samples (their licence does not allow it), so the fixtures
below are written from the shapes documented in ../shared/reference/formats.md §A1: the v2 group of agent 2.8.101,
the v3 group, alert and vehicle of agent 4.1.1, the v2 frame results and the heartbeat of the agent docs.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import orjson
import pytest

from plateledger.adapters import adapter, openalpr
from plateledger.adapters.base import CameraStatus
from plateledger.core.errors import FieldInvalid, InvalidInput

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(48) + b"\xff\xd9"
JPEG_B64 = base64.b64encode(JPEG).decode()
AGENT = "U8HGWA66CW58AV9Q7YB4JJ749CV7WXNQLLNIBT4N"


def top5(*pairs: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"name": name, "confidence": score} for name, score in pairs]


def group_v2() -> dict[str, Any]:
    """An agent 2.8.101 alpr_group (version 2)."""
    return {
        "data_type": "alpr_group",
        "version": 2,
        "epoch_start": 1609433731402,
        "epoch_end": 1609433731667,
        "frame_start": 496243,
        "frame_end": 496247,
        "company_id": "86af2d13-4cb3-4cf4-8818-06647dca8571",
        "agent_uid": AGENT,
        "agent_version": "2.8.101",
        "agent_type": "alprd",
        "camera_id": 106232737,
        "gps_latitude": 40.00997543334961,
        "gps_longitude": -86.14463806152344,
        "country": "us",
        "uuids": [f"{AGENT}-106232737-1609433731402", f"{AGENT}-106232737-1609433731463"],
        "plate_indexes": [0, 0],
        "candidates": [{"plate": "A424761", "confidence": 93.50499725341797, "matches_template": 0}],
        "vehicle_crop_jpeg": JPEG_B64,
        "best_plate": {
            "plate": "A424761",
            "confidence": 93.50499725341797,
            "matches_template": 0,
            "plate_index": 0,
            "region": "us-in",
            "region_confidence": 99,
            "coordinates": [{"x": 270, "y": 131}, {"x": 367, "y": 125}, {"x": 372, "y": 175}, {"x": 276, "y": 181}],
            "plate_crop_jpeg": JPEG_B64,
            "vehicle_region": {"x": 18, "y": 8, "width": 834, "height": 493},
            "vehicle_detected": True,
            "candidates": [{"plate": "A424761", "confidence": 93.50499725341797, "matches_template": 0}],
        },
        "best_confidence": 93.50499725341797,
        "best_uuid": f"{AGENT}-106232737-1609433731402",
        "best_plate_number": "A424761",
        "best_region": "us-in",
        "best_region_confidence": 91.4000015258789,
        "matches_template": False,
        "best_image_width": 1280,
        "best_image_height": 720,
        "travel_direction": 257.44775390625,
        "is_parked": False,
        "is_preview": False,
        "vehicle": {
            "color": top5(("white", 37.67), ("red", 28.61), ("silver-gray", 11.85)),
            "make": top5(("ford", 40.32), ("chevrolet", 10.69)),
            "make_model": top5(("ford_f-150", 18.42), ("ford_f-350", 12.39), ("chevrolet_silverado", 9.2)),
            "body_type": top5(("truck-standard", 99.63), ("suv-standard", 0.34)),
            "year": top5(("2000-2004", 48.16), ("1995-1999", 41.72)),
            "orientation": top5(("135", 86.31), ("180", 12.04)),
        },
        "web_server_config": {"camera_label": "mailbox-east", "agent_label": "home"},
        "direction_of_travel_id": -1,
    }


def group_v3() -> dict[str, Any]:
    """An agent 4.1.1 alpr_group (version 3): paths, overview image, best_uuid_epoch_ms, signature."""
    return {
        "data_type": "alpr_group",
        "version": 3,
        "epoch_start": 1630695989342,
        "epoch_end": 1630695992342,
        "frame_start": 216,
        "frame_end": 236,
        "company_id": "2305d27a-2a29-4864-bf8f-bef5dc9330ef",
        "agent_uid": "TESTTESTTESTTESTTESTTESTTESTTESTTESTTEST",
        "agent_version": "4.1.1",
        "agent_type": "alprd",
        "camera_id": 1000,
        "gps_latitude": 39.0391,
        "gps_longitude": -77.0173,
        "country": "us",
        "uuids": ["TESTTESTTESTTESTTESTTESTTESTTESTTESTTEST-1000-1630695989342"],
        "vehicle_path": [{"x": 10, "y": 20, "w": 300, "h": 200, "t": 0, "f": 216}],
        "plate_path": [{"x": 110, "y": 220, "w": 90, "h": 30, "t": 0, "f": 216}],
        "plate_indexes": [0],
        "candidates": [{"plate": "2BH375", "confidence": 93.25465393, "matches_template": 0}],
        "best_plate": {"plate": "2BH375", "confidence": 93.25465393, "region": "us-ma", "plate_crop_jpeg": JPEG_B64},
        "best_confidence": 93.25465393,
        "best_plate_number": "2BH375",
        "best_region": "us-ma",
        "best_region_confidence": 88,
        "matches_template": 0,
        "vehicle_crop_jpeg": JPEG_B64,
        "overview_jpeg": JPEG_B64,
        "best_uuid": "TESTTESTTESTTESTTESTTESTTESTTESTTESTTEST-1000-1630695989342",
        "best_uuid_epoch_ms": 1630695989342,
        "best_image_width": 1920,
        "best_image_height": 1080,
        "travel_direction": 90,
        "is_parked": False,
        "is_preview": False,
        "vehicle_signature": "AAECAwQ=",
        "vehicle": {
            "color": top5(("black", 80.1), ("blue", 10.5)),
            "make": top5(("toyota", 70.0), ("lexus", 20.0)),
            "make_model": top5(("lexus_rx", 51.0), ("toyota_camry", 40.0)),
            "body_type": top5(("sedan-standard", 91.0)),
            "year": top5(("2015-2019", 60.0)),
            "orientation": top5(("90", 95.0)),
            "missing_plate": top5(("no", 99.0)),
            "is_vehicle": top5(("yes", 99.9)),
        },
        "web_server_config": {"camera_label": "gate", "agent_label": "hq"},
        "direction_of_travel_id": 1,
        "custom_data": "",
    }


def alert_v3() -> dict[str, Any]:
    return {
        "data_type": "alpr_alert",
        "version": 1,
        "epoch_time": 1630695989342,
        "agent_uid": "TESTTESTTESTTESTTESTTESTTESTTESTTESTTEST",
        "alert_list": "blacklist",
        "alert_list_id": 155,
        "site_name": "unnamed",
        "camera_name": "unnamed",
        "camera_number": 1000,
        "plate_number": "2BH375",
        "description": "test",
        "list_type": "Blacklist",
        "group": group_v3(),
    }


def results_v2() -> dict[str, Any]:
    """The agent docs' alpr_results frame (version 2), with two plates in the frame."""
    result = {
        "plate": "AE1T3E",
        "confidence": 93.904076,
        "matches_template": 1,
        "plate_index": 0,
        "region": "mo",
        "region_confidence": 34,
        "processing_time_ms": 17.029213,
        "requested_topn": 10,
        "coordinates": [{"x": 110, "y": 300}, {"x": 227, "y": 295}, {"x": 227, "y": 348}, {"x": 113, "y": 352}],
        "vehicle_region": {"x": 0, "y": 34, "width": 433, "height": 433},
        "candidates": [
            {"plate": "AE1T3E", "confidence": 93.904076, "matches_template": 1},
            {"plate": "AET3E", "confidence": 83.211739, "matches_template": 0},
        ],
    }
    second = {**result, "plate": "7-xyz 12", "confidence": 81, "plate_index": 1, "region": "tx"}
    return {
        "version": 2,
        "data_type": "alpr_results",
        "epoch_time": 1490574589596,
        "img_width": 1280,
        "img_height": 720,
        "processing_time_ms": 259.132385,
        "error": False,
        "regions_of_interest": [{"x": 60, "y": 600, "width": 620, "height": 120}],
        "results": [result, second],
        "uuid": "unspecified-cam16488027-1490574589596",
        "camera_id": 16488027,
        "agent_uid": "YYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY",
        "agent_version": "2.3.111",
        "agent_type": "alprd",
        "site_id": "unspecified",
        "company_id": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
    }


def vehicle_v3() -> dict[str, Any]:
    group = group_v3()
    for key in ("best_plate", "best_plate_number", "best_confidence", "best_region", "candidates", "plate_path"):
        group.pop(key)
    return {**group, "data_type": "vehicle"}


def heartbeat() -> dict[str, Any]:
    return {
        "version": 1,
        "data_type": "heartbeat",
        "company_id": "xxxxxxxx-yyyy-yyyy-yyyy-zzzzzzzzzzzz",
        "site_id": "your-unique-sitename",
        "timestamp": 1453426302097,
        "system_uptime_seconds": 2595123,
        "daemon_uptime_seconds": 2594832,
        "cpu_cores": 2,
        "cpu_usage_percent": 18.579235,
        "beanstalk_queue_size": 0,
        "video_streams": [
            {
                "camera_id": 1630410444,
                "fps": 12,
                "is_streaming": True,
                "url": "rtsp://cam/1",
                "last_update": 1453426302086,
            },
            {
                "camera_id": 1630410445,
                "fps": 0,
                "is_streaming": False,
                "url": "rtsp://cam/2",
                "last_update": 1453426000000,
            },
        ],
    }


def adapt(payload: Any, frames: openalpr.Frames = "group") -> openalpr.Adapted:
    return openalpr.adapt_with(orjson.dumps(payload), frames=frames)


def test_registry_finds_the_adapter() -> None:
    assert adapter("openalpr") is openalpr.adapt


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
    payload = copy.deepcopy(group_v2())
    mutate(payload)
    with pytest.raises(FieldInvalid) as err:
        adapt(payload)
    assert err.value.field == field
    assert rule in err.value.rule


@pytest.mark.parametrize("body", [b"[]", b'"alpr_group"', b"{", b"\xff"])
def test_bodies_that_are_not_webhooks(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        openalpr.adapt(body, "application/json")

"""OpenALPR / Rekor agent payloads written from the shapes documented in ../shared/reference/formats.md §A1
(the payload files themselves are not redistributable): the v2 group of agent 2.8.101, the v3 group, alert and
vehicle of agent 4.1.1, the v2 frame results and the heartbeat of the agent docs."""

from __future__ import annotations

import base64
from typing import Any

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

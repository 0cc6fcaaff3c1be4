"""OpenALPR / Rekor agent (``alprd``) and web-server webhooks, agent payload versions 2 and 3.

Every message is a JSON object whose ``data_type`` says what it is:

* ``alpr_group`` — one vehicle, sent when its plate has left the view: the read Plateledger stores.
* ``alpr_results`` — one video frame. The agent sends many per vehicle and then the group that sums them up, so
  by default (``frames="group"``) frames are collapsed into that group: reported in ``Adapted.ignored``, not
  stored. ``frames="each"`` (:func:`adapt_each_frame`) stores every frame, for agents with grouping turned off.
* ``alpr_alert`` — the web server's hot-list hit, wrapping a full ``alpr_group``: the group is stored and the
  vendor's alert is recorded in ``SourceRead.vendor_alert`` (Plateledger's own hot-list matching still applies).
* ``vehicle`` — a vehicle seen without a readable plate: not stored (Plateledger keeps plate reads only).
* ``heartbeat`` — agent health every minute: one :class:`CameraStatus` per video stream.
* the web server's test ping (``{"openalpr_webhook": "test"}``): acknowledged, nothing stored.

Times are epoch milliseconds; confidences run 0-100 (``best_confidence``, the agent's weighted OCR confidence
over the group's frames). Region codes are ``us-mo`` or, in old frame results, a bare ``mo`` of the agent's
``country`` (``us`` when not sent).
"""

from __future__ import annotations

from typing import Literal

from plateledger.adapters import normalise as n
from plateledger.adapters.base import Adapted, CameraStatus, Image, SourceRead
from plateledger.core.errors import FieldInvalid, InvalidInput

Frames = Literal["group", "each"]
#: Country of a bare region code when the message names none (the agent's default ``country``).
DEFAULT_COUNTRY = "us"
KINDS = ("alpr_group", "alpr_results", "alpr_alert", "vehicle", "heartbeat")


def adapt(body: bytes, content_type: str) -> Adapted:
    """Frames collapsed into the group that follows them (the default)."""
    return adapt_with(body, frames="group")


def adapt_each_frame(body: bytes, content_type: str) -> Adapted:
    """Every ``alpr_results`` frame stored as a read (agents that send no groups)."""
    return adapt_with(body, frames="each")


def adapt_with(body: bytes, *, frames: Frames = "group") -> Adapted:
    root = n.parse_json(body)
    if not root.is_object():
        raise InvalidInput("an OpenALPR webhook body is a JSON object with a data_type")
    adapted = Adapted()
    if root.get("data_type") is None and root.get("openalpr_webhook") is not None:
        adapted.ignored.append("web server test ping (openalpr_webhook): nothing to store")
        return adapted
    kind = root.require("data_type").text(64)
    if kind == "alpr_group":
        _group(root, adapted)
    elif kind == "alpr_alert":
        _group(root.require("group"), adapted, vendor_alert=_alert_text(root))
    elif kind == "alpr_results":
        _frames(root, adapted, frames)
    elif kind == "heartbeat":
        _heartbeat(root, adapted)
    elif kind == "vehicle":
        adapted.ignored.append(
            "vehicle: a vehicle seen without a readable plate is not stored (Plateledger keeps plate reads only)"
        )
    else:
        raise FieldInvalid("data_type", f"must be one of {', '.join(KINDS)}")
    return adapted


def _country(node: n.Node) -> str:
    found = node.get("country")
    return found.text(64) if found is not None else DEFAULT_COUNTRY


def _region(node: n.Node, key: str, country: str) -> str | None:
    found = node.get(key)
    return n.region(found.text(64), country) if found is not None else None


def _top(vehicle: n.Node | None, key: str) -> str | None:
    """The best-scored ``name`` of a top-N attribute list (``vehicle.color``: ``[{name, confidence}]``)."""
    if vehicle is None or (found := vehicle.get(key)) is None:
        return None
    choices = []
    for item in found.items(100):
        name = item.require("name").text(n.MAX_ATTRIBUTE)
        choices.append((name, item.require("confidence").number()))
    best = n.best(choices)
    return None if best is None else best[0]


def _group(group: n.Node, adapted: Adapted, vendor_alert: str | None = None) -> None:
    if (preview := group.get("is_preview")) is not None and preview.boolean():
        adapted.ignored.append(f"{group.path or 'alpr_group'}: preview group; the final group of this vehicle follows")
        return
    start = group.require("epoch_start")
    score = group.require("best_confidence")
    conf, raw_conf = n.confidence(score, 100)
    vehicle = group.get("vehicle")
    if vehicle is not None:
        vehicle.obj()
    make = _top(vehicle, "make")
    make_model = _top(vehicle, "make_model")
    # "ford_f-150": kept as the model only when it is a model of the best make (the two lists disagree often).
    model = None
    if make and make_model and make_model.lower().startswith(make.lower() + "_"):
        model = make_model[len(make) + 1 :] or None
    position = n.position(group.get("gps_latitude"), group.get("gps_longitude"))
    travel = group.get("travel_direction")
    uuid = group.get("best_uuid")
    adapted.reads.append(
        SourceRead(
            plate=n.plate(group.require("best_plate_number")),
            ts_ms=n.epoch_ms(start),
            camera=group.require("camera_id").ident(),
            source_ts=start.raw(),
            region=_region(group, "best_region", _country(group)),
            read_id=n.read_id(uuid.text(256) if uuid is not None else None),
            lat=position[0] if position else None,
            lon=position[1] if position else None,
            confidence=conf,
            source_confidence=raw_conf,
            make=make,
            model=model,
            color=_top(vehicle, "color"),
            vehicle_type=_top(vehicle, "body_type"),
            direction=n.direction(travel) if travel is not None else None,
            vendor_alert=vendor_alert,
            images=_images(group),
        )
    )


def _images(group: n.Node) -> tuple[Image, ...]:
    images = []
    best_plate = group.get("best_plate")
    if best_plate is not None and (crop := best_plate.get("plate_crop_jpeg")) is not None:
        images.append(n.image_b64(crop, "plate"))
    if (overview := group.get("overview_jpeg")) is not None:
        images.append(n.image_b64(overview, "overview"))
    return tuple(images)


def _alert_text(alert: n.Node) -> str:
    """``Blacklist 'blacklist' (list 155): test`` from the alert's list type, list name, id and description."""
    parts = {}
    for key in ("list_type", "alert_list", "alert_list_id", "description"):
        node = alert.get(key)
        parts[key] = node.raw() if node is not None else ""
    text = parts["list_type"] or "alert"
    if parts["alert_list"]:
        text += f" {parts['alert_list']!r}"
    if parts["alert_list_id"]:
        text += f" (list {parts['alert_list_id']})"
    if parts["description"]:
        text += f": {parts['description']}"
    return text[:256]


def _frames(root: n.Node, adapted: Adapted, frames: Frames) -> None:
    results = root.require("results").items()
    uuid = root.get("uuid")
    name = uuid.text(256) if uuid is not None else "alpr_results"
    if frames == "group":
        adapted.ignored.append(
            f"{name}: {len(results)} per-frame plate(s) collapsed into the alpr_group that follows for each vehicle"
        )
        return
    epoch = root.require("epoch_time")
    ts_ms, camera, country = n.epoch_ms(epoch), root.require("camera_id").ident(), _country(root)
    for index, result in enumerate(results):
        conf, raw_conf = n.confidence(result.require("confidence"), 100)
        adapted.reads.append(
            SourceRead(
                plate=n.plate(result.require("plate")),
                ts_ms=ts_ms,
                camera=camera,
                source_ts=epoch.raw(),
                region=_region(result, "region", country),
                read_id=n.read_id(f"{name}#{index}") if uuid is not None else None,
                confidence=conf,
                source_confidence=raw_conf,
            )
        )


def _heartbeat(root: n.Node, adapted: Adapted) -> None:
    ts_ms = n.epoch_ms(root.require("timestamp"))
    streams = root.get("video_streams")
    if streams is None or not streams.items():
        adapted.ignored.append("heartbeat without video_streams: no camera to report on")
        return
    for stream in streams.items():
        updated = stream.get("last_update")
        streaming = stream.get("is_streaming")
        healthy = streaming.boolean() if streaming is not None else True
        fps = stream.get("fps")
        detail = ("streaming" if healthy else "not streaming") + (f" at {fps.number():g} fps" if fps else "")
        adapted.statuses.append(
            CameraStatus(
                camera=stream.require("camera_id").ident(),
                ts_ms=n.epoch_ms(updated) if updated is not None else ts_ms,
                healthy=healthy,
                detail=detail,
            )
        )

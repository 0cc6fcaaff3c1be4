"""Plate Recognizer (ParkPow): Snapshot API responses, Snapshot webhooks and Stream ``recognition`` webhooks.

Accepted bodies, JSON or ``multipart/form-data`` (a ``json`` field, and an ``upload`` image part that becomes the
overview image of every read of that frame):

* a Snapshot API response ``{results, camera_id, timestamp, ...}`` (what a script that calls the API forwards),
  in the standard shape or the ``detection_mode: vehicle`` shape (``{plate: {props: {plate, region}}, vehicle}``);
* a Snapshot webhook ``{hook: {event: "image.done"}, data: <Snapshot response>}``;
* a Stream webhook ``{hook: {event: "recognition", id: <camera>}, data: {camera_id, timestamp, results}}``.

Confidence is the OCR ``score`` (0-1): how sure the engine is of the text, which is what hot-list matching
depends on; ``dscore`` (detection) is not kept. ``timestamp`` is UTC (ISO 8601; a time without zone is UTC, as
the Snapshot webhook sends it); Stream's ``timestamp_local`` is not used. Plates come lower-case and are kept as
read. Region codes are ``us-ca`` (subdivision) or ``gb`` (country only: no region).
"""

from __future__ import annotations

from plateledger.adapters import normalise as n
from plateledger.adapters.base import Adapted, Image, SourceRead
from plateledger.core.errors import FieldInvalid, InvalidInput

#: Attribute values that say the engine could not tell: kept as absent.
UNKNOWN = frozenset({"unknown", ""})


def adapt(body: bytes, content_type: str) -> Adapted:
    images: tuple[Image, ...] = ()
    if n.is_multipart(content_type):
        body, images = _multipart(body, content_type)
    root = n.parse_json(body)
    if not root.is_object():
        raise InvalidInput("a Plate Recognizer body is a JSON object (a Snapshot response or a webhook)")
    adapted = Adapted()
    hook = root.get("hook")
    if hook is None:
        _snapshot(root, None, images, adapted)
        return adapted
    event = hook.require("event").text(64)
    if event not in ("recognition", "image.done"):
        adapted.ignored.append(f"hook.event {event[:64]!r}: not a recognition, nothing to store")
        return adapted
    fallback = hook.get("id") if event == "recognition" else None  # Stream names the camera in hook.id
    _snapshot(root.require("data"), fallback, images, adapted)
    return adapted


def _multipart(body: bytes, content_type: str) -> tuple[bytes, tuple[Image, ...]]:
    parts = {part.name: part for part in n.multipart_parts(body, content_type)}
    if "json" not in parts:
        raise FieldInvalid("json", "is required: the multipart body carries the payload in a 'json' field")
    images: tuple[Image, ...] = ()
    if (upload := parts.get("upload")) is not None and upload.data:
        images = (n.image_bytes(n.Node(None, "upload"), upload.data, "overview", n.MAX_IMAGE_BYTES),)
    return parts["json"].data, images


def _snapshot(data: n.Node, fallback: n.Node | None, images: tuple[Image, ...], adapted: Adapted) -> None:
    data.obj()
    camera_node = data.get("camera_id") or fallback
    # A Snapshot response made without camera_id has "camera_id": null: the reads get the camera of the URL
    # (?camera=ID), or are refused by the storing layer as naming no camera.
    camera = camera_node.ident() if camera_node is not None else ""
    stamp = data.require("timestamp")
    ts_ms = n.iso_ms(stamp)
    results = data.require("results").items()
    if not results:
        adapted.ignored.append(f"{data.path or 'body'}: no plate in the image")
    for result in results:
        result.obj()
        plate_node = result.get("plate")
        if plate_node is None and result.get("vehicle") is None:
            raise FieldInvalid(f"{result.path}.plate", "is required")
        if plate_node is None or plate_node.is_object():
            read = _vehicle_mode(plate_node)
            if read is None:
                adapted.ignored.append(f"{result.path}: a vehicle without a readable plate is not stored")
                continue
            plate, (conf, raw_conf), region_code = read
        else:
            plate = n.plate(plate_node)
            conf, raw_conf = n.confidence(result.require("score"), 1)
            region_node = result.get("region")
            region_code = _code(region_node.require("code")) if region_node is not None else None
        vehicle = result.get("vehicle")
        make, model = _make_model(result, vehicle)
        travel = result.get("direction")
        adapted.reads.append(
            SourceRead(
                plate=plate,
                ts_ms=ts_ms,
                camera=camera,
                source_ts=stamp.raw(),
                region=n.region(region_code),
                confidence=conf,
                source_confidence=raw_conf,
                make=make,
                model=model,
                color=_best_value(_props(vehicle).get("color") or result.get("color"), "color"),
                vehicle_type=_known(vehicle.get("type")) if vehicle is not None else None,
                direction=n.direction(travel) if travel is not None else None,
                images=images,
            )
        )


def _vehicle_mode(plate: n.Node | None) -> tuple[str, tuple[float, str], str | None] | None:
    """(plate, confidence, region code) of a ``detection_mode: vehicle`` result; None for a vehicle without a
    readable plate (``plate`` null, or no plate text among its ``props``)."""
    if plate is None:
        return None
    props = plate.require("props")
    candidates = props.require("plate").items()
    if not candidates:
        return None
    best = max(candidates, key=lambda c: c.require("score").number())
    regions = props.get("region")
    region_code = None
    if regions is not None and (found := regions.items()):
        region_code = _code(max(found, key=lambda c: c.require("score").number()).require("value"))
    return n.plate(best.require("value")), n.confidence(best.require("score"), 1), region_code


def _code(node: n.Node) -> str:
    return node.text(64)


def _props(vehicle: n.Node | None) -> n.Node:
    """The ``props`` of a vehicle-mode vehicle, or an empty object (the standard shape has none)."""
    props = vehicle.get("props") if vehicle is not None else None
    return props if props is not None else n.Node({}, "")


def _known(node: n.Node | None) -> str | None:
    if node is None:
        return None
    text = node.text(n.MAX_ATTRIBUTE).strip()
    return None if text.lower() in UNKNOWN else text


def _best_value(node: n.Node | None, key: str) -> str | None:
    """The best-scored value of ``[{color: "red", score}]`` (standard) or ``[{value: "red", score}]`` (vehicle)."""
    if node is None:
        return None
    choices = []
    for item in node.items(100):
        name = item.get(key) or item.require("value")
        choices.append((name.text(n.MAX_ATTRIBUTE), item.require("score").number()))
    best = n.best((name, score) for name, score in choices if name.strip().lower() not in UNKNOWN)
    return None if best is None else best[0]


def _make_model(result: n.Node, vehicle: n.Node | None) -> tuple[str | None, str | None]:
    """Make and model of the best-scored ``model_make`` (standard) or ``props.make_model`` (vehicle) candidate."""
    found = _props(vehicle).get("make_model") or result.get("model_make")
    if found is None:
        return None, None
    best: tuple[str | None, str | None, float] | None = None
    for item in found.items(100):
        score = item.require("score").number()
        if best is None or score > best[2]:
            best = (_known(item.get("make")), _known(item.get("model")), score)
    return (None, None) if best is None else (best[0], best[1])

"""Genetec AutoVu SharpV reads pushed as JSON (the SharpV's HTTP export; formats.md §A5).

One JSON object per read (a JSON array of them is accepted too). Every value is a string, numbers included.
Time comes split into ``DateUtc`` (``MM/DD/YYYY``, also ``YYYY-MM-DD``) and ``TimeUtc`` (``HH:MM:SS[.fff]``);
the local pair is ignored. ``ConfidenceScore`` runs 0-100. The camera is the SharpV's ``SharpName`` (the unit),
else ``CameraName`` as named (runs of whitespace become one space). ``State`` is a bare state or
province code: it is passed on as such and the store gives it the owner agency's country. ``Relative Motion``
("Moving Away", "Approaching") is relative to the camera, not a compass heading, so no direction is stored.
``IsHit: Yes`` (the SharpV's own hot-list hit) is recorded as the vendor alert. ``PlateImage`` is the plate
crop, ``ContextImage`` (or ``OverviewImage``) the scene; an image that is not valid base64 JPEG/PNG is left out
(named in ``ignored``) and the read kept.
"""

from __future__ import annotations

import re

from plateledger.adapters import normalise as n
from plateledger.adapters.base import Adapted, Image, SourceRead
from plateledger.core.errors import FieldInvalid, InvalidInput, PayloadTooLarge

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_BLANK = {"", "-", "unknown"}


def adapt(body: bytes, content_type: str) -> Adapted:
    root = n.parse_json(body)
    adapted = Adapted()
    items = root.items() if root.is_array() else [root]
    for item in items:
        if not item.is_object() or not (item.has("Plate") and item.has("DateUtc") and item.has("TimeUtc")):
            raise InvalidInput(f"{item.where()}: not a Genetec SharpV read (Plate, DateUtc and TimeUtc required)")
        adapted.reads.append(_read(item, adapted))
    return adapted


def _camera(item: n.Node) -> str:
    node = item.get("SharpName")
    if node is not None and node.text(256).strip():
        return node.ident()
    name = item.require("CameraName")
    text = " ".join(name.text(256).split())
    return n.Node(text, name.path).ident()


def _ts(item: n.Node) -> tuple[int, str]:
    date, time = item.require("DateUtc"), item.require("TimeUtc")
    date_text, time_text = date.text(32).strip(), time.text(32).strip()
    fmt = "%Y-%m-%d" if _ISO_DATE.fullmatch(date_text) else "%m/%d/%Y"
    fmt += " %H:%M:%S.%f" if "." in time_text else " %H:%M:%S"
    raw = f"{date_text} {time_text}"
    return n.formatted_ms(n.Node(raw, f"{date.path}+{time.path}"), fmt), raw


def _attribute(attributes: n.Node | None, name: str) -> str | None:
    node = attributes.get(name) if attributes is not None else None
    if node is None:
        return None
    text = node.text(64).strip()
    return None if text.lower() in _BLANK else text


def _images(item: n.Node, adapted: Adapted) -> tuple[Image, ...]:
    images: list[Image] = []
    for key, kind in (("PlateImage", "plate"), ("ContextImage", "overview"), ("OverviewImage", "overview")):
        node = item.get(key)
        if node is None or (isinstance(node.value, str) and not node.value.strip()):
            continue
        if kind == "overview" and any(i.kind == "overview" for i in images):
            continue
        try:
            images.append(n.image_b64(node, "plate" if kind == "plate" else "overview"))
        except (FieldInvalid, PayloadTooLarge) as problem:
            adapted.ignored.append(f"{problem.detail}; the read was kept without it")
    return tuple(images)


def _read(item: n.Node, adapted: Adapted) -> SourceRead:
    ts_ms, source_ts = _ts(item)
    attributes = item.get("Attributes")
    if attributes is not None:
        attributes.obj()
    score = item.get("ConfidenceScore")
    conf, source_conf = n.confidence(score, 100, allow_text=True) if score is not None else (None, None)
    state = item.get("State")
    state_text = state.text(16).strip() if state is not None else ""
    state_text = state_text or (_attribute(attributes, "State Name") or "")
    region = n.region(state_text) or (state_text.upper() if re.fullmatch(r"[A-Za-z]{2}", state_text) else None)
    fix = n.position(item.get("Latitude"), item.get("Longitude"))
    hit = item.get("IsHit")
    vehicle_id = item.get("VehicleID")
    return SourceRead(
        plate=n.plate(item.require("Plate")),
        ts_ms=ts_ms,
        camera=_camera(item),
        source_ts=source_ts,
        region=region,
        read_id=n.read_id(vehicle_id.text(256)) if vehicle_id is not None else None,
        lat=fix[0] if fix else None,
        lon=fix[1] if fix else None,
        confidence=conf,
        source_confidence=source_conf,
        make=_attribute(attributes, "Vehicle Make"),
        model=_attribute(attributes, "Vehicle Model"),
        color=_attribute(attributes, "Vehicle Color"),
        vehicle_type=_attribute(attributes, "Vehicle Type"),
        vendor_alert="genetec: IsHit" if hit is not None and hit.text(16).strip().lower() == "yes" else None,
        images=_images(item, adapted),
    )

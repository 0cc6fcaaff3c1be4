"""Hikvision ISAPI ``EventNotificationAlert`` (XML, namespace ``http://www.hikvision.com/ver20/XMLSchema``).

Cameras post it alone (``application/xml``) or as ``multipart/form-data`` with the XML part (``anpr.xml``) and
``licensePlatePicture.jpg`` (the plate crop) and ``detectionPicture.jpg`` (the overview). The XML is parsed with
``defusedxml`` with DTDs forbidden: no entity expansion (billion laughs), no external entities, no DTD fetch.

* ``eventType`` ``ANPR`` is a read: ``ANPR/licensePlate`` (``unknown`` or empty: no plate, ignored), ``dateTime``
  (ISO 8601 with the camera's offset; kept as ``source_ts``), ``ANPR/confidenceLevel`` (0-100),
  ``ANPR/vehicleInfo/color`` and ``ANPR/vehicleType`` (``unknown``/the generic ``vehicle`` dropped),
  ``DeviceGPSInfo`` (degrees, minutes, seconds and hemisphere; 0/0 is no fix), ``UUID`` as the read id,
  ``ANPR/vehicleListName`` ``blockList``/``blackList`` as the vendor alert.
* ``eventType`` ``videoloss`` is Hikvision's heartbeat (``eventState`` ``inactive``: the video is fine) and gives a
  camera status; any other event type is ignored.
* The camera is ``macAddress/channelID`` (``ipAddress`` when the MAC is missing): an NVR posts for each channel.

Not mapped: ``ANPR/country`` (Hikvision's own numbering, not ISO 3166) and ``countryAbbreviation`` name no
subdivision, so the region is None; ``vehicleLogoRecog`` is a numeric brand code without a published table;
``direction`` (``forward``/``reverse``) is relative to the camera, not a compass heading.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree

from plateledger.adapters.base import Adapted, CameraStatus, Image, SourceRead
from plateledger.adapters.normalise import (
    MAX_IMAGE_BYTES,
    Node,
    confidence,
    image_bytes,
    is_multipart,
    iso_ms,
    multipart_parts,
    plate,
    position,
    read_id,
)
from plateledger.core.errors import FieldInvalid, InvalidInput, PayloadTooLarge

#: Largest XML document accepted (Hikvision's are a few kB; the pictures travel as their own parts).
MAX_XML_BYTES = 1024 * 1024
#: Deepest element nesting accepted (Hikvision's documents are 5 levels deep).
MAX_DEPTH = 32
_NO_VALUE = {"", "unknown", "none", "null"}
_IMAGES: dict[str, Any] = {"licenseplatepicture": "plate", "detectionpicture": "overview"}


def adapt(body: bytes, content_type: str) -> Adapted:
    """One ISAPI notification (XML, or multipart with the XML and its pictures) to reads or a camera status."""
    images: list[Image] = []
    document = body
    if is_multipart(content_type):
        found = multipart_parts(body, content_type)
        xml = [p for p in found if "xml" in (p.content_type or "") or (p.filename or "").lower().endswith(".xml")]
        if not xml:
            raise InvalidInput("multipart body has no XML part (anpr.xml)")
        document = xml[0].data
        for part in found:
            kind = _IMAGES.get((part.filename or part.name).rsplit(".", 1)[0].lower())
            if kind is not None and part.data:
                images.append(image_bytes(Node(None, part.filename or part.name), part.data, kind, MAX_IMAGE_BYTES))
    root = parse_xml(document)
    event = root.require("eventType").text(64).strip()
    camera = _camera(root)
    if event.lower() == "videoloss":
        state = root.get("eventState")
        healthy = state is None or state.text(64).strip().lower() == "inactive"
        status = CameraStatus(camera, _time(root)[0], healthy, "heartbeat" if healthy else "video loss")
        return Adapted(statuses=[status])
    if event.upper() != "ANPR":
        return Adapted(ignored=[f"eventType {event[:64]!r} is not a read"])
    anpr = root.require("ANPR")
    text = anpr.require("licensePlate")
    if text.text(64).strip().lower() in _NO_VALUE:
        return Adapted(ignored=["ANPR event without a plate"])
    return Adapted(reads=[_read(root, anpr, text, camera, tuple(images))])


def _read(root: Node, anpr: Node, text: Node, camera: str, images: tuple[Image, ...]) -> SourceRead:
    ts_ms, source_ts = _time(root)
    level = anpr.get("confidenceLevel")
    score, source_score = (None, None)
    if level is not None and _present(level):
        score, source_score = confidence(level, 100, allow_text=True)
    info = anpr.get("vehicleInfo")
    fix = _gps(root.get("DeviceGPSInfo"))
    listed = _value(anpr.get("vehicleListName"))
    return SourceRead(
        plate=plate(text),
        ts_ms=ts_ms,
        camera=camera,
        source_ts=source_ts,
        read_id=read_id(_value(root.get("UUID"))),
        lat=fix[0] if fix else None,
        lon=fix[1] if fix else None,
        confidence=score,
        source_confidence=source_score,
        color=_value(info.get("color")) if info is not None and info.is_object() else None,
        vehicle_type=_value(anpr.get("vehicleType"), also_none={"vehicle"}),
        vendor_alert=listed if listed is not None and listed.lower() in {"blocklist", "blacklist"} else None,
        images=images,
    )


def _present(node: Node) -> bool:
    return isinstance(node.value, str) and node.value.strip() != ""


def _value(node: Node | None, also_none: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The stripped text of an optional element; None when absent, empty, ``unknown`` or in ``also_none``."""
    if node is None:
        return None
    text = node.text(128).strip()
    return None if text.lower() in _NO_VALUE or text.lower() in also_none else text


def _time(root: Node) -> tuple[int, str]:
    stamp = root.require("dateTime")
    return iso_ms(stamp), stamp.text(64)


def _camera(root: Node) -> str:
    device = _value(root.get("macAddress")) or _value(root.get("ipAddress"))
    if device is None:
        raise FieldInvalid("macAddress", "is required (or ipAddress)")
    channel = _value(root.get("channelID")) or "1"
    camera = f"{device.lower()}/{channel}"
    if len(camera) > 64:
        raise FieldInvalid("macAddress", "with channelID must be at most 64 characters")
    return camera


def _gps(gps: Node | None) -> tuple[float, float] | None:
    if gps is None or not gps.is_object():
        return None
    coordinates = []
    for axis, negative in (("Latitude", "S"), ("Longitude", "W")):
        node = gps.get(axis)
        if node is None:
            return None
        degrees = sum(
            node.require(part).number(allow_text=True) / scale
            for part, scale in (("degree", 1), ("minute", 60), ("sec", 3600))
        )
        hemisphere = _value(gps.get(f"{axis.lower()}Type")) or ""
        coordinates.append(Node(-degrees if hemisphere.upper() == negative else degrees, node.path))
    return position(coordinates[0], coordinates[1])


def parse_xml(document: bytes) -> Node:
    """The document element of an XML document as a :class:`Node` (elements by local name: an element with
    children is an object, a repeated element an array, a leaf its text), refusing DTDs and entities."""
    if len(document) > MAX_XML_BYTES:
        raise PayloadTooLarge(f"XML document larger than {MAX_XML_BYTES} bytes")
    try:
        element = defusedxml.ElementTree.fromstring(document, forbid_dtd=True)
    except defusedxml.DefusedXmlException as refused:
        raise InvalidInput(f"XML refused: {type(refused).__name__} (DTDs and entities are not accepted)") from None
    except ParseError as exc:
        raise InvalidInput(f"body is not well-formed XML: {str(exc)[:200]}") from None
    if _local(element.tag) != "EventNotificationAlert":
        raise InvalidInput(f"XML document is a {_local(element.tag)[:64]!r}, not an EventNotificationAlert")
    return Node(_tree(element, 1))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _tree(element: Element, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"XML nested deeper than {MAX_DEPTH} elements")
    children = list(element)
    if not children:
        return (element.text or "").strip()
    value: dict[str, Any] = {}
    for child in children:
        key, item = _local(child.tag), _tree(child, depth + 1)
        if key not in value:
            value[key] = item
        elif isinstance(value[key], list):
            value[key].append(item)
        else:
            value[key] = [value[key], item]
    return value

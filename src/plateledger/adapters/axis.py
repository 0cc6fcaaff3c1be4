"""AXIS License Plate Verifier (the FF Group ``fflprapp`` ACAP) event, posted as JSON.

* plate: ``plateUTF8``, else ``plateText``, ``plateUnicode``, ``plateASCII`` (an event without one is ignored);
* time: ``capture_timestamp``, epoch milliseconds sent as a string (kept as ``source_ts``); the local
  ``datetime`` (``20210611 130538252``) has no zone and is not used;
* confidence: ``plateConfidence``, a string on 0-1;
* camera: ``camera_info.SerialNumber`` (else ``camera_info.MACAddress``);
* position: ``geotag.lat``/``geotag.lon`` (0/0: no fix).

Not mapped: ``plateCountry`` is an ISO alpha-3 country (``POL``) and names no subdivision, so the region is None;
``carMoveDirection`` (``in``/``out``) is relative to the camera, not a heading; ``imagesURI`` are paths on the
camera, not pictures (an adapter does no I/O). Each event is one read; an application configured to post every
``carState`` of a vehicle posts several reads.
"""

from __future__ import annotations

from plateledger.adapters.base import Adapted, SourceRead
from plateledger.adapters.normalise import Node, confidence, epoch_ms, parse_json, plate, position
from plateledger.core.errors import FieldInvalid

PLATE_FIELDS = ("plateUTF8", "plateText", "plateUnicode", "plateASCII")


def adapt(body: bytes, content_type: str) -> Adapted:
    """One License Plate Verifier event to one read (or nothing, for an event without a plate)."""
    root = parse_json(body)
    root.obj()
    text = next((n for n in (root.get(f) for f in PLATE_FIELDS) if n is not None and n.text(64).strip()), None)
    if text is None:
        return Adapted(ignored=["event without a plate"])
    stamp = root.require("capture_timestamp")
    score = root.get("plateConfidence")
    info = root.require("camera_info")
    camera = info.get("SerialNumber") or info.require("MACAddress")
    geotag = root.get("geotag")
    fix = position(geotag.get("lat"), geotag.get("lon")) if geotag is not None else None
    ts_ms, source_ts = _epoch_ms_text(stamp)
    level, source_level = confidence(score, 1, allow_text=True) if score is not None else (None, None)
    read = SourceRead(
        plate=plate(text),
        ts_ms=ts_ms,
        camera=camera.ident(),
        source_ts=source_ts,
        lat=fix[0] if fix else None,
        lon=fix[1] if fix else None,
        confidence=level,
        source_confidence=source_level,
    )
    return Adapted(reads=[read])


def _epoch_ms_text(node: Node) -> tuple[int, str]:
    """Epoch milliseconds sent as digits in a string (``"1623405938252"``) or as a number, with the raw text.
    (normalise.epoch_ms takes JSON numbers only.)"""
    raw = node.raw()
    if isinstance(node.value, str):
        digits = raw.strip()
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 16:
            raise FieldInvalid(node.where(), "must be epoch milliseconds (digits)")
        return epoch_ms(Node(int(digits), node.path)), raw
    return epoch_ms(node), raw

"""Survision cameras' ``anpr.decision`` JSON push (formats.md §A6).

``{"anpr": {"@date": "<epoch ms as a string>", "@session", "@id", "decision": {"@plate", "@reliability" (0-100),
"@context_isoAlpha2", "@direction", "jpeg": "<base64>", ...}}}``. Every value is a string.

The body does not name the camera: the camera sends its serial number in the ``survision-serial-number``
header, which the endpoint hands over (or ``?camera=`` in the URL); the adapter leaves ``camera`` empty. The
context is a country (``FR``), not a subdivision, so no region is stored. ``@direction`` (``front``, ``rear``,
``unknown``) is relative to the camera, not a compass heading, so no direction is stored. ``jpeg`` is the
scene image. A decision without a plate (``@plate`` empty) is ignored with its reason.
"""

from __future__ import annotations

from plateledger.adapters import normalise as n
from plateledger.adapters.base import Adapted, Image, SourceRead
from plateledger.core.errors import FieldInvalid, InvalidInput, PayloadTooLarge


def adapt(body: bytes, content_type: str) -> Adapted:
    root = n.parse_json(body)
    if not root.is_object() or not root.has("anpr"):
        raise InvalidInput("not a Survision message: a JSON object with an anpr member is required")
    anpr = root.require("anpr")
    anpr.obj()
    date = anpr.require("@date")
    source_ts = date.raw()
    ts_ms = n.epoch_ms(n.Node(date.number(allow_text=True), date.path))
    decision = anpr.get("decision")
    adapted = Adapted()
    if decision is None:
        adapted.ignored.append("anpr: no decision (nothing read)")
        return adapted
    decisions = decision.items() if decision.is_array() else [decision]
    for item in decisions:
        item.obj()
        plate_node = item.get("@plate")
        if plate_node is None or not plate_node.text(64).strip():
            adapted.ignored.append(f"{item.where()}: no plate read")
            continue
        reliability = item.get("@reliability")
        conf, source_conf = n.confidence(reliability, 100, allow_text=True) if reliability else (None, None)
        adapted.reads.append(
            SourceRead(
                plate=n.plate(plate_node),
                ts_ms=ts_ms,
                camera="",
                source_ts=source_ts,
                confidence=conf,
                source_confidence=source_conf,
                images=_image(item, adapted),
            )
        )
    return adapted


def _image(item: n.Node, adapted: Adapted) -> tuple[Image, ...]:
    node = item.get("jpeg")
    if node is None or (isinstance(node.value, str) and not node.value.strip()):
        return ()
    try:
        return (n.image_b64(node, "overview"),)
    except (FieldInvalid, PayloadTooLarge) as problem:
        adapted.ignored.append(f"{problem.detail}; the read was kept without it")
        return ()

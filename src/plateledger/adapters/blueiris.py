"""Blue Iris alert bodies carrying CodeProject.AI ALPR results: the body the open-source ALPR-Database accepts,
so a Blue Iris already set up for it only needs a new URL and token.

The alert action posts ``{"ai_dump": &JSON, "Image": "&ALERT_JPEG", "camera": "&CAM", "timestamp": "&ALERT_TIME",
"ALERT_PATH": ..., "ALERT_CLIP": ...}``. Plates are taken, as ALPR-Database takes them, from the first source
present:

1. ``ai_dump``: the element with ``api == "alpr"`` (other modules, such as object detection, are skipped); one read
   per ``found.predictions[]`` entry. ``ai_dump`` may be the array itself, one element, or that JSON as a string.
2. ``memo`` (Blue Iris ``&MEMO``): ``label:confidence%`` items separated by commas; object labels (``car``,
   ``person`` ...) are skipped and ``[brackets]`` of the old day/night plate models removed.
3. ``plate_number``: one plate, no confidence.

Confidence is the prediction's ``confidence`` (0-1; the per-word OCR scores of ``ocr_annotation`` are not
combined) or the memo's percentage (0-100). Time is ``timestamp`` (ISO 8601; without a zone it is taken as UTC, so
configure Blue Iris to send the zone), else the CodeProject ``timestampUTC`` of the ALPR result. ``Image`` (base64
JPEG/WebP of the alert) becomes the overview image of every read. Blue Iris sends no region, vehicle attributes or
position: the read takes the camera's fixed position.
"""

from __future__ import annotations

from plateledger.adapters import normalise as n
from plateledger.adapters.base import Adapted, Image, SourceRead
from plateledger.core.errors import FieldInvalid, InvalidInput

#: Labels of CodeProject/YOLO object models that a Blue Iris memo mixes with plates (COCO classes and the labels
#: of the plate models themselves), compared in lower case.
OBJECT_LABELS = frozenset(
    {
        "person", "people", "bicycle", "car", "motorcycle", "motorbike", "bus", "truck", "vehicle", "boat",
        "train", "airplane", "bird", "cat", "dog", "horse", "sheep", "cow", "bear", "deer", "rabbit", "raccoon",
        "fox", "skunk", "squirrel", "pig", "traffic light", "fire hydrant", "stop sign", "parking meter",
        "bench", "backpack", "umbrella", "handbag", "suitcase", "plate", "dayplate", "nightplate",
    }
)  # fmt: skip
MAX_MEMO_ITEMS = 100


def adapt(body: bytes, content_type: str) -> Adapted:
    root = n.parse_json(body)
    if not root.is_object():
        raise InvalidInput(
            "a Blue Iris alert body is a JSON object {ai_dump, camera, timestamp, Image}; "
            "put the &JSON macro in its ai_dump field"
        )
    adapted = Adapted()
    alpr = _alpr_result(root)
    camera = root.require("camera").ident()
    stamp = root.get("timestamp")
    if stamp is not None:
        ts_ms, source_ts = n.iso_ms(stamp), stamp.raw()
    elif alpr is not None and (utc := alpr.get("timestampUTC")) is not None:
        ts_ms, source_ts = n.http_date_ms(utc), utc.raw()
    else:
        raise FieldInvalid("timestamp", "is required (send &ALERT_TIME, with its zone)")
    image = root.get("Image")
    images: tuple[Image, ...] = (n.image_b64(image, "overview"),) if image is not None else ()

    plates = _from_ai_dump(alpr) if alpr is not None else None
    if plates is None and (memo := root.get("memo")) is not None:
        plates = _from_memo(memo)
    single = root.get("plate_number")
    if plates is None and single is not None:
        plates = [(n.plate(single), None)]
    elif single is not None:
        adapted.ignored.append(
            f"plate_number {single.raw()[:32]!r}: not used, the alert's ALPR results or memo take precedence"
        )
    if not plates:
        adapted.ignored.append("no plate in this alert (no ALPR prediction, plate memo or plate_number)")
        return adapted
    for plate, score in plates:
        adapted.reads.append(
            SourceRead(
                plate=plate,
                ts_ms=ts_ms,
                camera=camera,
                source_ts=source_ts,
                confidence=score[0] if score else None,
                source_confidence=score[1] if score else None,
                images=images,
            )
        )
    return adapted


def _alpr_result(root: n.Node) -> n.Node | None:
    """The ``found`` object of the ALPR module's entry in ``ai_dump``, or None."""
    dump = root.get("ai_dump")
    if dump is None:
        return None
    if isinstance(dump.value, str):  # "ai_dump": "&JSON" — the macro quoted into a string
        dump = n.Node(n.parse_json(dump.text(n.MAX_IMAGE_BYTES).encode()).value, dump.path)
    entries = dump.items(32) if dump.is_array() else [dump]
    for entry in entries:
        api = entry.get("api")
        if api is not None and api.text(64) == "alpr":
            return entry.require("found")
    return None


def _from_ai_dump(found: n.Node) -> list[tuple[str, tuple[float, str] | None]] | None:
    predictions = found.get("predictions")
    if predictions is None:
        return None
    plates: list[tuple[str, tuple[float, str] | None]] = []
    for prediction in predictions.items():
        text = prediction.get("plate")
        if text is None:
            label = prediction.require("label")
            text = n.Node(label.text(64).removeprefix("Plate:").strip(), label.path)
        score = prediction.get("confidence")
        plates.append((n.plate(text), n.confidence(score, 1) if score is not None else None))
    return plates


def _from_memo(memo: n.Node) -> list[tuple[str, tuple[float, str] | None]]:
    """``"car:92%,ABC123:87%,[XYZ9]:61%"`` → ABC123 (0.87), XYZ9 (0.61); each plate once."""
    items = memo.text().split(",")
    if len(items) > MAX_MEMO_ITEMS:
        raise FieldInvalid(memo.path, f"must have at most {MAX_MEMO_ITEMS} items")
    plates: dict[str, tuple[float, str] | None] = {}
    for item in items:
        label, _, raw = item.partition(":")
        label = label.strip().replace("[", "").replace("]", "")
        if not label or label.lower() in OBJECT_LABELS:
            continue
        plate = n.plate(n.Node(label, memo.path))
        score = None
        if raw.strip():
            value, _ = n.confidence(n.Node(raw.strip().removesuffix("%"), memo.path), 100, allow_text=True)
            score = (value, raw.strip())
        plates.setdefault(plate, score)
    return list(plates.items())

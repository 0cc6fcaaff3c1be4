"""The small-batch fast path of ingest: canonical reads checked and typed in Python instead of in SQL.

The SQL validator (``sql.parse_select``) is the single definition of a valid read, and it is cheap per row but
costs ClickHouse ~170-200 ms of query analysis per ingest pass, whatever the batch size. For the small batches of
live traffic (HTTP posts, vendor webhooks, MQTT) that fixed cost was most of the alert latency. This module types
such a batch in Python in well under a millisecond per hundred reads, for the lines it can vouch for: every field
present is of the expected JSON type and inside every rule of the SQL validator. Anything else — a broken rule, or
a form this module does not handle — returns ``None`` for the whole group, and the group goes through the SQL
validator, which decides and words every rejection. So the fast path can only ever accept what SQL would accept,
with the same stored values; ``tests/integration/test_ingest_fastpath.py`` checks the two agree on generated
reads.

Only a line that is exactly orjson's encoding of what it decodes to takes this path: such a line has no duplicate
keys, byte-order mark, insignificant whitespace or other form where two JSON decoders may differ. JSON arrays posted
over HTTP and vendor payloads are re-encoded by orjson before they reach the store, so live traffic qualifies;
hand-written lines usually go through SQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from plateledger.plates import MAX_PLATE
from plateledger.store.sql import EARLIEST_MS, MAX_STRING

#: Batches (a whole group-commit pass) larger than this go through SQL: past a few thousand reads the SQL
#: validator's fixed cost is small next to its per-row speed.
MAX_FAST_LINES = 5_000

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_REGION_STATE = re.compile(r"[A-Z]{2}")
_REGION_FULL = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([01][0-9]|2[0-3]):([0-5][0-9])"
    r"(?::([0-5][0-9])(?:[.,]([0-9]{1,9}))?)?"
    r"(Z|z|([+-])([01][0-9]|2[0-3])(?::?([0-5][0-9]))?)"
)
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Camera:
    """A registered camera's fixed position (None for a mobile unit)."""

    lat: float | None
    lon: float | None


def _opt_str(value: Any) -> str | None:
    """A present optional string within MAX_STRING characters, '' when absent; None: not one SQL would accept."""
    if value is None:
        return ""
    if isinstance(value, str) and len(value) <= MAX_STRING:
        return value
    return None


def _number(value: Any) -> float | None:
    """A JSON number as SQL's ``toFloat64OrNull`` reads it; None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if math.copysign(1.0, value) < 0 and value == 0:
        return None  # -0.0: SQL keeps its sign at the top level of a read but not inside ``vehicle``
    return float(value)


def iso_ms(text: str) -> int | None:
    """Epoch ms of a strict ISO 8601 date-time with a zone (the forms ``sql.ISO_TIME`` accepts), fractions of a
    millisecond truncated; None for anything else, including dates past 2100 (left to SQL)."""
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone, sign, off_h, off_m = match.groups()
    if not 2000 <= int(year) <= 2100:
        return None
    offset = timedelta(0)
    if zone not in ("Z", "z"):
        offset = timedelta(hours=int(off_h), minutes=int(off_m or 0))
        if sign == "-":
            offset = -offset
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=timezone(offset)
        )
    except ValueError:  # February 30th and the like
        return None
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1000 + millis


def _ts_ms(value: Any) -> int | None:
    if isinstance(value, str):
        return iso_ms(value)
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64_MAX <= value <= _INT64_MAX:
        return value
    return None


def _region(value: Any, country: str) -> str | None:
    text = _opt_str(value)
    if text is None or not text.isascii():
        return None
    text = text.strip(" ").upper()
    if text == "":
        return ""
    if _REGION_STATE.fullmatch(text):
        return f"{country}-{text}"
    return text if _REGION_FULL.fullmatch(text) else None


def _vehicle(value: Any) -> tuple[str, str, str, str, float | None] | None:
    """make, model, color, type and direction of the vehicle object; None when SQL might judge it differently."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return None
    make, model, color, vtype = (_opt_str(value.get(name)) for name in ("make", "model", "color", "type"))
    if make is None or model is None or color is None or vtype is None:
        return None
    direction = value.get("direction")
    if direction is not None:
        direction = _number(direction)
        if direction is None or not 0 <= direction <= 360:
            return None
    return make, model, color, vtype, direction


def typed_row(
    line: bytes,
    *,
    owner: int,
    country: str,
    cameras: Mapping[str, Camera],
    earliest_ms: int,
    latest_ms: int,
    max_bytes: int,
) -> tuple[Any, ...] | None:
    """The values of one canonical read line in the order of ``COLUMNS`` from ``plate`` on, or None when the line
    breaks a rule or takes a form this path leaves to SQL."""
    if len(line) > max_bytes or not line.startswith(b"{"):
        return None
    try:
        read = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(read, dict) or orjson.dumps(read) != line:
        return None
    return typed_read(read, owner=owner, country=country, cameras=cameras, earliest_ms=earliest_ms, latest_ms=latest_ms)


def typed_read(
    read: dict[str, Any],
    *,
    owner: int,
    country: str,
    cameras: Mapping[str, Camera],
    earliest_ms: int,
    latest_ms: int,
) -> tuple[Any, ...] | None:
    """:func:`typed_row` of a read already decoded from its line (which must be orjson's encoding of it)."""
    plate_s = read.get("plate")
    camera = read.get("camera")
    if not isinstance(plate_s, str) or len(plate_s) > 64 or not isinstance(camera, str) or len(camera) > 64:
        return None
    if not plate_s.isascii() or not plate_s.isprintable():
        return None  # plates with other characters, or refused ones, are normalised (or refused) by the SQL path
    plate = _NOT_ALNUM.sub("", plate_s).upper()
    ts_ms = _ts_ms(read.get("ts"))
    position = cameras.get(camera)
    if not 1 <= len(plate) <= MAX_PLATE or ts_ms is None or not earliest_ms <= ts_ms <= latest_ms or position is None:
        return None
    read_id = _opt_str(read.get("read_id"))
    if read_id is None or read.get("read_id") == "":
        return None
    region = _region(read.get("region"), country)
    vehicle = _vehicle(read.get("vehicle"))
    if region is None or vehicle is None:
        return None
    lat, lon, confidence = read.get("lat"), read.get("lon"), read.get("confidence")
    if (lat is None) != (lon is None):
        return None
    if lat is None:
        lat, lon = position.lat, position.lon
    else:
        lat, lon = _number(lat), _number(lon)
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
    if confidence is not None:
        confidence = _number(confidence)
        if confidence is None or not 0 <= confidence <= 100:
            return None
    source_ts, source_confidence = _opt_str(read.get("source_ts")), _opt_str(read.get("source_confidence"))
    if source_ts is None or source_confidence is None:
        return None
    return (
        plate,
        ts_ms,
        owner,
        camera,
        plate_s,
        read_id,
        region,
        lat,
        lon,
        confidence,
        *vehicle,
        source_ts,
        source_confidence,
    )


def staged_rows(
    blocks: Sequence[tuple[bytes, int, str, str, Mapping[str, Camera]]],
    *,
    now_ms: int,
    future_tolerance_ms: int,
    max_bytes: int,
    decoded: Sequence[Sequence[Any] | None] = (),
) -> bytes | None:
    """The typed rows of every line of ``blocks`` — (block, owner, country, source, that owner's cameras by id) —
    as one ``JSONColumns`` document in the structure of ``STAGED_STRUCTURE``, or None when any non-blank line
    needs the SQL validator. Blank lines are not reads but keep their number (``idx``). ``decoded``, per block
    (None, or missing, where not known): its lines' values when the block was made by encoding each with orjson
    (an HTTP body's reads, ``Ingestor.ingest_json_body``), so they are typed without being decoded again."""
    if sum(block.count(b"\n") + 1 for block, *_ in blocks) > MAX_FAST_LINES:
        return None
    rows: list[tuple[Any, ...]] = []
    latest_ms = now_ms + future_tolerance_ms
    for batch, (block, owner, country, source, cameras) in enumerate(blocks):
        reads = decoded[batch] if batch < len(decoded) else None
        if reads is not None:
            lines = block.split(b"\n")
            if len(lines) != len(reads):
                return None
            for idx, (line, read) in enumerate(zip(lines, reads, strict=True)):
                if len(line) > max_bytes or not isinstance(read, dict):
                    return None
                row = typed_read(
                    read, owner=owner, country=country, cameras=cameras, earliest_ms=EARLIEST_MS, latest_ms=latest_ms
                )
                if row is None:
                    return None
                rows.append((idx, batch, source, *row))
            continue
        for idx, raw in enumerate(block.split(b"\n")):
            line = raw.removesuffix(b"\r")
            if not line.strip():
                continue
            row = typed_row(
                line,
                owner=owner,
                country=country,
                cameras=cameras,
                earliest_ms=EARLIEST_MS,
                latest_ms=latest_ms,
                max_bytes=max_bytes,
            )
            if row is None:
                return None
            rows.append((idx, batch, source, *row))
    return orjson.dumps(dict(zip(COLUMNS, (list(column) for column in zip(*rows, strict=True)), strict=True)))


def camera_positions(cameras: Sequence[Any]) -> dict[str, Camera]:
    """Registered cameras (``CameraInfo``) by external id, with their fixed positions."""
    return {c.external_id: Camera(_position(c.lat), _position(c.lon)) for c in cameras}


def _position(value: float | None) -> float | None:
    """JSON has no NaN: a camera without a fixed position stages as null."""
    return None if value is None or math.isnan(value) else value


#: Columns of the document ``staged_rows`` returns, and their types.
_STAGED = {
    "idx": "UInt64",
    "batch": "UInt32",
    "source": "String",
    "plate": "String",
    "ts_ms": "Int64",
    "owner": "UInt32",
    "camera": "String",
    "plate_raw": "String",
    "read_id": "String",
    "region": "String",
    "lat_v": "Nullable(Float64)",
    "lon_v": "Nullable(Float64)",
    "conf_v": "Nullable(Float64)",
    "make": "String",
    "model": "String",
    "color": "String",
    "vtype": "String",
    "dir_v": "Nullable(Float64)",
    "source_ts": "String",
    "source_confidence": "String",
}
COLUMNS = tuple(_STAGED)
STAGED_STRUCTURE = ", ".join(f"{name} {kind}" for name, kind in _STAGED.items())

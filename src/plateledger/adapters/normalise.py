"""Shared helpers of the vendor adapters: JSON access by path, time, confidence, region, position and images.

Every helper is pure and raises :class:`~plateledger.core.errors.FieldInvalid` naming the field by a JSON-path-like
string (``results[0].plate``) and the rule it breaks, :class:`~plateledger.core.errors.PayloadTooLarge` for an
array or string over its limit, or :class:`~plateledger.core.errors.InvalidInput` for a body that is not the
format at all. Adapters walk a payload with :class:`Node`, so every value they read carries its path::

    root = parse_json(body)
    for result in root.require("results").items():
        plate = result.require("plate").text()          # FieldInvalid("results[0].plate", "must be a string")
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import orjson
import pycountry

from plateledger.adapters.base import Image
from plateledger.adapters.multipart import MAX_PARTS as MAX_PARTS  # re-exported: part of this module's API
from plateledger.adapters.multipart import Part as Part
from plateledger.adapters.multipart import is_multipart as is_multipart
from plateledger.adapters.multipart import multipart_parts as multipart_parts
from plateledger.core.errors import FieldInvalid, InvalidInput, PayloadTooLarge
from plateledger.core.text import REGION, UTF8_BOM, VISIBLE_64
from plateledger.plates import validate_plate

#: Longest string an adapter reads, other than base64 images (plates, ids, names, times are far shorter).
MAX_TEXT = 4096
#: Most elements of one array an adapter walks (results, candidates, predictions ...).
MAX_ITEMS = 1000
#: Longest vehicle attribute (make, model, colour, type), as the canonical read allows.
MAX_ATTRIBUTE = 64
#: Largest decoded image (plate crop or overview) an adapter accepts.
MAX_IMAGE_BYTES = 8 * 1024 * 1024
#: Instants outside [2000-01-01, 2100-01-01) UTC are refused: no ALPR read is older, and later is a unit mistake.
MIN_TS_MS = 946_684_800_000
MAX_TS_MS = 4_102_444_800_000

_MISSING = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


class Node:
    """A value of a parsed payload and its path, with typed accessors that name the path in every error."""

    __slots__ = ("path", "value")

    def __init__(self, value: Any, path: str = "") -> None:
        self.value = value
        self.path = path

    def __repr__(self) -> str:
        return f"Node({self.path or '$'})"

    def _child(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def where(self) -> str:
        return self.path or "body"

    # ---- shape -------------------------------------------------------------------------------------------
    def is_object(self) -> bool:
        return isinstance(self.value, dict)

    def is_array(self) -> bool:
        return isinstance(self.value, list)

    def obj(self) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            raise FieldInvalid(self.where(), "must be an object")
        return self.value

    def has(self, key: str) -> bool:
        """Whether this object has ``key`` with a non-null value (False for a non-object)."""
        return isinstance(self.value, dict) and self.value.get(key) is not None

    def get(self, key: str) -> Node | None:
        """The member ``key`` of this object, or None when it is absent or null."""
        value = self.obj().get(key, _MISSING)
        if value is _MISSING or value is None:
            return None
        return Node(value, self._child(key))

    def require(self, key: str) -> Node:
        """The member ``key`` of this object; FieldInvalid ``is required`` when absent or null."""
        found = self.get(key)
        if found is None:
            raise FieldInvalid(self._child(key), "is required")
        return found

    def items(self, max_items: int = MAX_ITEMS) -> list[Node]:
        """The elements of this array, each with its indexed path."""
        if not isinstance(self.value, list):
            raise FieldInvalid(self.where(), "must be an array")
        if len(self.value) > max_items:
            raise PayloadTooLarge(f"{self.where()}: more than {max_items} elements")
        return [Node(v, self._child(i)) for i, v in enumerate(self.value)]

    # ---- scalars -----------------------------------------------------------------------------------------
    def text(self, max_len: int = MAX_TEXT) -> str:
        """A string of at most ``max_len`` characters."""
        if not isinstance(self.value, str):
            raise FieldInvalid(self.where(), "must be a string")
        if len(self.value) > max_len:
            raise PayloadTooLarge(f"{self.where()}: longer than {max_len} characters")
        return self.value

    def ident(self, max_len: int = 64) -> str:
        """An identifier sent as a string or an integer (camera ids): its text, stripped, 1-``max_len`` long."""
        value = self.value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        text = self.text(MAX_TEXT).strip()
        if not 1 <= len(text) <= max_len:
            raise FieldInvalid(self.where(), f"must be 1-{max_len} characters")
        return text

    def number(self, *, allow_text: bool = False) -> float:
        """A finite JSON number (not a boolean); with ``allow_text`` also a numeric string (``"93.2"``)."""
        value = self.value
        if allow_text and isinstance(value, str) and len(value) <= 64:
            try:
                value = float(value.strip())
            except ValueError:
                raise FieldInvalid(self.where(), "must be a number") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldInvalid(self.where(), "must be a number")
        number = float(value)
        if not math.isfinite(number):
            raise FieldInvalid(self.where(), "must be a finite number")
        return number

    def integer(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise FieldInvalid(self.where(), "must be an integer")
        return self.value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise FieldInvalid(self.where(), "must be true or false")
        return self.value

    def raw(self) -> str:
        """The value as it was sent, as text (a string itself; a number in its JSON spelling), for source_ts and
        source_confidence."""
        if isinstance(self.value, str):
            return self.text()
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise FieldInvalid(self.where(), "must be a number or a string")
        return orjson.dumps(self.value).decode()


def parse_json(body: bytes) -> Node:
    """The root of a JSON body. InvalidInput for a body that is not UTF-8 or not JSON (orjson refuses nesting
    deeper than 1024 levels, NaN and integers beyond 64 bits, so none of those reaches an adapter). A leading
    UTF-8 byte-order mark is skipped (OpenALPR agent 2.8 sends one)."""
    try:
        text = body.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"body is not UTF-8 (byte {exc.start})") from None
    try:
        return Node(orjson.loads(text))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not JSON: {str(exc)[:200]}") from None


# ---- identity -------------------------------------------------------------------------------------------
#: Longest plate text an adapter accepts as read (spaces, dashes and dots included; the store normalises).
MAX_PLATE_TEXT = 32


def plate(node: Node) -> str:
    """The plate as read (case, spaces and dashes kept: the store normalises), refused when it cannot become a
    canonical plate (1-10 letters or digits once normalised)."""
    text = node.text(MAX_PLATE_TEXT).strip()
    validate_plate(text, node.where())
    return text


def read_id(vendor_id: str | None) -> str | None:
    """A read id from the vendor's own event id: kept when it fits the canonical read id (1-64 visible ASCII
    characters), else a stable digest of it, so a re-sent event is stored once either way."""
    if vendor_id is None or not vendor_id.strip():
        return None
    text = vendor_id.strip()
    if VISIBLE_64.fullmatch(text):
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:48]


# ---- time -------------------------------------------------------------------------------------------------
def _checked_ms(ms: int, node: Node) -> int:
    if not MIN_TS_MS <= ms < MAX_TS_MS:
        raise FieldInvalid(node.where(), "must be an instant between 2000-01-01 and 2100-01-01")
    return ms


def epoch_ms(node: Node) -> int:
    """Epoch milliseconds sent as a JSON number (OpenALPR ``epoch_*``)."""
    number = node.number()
    if not MIN_TS_MS <= number < MAX_TS_MS:
        raise FieldInvalid(node.where(), "must be epoch milliseconds between 2000-01-01 and 2100-01-01")
    return int(number)


def epoch_seconds(node: Node) -> int:
    """Epoch seconds, possibly fractional (Frigate ``timestamp``), as epoch milliseconds (rounded)."""
    number = node.number()
    if not MIN_TS_MS / 1000 <= number < MAX_TS_MS / 1000:
        raise FieldInvalid(node.where(), "must be epoch seconds between 2000-01-01 and 2100-01-01")
    return _checked_ms(round(number * 1000), node)


def _to_ms(value: datetime, node: Node, assume: tzinfo) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=assume)
    try:
        ms = (value - _EPOCH) // _ONE_MS  # exact integer arithmetic; microseconds are truncated to the ms
    except OverflowError:
        raise FieldInvalid(node.where(), "must be an instant between 2000-01-01 and 2100-01-01") from None
    return _checked_ms(ms, node)


def iso_ms(node: Node, assume: tzinfo = UTC) -> int:
    """ISO 8601 (``2020-10-12T16:17:27.574008Z``, ``2025-09-09 23:22:38.030345``, with or without offset) as epoch
    ms; a time without zone is taken in ``assume`` (UTC unless the source documents local time)."""
    text = node.text(64).strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise FieldInvalid(node.where(), "must be an ISO 8601 date and time") from None
    return _to_ms(value, node, assume)


def http_date_ms(node: Node) -> int:
    """An RFC 1123 date (``Tue, 19 Nov 2024 23:51:20 GMT``; also without the comma) as epoch ms."""
    text = node.text(64).strip()
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise FieldInvalid(node.where(), "must be an HTTP date (Tue, 19 Nov 2024 23:51:20 GMT)") from None
    return _to_ms(value, node, UTC)


def formatted_ms(node: Node, fmt: str, assume: tzinfo = UTC) -> int:
    """A time in a fixed ``strptime`` format (``%m/%d/%Y %H:%M:%S``), taken in ``assume`` when it has no zone."""
    text = node.text(64).strip()
    try:
        value = datetime.strptime(text, fmt)
    except ValueError:
        raise FieldInvalid(node.where(), f"must be a time in the format {fmt}") from None
    return _to_ms(value, node, assume)


_COMPACT = re.compile(r"[0-9]{14}([0-9]{1,6})?")


def compact_ms(node: Node, assume: tzinfo = UTC) -> int:
    """``YYYYMMDDhhmmss`` followed by optional fraction digits (Hikvision ``absTime`` ``YYYYMMDDhhmmssfff``)."""
    text = node.text(64).strip()
    if not _COMPACT.fullmatch(text):
        raise FieldInvalid(node.where(), "must be a time as YYYYMMDDhhmmss[fff]")
    try:
        value = datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    except ValueError:
        raise FieldInvalid(node.where(), "must be a valid date and time (YYYYMMDDhhmmss[fff])") from None
    fraction = text[14:]
    ms = _to_ms(value, node, assume)
    return ms + (int(fraction.ljust(3, "0")[:3]) if fraction else 0)


# ---- confidence -------------------------------------------------------------------------------------------
def confidence(node: Node, scale: Literal[1, 100], *, allow_text: bool = False) -> tuple[float, str]:
    """(confidence on 0-1, the value as sent) from a score on 0-``scale``; outside the scale is refused."""
    number = node.number(allow_text=allow_text)
    if not 0 <= number <= scale:
        raise FieldInvalid(node.where(), f"must be a confidence between 0 and {scale}")
    return round(number / scale, 6), node.raw()


# ---- region -----------------------------------------------------------------------------------------------
_SEPARATORS = re.compile(r"[-_ ]")


def country_alpha2(value: str | int | None) -> str | None:
    """ISO 3166-1 alpha-2 (upper case) from an alpha-2, alpha-3 (``POL``) or numeric (``840``) country code, or
    None when the code is not an ISO country."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().upper()
    if text.isdigit() and len(text) <= 3:
        found = pycountry.countries.get(numeric=text.zfill(3))
    elif len(text) == 2 and text.isalpha():
        found = pycountry.countries.get(alpha_2=text)
    elif len(text) == 3 and text.isalpha():
        found = pycountry.countries.get(alpha_3=text)
    else:
        return None
    return None if found is None else str(found.alpha_2)


def region(code: str | None, country: str | int | None = None) -> str | None:
    """The canonical region (``US-CA``) of a vendor region code, or None when it names no subdivision.

    ``us-ca``, ``US_CA`` and ``us ca`` name a subdivision directly. A bare code (``mo``, ``CA``) is a subdivision
    of ``country`` (alpha-2, alpha-3 or numeric) when one is given; without a country a bare code is ambiguous
    (``ca`` is California and Canada) and gives None, as does a country-only code (``gb``, ``POL``, ``840``).
    Codes that are not ISO 3166-2 subdivisions give None: the read is kept, without a region.
    """
    if code is None:
        return None
    text = code.strip().upper()
    if not text or len(text) > 12:
        return None
    parts = _SEPARATORS.split(text)
    if len(parts) == 2:
        prefix, sub = parts
    elif len(parts) == 1:
        prefix, sub = (country_alpha2(country) or ""), parts[0]
    else:
        return None
    nation = country_alpha2(prefix) if prefix else None
    if nation is None:
        return None
    candidate = f"{nation}-{sub}"
    if not REGION.fullmatch(candidate) or pycountry.subdivisions.get(code=candidate) is None:  # type: ignore[no-untyped-call]
        return None
    return candidate


# ---- vehicle, direction, position -------------------------------------------------------------------------
def best(candidates: Iterable[tuple[str, float]]) -> tuple[str, float] | None:
    """The candidate with the highest score (the first of equals), ignoring empty names."""
    found: tuple[str, float] | None = None
    for name, score in candidates:
        if name.strip() and (found is None or score > found[1]):
            found = (name.strip(), score)
    return found


def direction(node: Node) -> float:
    """A direction of travel in degrees (number or numeric string), brought into [0, 360)."""
    degrees = node.number(allow_text=True)
    if not -360 <= degrees <= 720:
        raise FieldInvalid(node.where(), "must be degrees between 0 and 360")
    return degrees % 360


def position(lat: Node | None, lon: Node | None) -> tuple[float, float] | None:
    """(lat, lon) of a mobile unit, or None without a fix: either absent, or the 0/0 many units send without GPS."""
    if lat is None or lon is None:
        return None
    latitude, longitude = lat.number(allow_text=True), lon.number(allow_text=True)
    if not -90 <= latitude <= 90:
        raise FieldInvalid(lat.where(), "must be a latitude between -90 and 90")
    if not -180 <= longitude <= 180:
        raise FieldInvalid(lon.where(), "must be a longitude between -180 and 180")
    if latitude == 0 and longitude == 0:
        return None
    return latitude, longitude


# ---- images -----------------------------------------------------------------------------------------------
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),
    (b"GIF8", 0, "image/gif"),
)
_DATA_URI = re.compile(r"data:image/[a-z+.-]{1,20};base64,")


def sniff_image(data: bytes) -> str | None:
    """The content type of a JPEG, PNG, WebP or GIF image by its first bytes, or None."""
    for magic, offset, content_type in _MAGIC:
        if data[offset : offset + len(magic)] == magic and (offset == 0 or data[:4] == b"RIFF"):
            return content_type
    return None


def image_bytes(node: Node, data: bytes, kind: Literal["plate", "overview"], max_bytes: int) -> Image:
    """An :class:`Image` of raw bytes (a multipart part, say): refused when too large or not a known image."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{node.where()}: image larger than {max_bytes} bytes")
    content_type = sniff_image(data)
    if content_type is None:
        raise FieldInvalid(node.where(), "must be a JPEG, PNG, WebP or GIF image")
    return Image(kind=kind, content_type=content_type, data=data)


def image_b64(node: Node, kind: Literal["plate", "overview"], max_bytes: int = MAX_IMAGE_BYTES) -> Image:
    """An :class:`Image` from strict base64 (an optional ``data:image/...;base64,`` prefix is allowed)."""
    text = node.text(max_len=(max_bytes * 4) // 3 + 128).strip()
    prefix = _DATA_URI.match(text)
    if prefix:
        text = text[prefix.end() :]
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FieldInvalid(node.where(), "must be valid base64") from None
    return image_bytes(node, data, kind, max_bytes)

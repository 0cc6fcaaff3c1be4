"""Dates and times as audit exports write them, to epoch milliseconds (UTC).

Accepted: ``11/14/2025, 09:53:36 AM UTC`` (US month/day/year, 12- or 24-hour clock, seconds optional, a comma or
not), ``2025-11-14 09:53:36`` and ``2025-11-14T09:53:36Z``, followed by a zone or not: ``UTC``/``GMT``/``Z``, an
offset (``+05:00``, ``-0500``, ``UTC-5``, ``GMT-05:00``), a US abbreviation (``EST``, ``CDT``, ``AKST`` ...), a
spelled-out name (``Eastern Standard Time``, ``Central Time``) or an IANA name (``America/Chicago``). A time
without a zone is read in the zone the caller gives (the ``--timezone`` of ``plateledger oversight analyse``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WHEN = re.compile(
    r"^(?:(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{2}|\d{4})|(?P<Y>\d{4})-(?P<M>\d{1,2})-(?P<D>\d{1,2}))"
    r"[\s,T]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,6}))?)?"
    r"\s*(?P<ampm>[AaPp]\.?\s?[Mm]\.?)?\s*(?P<zone>.*?)\s*$"
)
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?$", re.IGNORECASE)
_FIXED_HOURS = {
    "utc": 0, "gmt": 0, "z": 0, "zulu": 0, "coordinated universal time": 0, "greenwich mean time": 0,
    "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6, "pst": -8, "pdt": -7,
    "akst": -9, "akdt": -8, "hst": -10, "ast": -4, "adt": -3,
    "eastern standard time": -5, "eastern daylight time": -4, "central standard time": -6,
    "central daylight time": -5, "mountain standard time": -7, "mountain daylight time": -6,
    "pacific standard time": -8, "pacific daylight time": -7, "alaska standard time": -9,
    "alaska daylight time": -8, "hawaii standard time": -10, "hawaii-aleutian standard time": -10,
}  # fmt: skip
#: Names that do not say whether daylight saving applies: read in the region's zone.
_REGIONS = {
    "eastern time": "America/New_York", "et": "America/New_York", "central time": "America/Chicago",
    "ct": "America/Chicago", "mountain time": "America/Denver", "mt": "America/Denver",
    "pacific time": "America/Los_Angeles", "pt": "America/Los_Angeles", "alaska time": "America/Anchorage",
}  # fmt: skip


class TimeTextError(ValueError):
    """A date, time or zone that cannot be read (the message says what was expected)."""


def zone_of(text: str) -> tzinfo:
    """The zone ``text`` names (see the module's list)."""
    name = " ".join(text.strip().strip("()").split())
    lowered = name.lower()
    if lowered in _FIXED_HOURS:
        hours = _FIXED_HOURS[lowered]
        return UTC if hours == 0 else timezone(timedelta(hours=hours), name.upper() if " " not in name else name)
    if lowered in _REGIONS:
        return ZoneInfo(_REGIONS[lowered])
    if offset := _OFFSET.match(name.replace(" ", "")):
        minutes = int(offset["h"]) * 60 + int(offset["m"] or 0)
        if minutes > 14 * 60:
            raise TimeTextError(f"zone offset {name!r} is beyond ±14:00")
        return timezone(timedelta(minutes=minutes if offset["sign"] == "+" else -minutes))
    if "/" in name and ".." not in name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise TimeTextError(f"unknown time zone {name!r}")


def parse_ms(text: str, default_zone: tzinfo) -> int:
    """Epoch milliseconds of an export's date and time; :class:`TimeTextError` when it cannot be read."""
    match = _WHEN.match(text.strip())
    if not match:
        raise TimeTextError(f"{text.strip()[:60]!r} is not a date and time (like '11/14/2025, 09:53:36 AM UTC')")
    if match["y"]:
        year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
        year += 2000 if year < 100 else 0
    else:
        year, month, day = int(match["Y"]), int(match["M"]), int(match["D"])
    hour, minute = int(match["h"]), int(match["mi"])
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise TimeTextError(f"{text.strip()[:60]!r}: hour {hour} with AM/PM")
        pm = match["ampm"].lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    zone = zone_of(match["zone"]) if match["zone"] else default_zone
    micro = int((match["f"] or "0").ljust(6, "0"))
    try:
        when = datetime(year, month, day, hour, minute, int(match["s"] or 0), micro, tzinfo=zone)
    except ValueError as exc:
        raise TimeTextError(f"{text.strip()[:60]!r}: {exc}") from None
    return int(when.timestamp() * 1000)

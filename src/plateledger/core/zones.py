"""A user's time zone (an IANA name, e.g. ``America/Chicago``; none is UTC): times shown to the user in it with the
zone named, and times typed by the user (a form's date or datetime-local value, which carry no zone) read in it.

The API and the stores stay in UTC (ISO 8601 with ``Z``); only the web pages speak local time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from plateledger.core.clock import parse_iso_ms
from plateledger.core.errors import FieldInvalid

#: The longest IANA zone name is 32 characters; the column holds 64.
MAX_ZONE_LENGTH = 64


def check_zone(name: str | None, field: str = "time_zone") -> str | None:
    """The zone ``name`` as stored: None (blank or none given: UTC) or a known IANA name; an unknown name is a
    :class:`FieldInvalid` naming it."""
    text = (name or "").strip()
    if not text:
        return None
    if len(text) <= MAX_ZONE_LENGTH and "\\" not in text and not text.startswith("/"):
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return text
    shown = text[:MAX_ZONE_LENGTH]
    raise FieldInvalid(field, f"unknown time zone {shown!r}: an IANA name such as America/Chicago or Europe/Berlin")


@lru_cache(maxsize=256)
def zone(name: str | None) -> tzinfo:
    """The tzinfo of a stored zone name (None: UTC)."""
    return ZoneInfo(name) if name else UTC


@lru_cache(maxsize=1)
def zone_names() -> list[str]:
    """Every IANA zone name this system knows, sorted (for a form's suggestions)."""
    return sorted(available_timezones())


def local(ms: int, name: str | None) -> datetime:
    """Epoch milliseconds as an aware datetime in the zone ``name``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zone(name))


def shown(value: int | str | None, name: str | None) -> str:
    """A time for a page: epoch ms or an ISO 8601 time with a zone, in the zone ``name`` with the zone named
    (``2026-12-07 09:14:00 CST``; a zone without an abbreviation shows its offset, ``+0530``). Blank for none;
    text that is not such a time is shown as it is (a date alone, a word)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            ms = parse_iso_ms(value)
        except ValueError:
            return value
    else:
        ms = value
    moment = local(ms, name)
    abbreviation = moment.strftime("%Z")
    if not abbreviation or abbreviation[0] in "+-":
        abbreviation = "UTC" + moment.strftime("%z") if moment.utcoffset() else "UTC"
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + abbreviation


def typed(text: str, name: str | None) -> str | None:
    """A time typed in a form (``YYYY-MM-DDTHH:MM[:SS]`` from a datetime-local input, no zone) read in the zone
    ``name``, as ISO 8601 with its UTC offset for the library; blank is None, and a time that names its own zone
    (or anything else) is passed on for the library to check."""
    text = text.strip()
    if not text:
        return None
    if len(text) in (16, 19) and text[10] == "T":
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
        return moment.replace(tzinfo=zone(name)).isoformat()
    return text


def day_end(text: str, name: str | None) -> str:
    """A date typed in a form as the last day something is in force, in the zone ``name``: the first moment of
    the next day there, ISO 8601 with its offset. Anything but a date is passed on as it is."""
    text = text.strip()
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        return text
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone(name)).isoformat()


def day_of(ms: int, name: str | None) -> str:
    """The date (``YYYY-MM-DD``) of epoch ms in the zone ``name``."""
    return local(ms, name).date().isoformat()


def label(name: str | None) -> str:
    """The zone's name for a form's label: ``America/Chicago``, or ``UTC``."""
    return name or "UTC"

"""Time source. Everything that needs "now" takes a Clock, so tests can pin time without patching."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Protocol

_EPOCH_DAY = date(1970, 1, 1)


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch, UTC."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FixedClock:
    """A clock that only moves when told to (tests, reproducible demos)."""

    def __init__(self, now_ms: int) -> None:
        self._now = now_ms

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> None:
        self._now += ms


_DAY_MS = 86_400_000


@lru_cache(maxsize=4096)
def _iso_day(day: int) -> str:
    return (_EPOCH_DAY + timedelta(days=day)).isoformat()


def iso_ms(epoch_ms: int) -> str:
    """ISO 8601 UTC with millisecond precision and a ``Z`` suffix, e.g. ``2026-11-01T08:15:00.250Z``.

    Integer arithmetic on the day and the time of day, the day's date text cached: a search answer formats
    hundreds of these, and the datetime round trip cost more than the rest of a read's JSON. Exact for every
    millisecond (the float division of the datetime path loses one after about the year 2250)."""
    if type(epoch_ms) is not int:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    day, ms = divmod(epoch_ms, _DAY_MS)
    second, ms = divmod(ms, 1000)
    return f"{_iso_day(day)}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.{ms:03d}Z"


def parse_iso_ms(text: str) -> int:
    """Parse ISO 8601 *with a zone* (or ``Z``) to epoch ms; raise ValueError otherwise."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("time has no zone")
    return int(value.timestamp() * 1000)

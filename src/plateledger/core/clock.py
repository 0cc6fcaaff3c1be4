"""Time source. Everything that needs "now" takes a Clock, so tests can pin time without patching."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


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


def iso_ms(epoch_ms: int) -> str:
    """ISO 8601 UTC with millisecond precision and a ``Z`` suffix."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso_ms(text: str) -> int:
    """Parse ISO 8601 *with a zone* (or ``Z``) to epoch ms; raise ValueError otherwise."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("time has no zone")
    return int(value.timestamp() * 1000)

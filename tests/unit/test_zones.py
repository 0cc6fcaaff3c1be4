"""core/zones.py: zone names checked, times shown with the zone named, typed times read in the zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plateledger.core import zones
from plateledger.core.errors import FieldInvalid

NAMES = ["America/Chicago", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", None]


def test_zone_names_are_checked() -> None:
    assert zones.check_zone("America/Chicago") == "America/Chicago"
    assert zones.check_zone("  ") is None
    assert zones.check_zone(None) is None
    for bad in ("Mars/Base", "../../etc/passwd", "/etc/localtime", "x" * 80, "America\\Chicago"):
        with pytest.raises(FieldInvalid, match="unknown time zone") as refused:
            zones.check_zone(bad)
        assert refused.value.field == "time_zone"


def test_times_are_shown_with_the_zone_named() -> None:
    winter = 1_765_099_440_000  # 2025-12-07T09:24:00Z
    assert zones.shown(winter, None) == "2025-12-07 09:24:00 UTC"
    assert zones.shown(winter, "America/Chicago") == "2025-12-07 03:24:00 CST"
    assert zones.shown("2025-12-07T09:24:00.000Z", "Europe/Berlin") == "2025-12-07 10:24:00 CET"
    assert zones.shown(winter, "Asia/Dubai") == "2025-12-07 13:24:00 UTC+0400"  # no abbreviation: the offset
    assert zones.shown(None, "Europe/Berlin") == ""
    assert zones.shown("2025-12-31", "Europe/Berlin") == "2025-12-31"  # not a time: as it is


def test_typed_times_and_last_days_are_read_in_the_zone() -> None:
    assert zones.typed("2025-06-01T02:30", "America/Chicago") == "2025-06-01T02:30:00-05:00"
    assert zones.typed("2025-12-01T02:30:15", "America/Chicago") == "2025-12-01T02:30:15-06:00"
    assert zones.typed("2025-06-01T02:30", None) == "2025-06-01T02:30:00+00:00"
    assert zones.typed("", "America/Chicago") is None
    assert zones.typed("2025-06-01T02:30:00Z", "America/Chicago") == "2025-06-01T02:30:00Z"  # its own zone
    assert zones.typed("not a time", None) == "not a time"  # the library names the field
    assert zones.day_end("2025-12-31", "America/Chicago") == "2026-01-01T00:00:00-06:00"
    assert zones.day_end("2025-12-31T10:00:00Z", "America/Chicago") == "2025-12-31T10:00:00Z"
    assert zones.day_of(1_767_247_200_000 - 1, "America/Chicago") == "2025-12-31"


@given(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(NAMES),
)
def test_a_shown_time_typed_back_is_the_same_moment(moment: datetime, name: str | None) -> None:
    ms = int(moment.replace(tzinfo=UTC).timestamp()) * 1000
    local = zones.local(ms, name)
    typed = zones.typed(local.strftime("%Y-%m-%dT%H:%M:%S"), name)
    assert typed is not None
    back = datetime.fromisoformat(typed)
    # A wall time that occurs twice (the hour a clock goes back) is read as its first occurrence.
    if not local.fold:
        assert int(back.timestamp()) * 1000 == ms
    assert zones.shown(ms, name).startswith(local.strftime("%Y-%m-%d %H:%M:%S"))

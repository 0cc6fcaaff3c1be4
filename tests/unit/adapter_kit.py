"""Checks shared by the Axis, Hikvision and Frigate adapter tests (samples, multipart bodies and mutations come
from ``adapters_support``): every read an adapter makes is canonical, and hostile bodies are refused cleanly."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, settings

from plateledger.adapters.base import Adapted, SourceRead
from plateledger.core.errors import PlateledgerError
from plateledger.plates import validate_plate

T = TypeVar("T")
#: The fixed fuzzing budget (derandomised: CI runs the same examples every time); a slow example is a hang.
FUZZ = settings(
    max_examples=100,
    deadline=1000,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
VISIBLE = re.compile(r"[\x21-\x7e]{1,64}")

#: Bodies no JSON adapter can use: deep nesting, huge arrays and strings, invalid UTF-8, not an object.
HOSTILE_JSON = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    b"[" + b"1," * 500_000 + b"1]",
    b'{"plate": "' + b"A" * 5_000_000 + b'"}',
    b"\xff\xfe\x00garbage",
    b'{"plate": "\xc3\x28"}',
    b"",
    b"null",
    b"[]",
    b'"just a string"',
]


def outcome(call: Callable[[], T]) -> T | PlateledgerError:
    """The call's result, or the PlateledgerError it raised, which must be a 4xx with a detail; any other
    exception propagates and fails the test."""
    try:
        result = call()
    except PlateledgerError as error:
        refusal = error
    else:
        return result
    assert 400 <= refusal.status < 500, refusal
    assert refusal.detail
    return refusal


def check(call: Callable[[], Adapted]) -> Adapted | PlateledgerError:
    """Run an adapter: a result whose reads are canonical, or a 4xx PlateledgerError; anything else fails."""
    result = outcome(call)
    if isinstance(result, Adapted):
        for read in result.reads:
            check_read(read)
    return result


def check_hostile(call: Callable[[], Adapted]) -> None:
    """A hostile body is refused with a 4xx PlateledgerError or yields no read."""
    result = check(call)
    assert isinstance(result, PlateledgerError) or result.reads == [], result


def check_read(read: SourceRead) -> None:
    validate_plate(read.plate)
    assert 946_684_800_000 <= read.ts_ms < 4_102_444_800_000, read
    assert 1 <= len(read.camera) <= 64, read
    assert read.confidence is None or 0 <= read.confidence <= 1, read
    assert read.lat is None or -90 <= read.lat <= 90, read
    assert read.lon is None or -180 <= read.lon <= 180, read
    assert read.read_id is None or VISIBLE.fullmatch(read.read_id), read

"""Shared pieces of the vendor adapter tests: the real samples in ../shared, JSON mutation strategies for fuzzing,
and the check every fuzzed call must pass (a result, or a 4xx PlateledgerError — never another exception)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
from hypothesis import strategies as st

from plateledger.adapters.base import Adapted, SourceRead
from plateledger.core.errors import PlateledgerError

#: The real vendor payloads, outside the repository (``../shared`` of the checkout).
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vendor_samples"
PLATE = re.compile(r"[A-Z0-9]{1,10}")
FUZZ_EXAMPLES = 150
FUZZ_DEADLINE_MS = 2000
T = TypeVar("T")


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> Any:
    return orjson.loads(sample(name))


#: Any JSON value, including the awkward ones: huge integers, long strings, deep and wide containers.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", " ", "x" * 100_000, "0", "-1", "1e308", "unknown", "\x00", "12345678901234567890"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a member of a JSON document (keys and indexes)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(paths(item, (*prefix, index)))
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


def removed(value: Any, path: tuple[Any, ...]) -> Any:
    if len(path) == 1:
        copy: Any = dict(value) if isinstance(value, dict) else list(value)
        del copy[path[0]]
        return copy
    return replaced(value, path[:1], removed(value[path[0]], path[1:]))


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> bytes:
    """A real payload with one member replaced by any JSON value or removed, or the whole thing truncated."""
    where = draw(st.sampled_from(paths(document)))
    how = draw(st.sampled_from(["replace", "remove", "truncate"]))
    if how == "remove" and where:
        return orjson.dumps(removed(document, where))
    body = orjson.dumps(replaced(document, where, draw(json_values)))
    if how == "truncate":
        return body[: draw(st.integers(min_value=0, max_value=max(len(body) - 1, 0)))]
    return body


#: Bodies no JSON adapter can use: deep nesting, huge arrays and strings, invalid UTF-8.
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
    outcome = check(call)
    assert isinstance(outcome, PlateledgerError) or outcome.reads == [], outcome


def check_read(read: SourceRead) -> None:
    assert PLATE.fullmatch(read.plate), read
    assert 946_684_800_000 <= read.ts_ms < 4_102_444_800_000, read
    assert 1 <= len(read.camera) <= 64, read
    assert read.confidence is None or 0 <= read.confidence <= 1, read
    assert read.lat is None or -90 <= read.lat <= 90, read
    assert read.lon is None or -180 <= read.lon <= 180, read
    assert read.read_id is None or 1 <= len(read.read_id) <= 64, read

"""Shared by the adapter tests: the real vendor samples in ../shared, multipart bodies, and payload mutations for
fuzzing (truncated JSON, wrong types, huge strings and arrays, deep nesting, invalid UTF-8).

The samples are read from ``../shared/data/vendor_samples`` relative to the repository root (never copied into the
repository; see that folder's README for their sources and licences).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import strategies as st

from plateledger.adapters.base import Adapted
from plateledger.core.errors import FieldInvalid, PlateledgerError

REPO = Path(__file__).resolve().parents[2]
VENDOR_SAMPLES = REPO / ".." / "shared" / "data" / "vendor_samples"


def sample(name: str) -> bytes:
    return (VENDOR_SAMPLES / name).read_bytes()


def sample_json(name: str) -> Any:
    return orjson.loads(sample(name))


def multipart(fields: list[tuple[str, str | None, str | None, bytes]], boundary: str = "plateledger-test") -> bytes:
    """A multipart/form-data body of (name, filename, content type, data) parts, as a camera would send it."""
    out = b""
    for name, filename, content_type, data in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def adapts_or_refuses(adapt: Callable[[bytes, str], Adapted], body: bytes, content_type: str) -> Adapted | None:
    """Run an adapter on untrusted bytes: it returns :class:`Adapted` or raises a 4xx PlateledgerError, nothing
    else (another exception fails the test with its traceback)."""
    try:
        adapted = adapt(body, content_type)
    except PlateledgerError as exc:
        refused = exc
    else:
        assert isinstance(adapted, Adapted)
        return adapted
    assert 400 <= refused.status < 500, f"{type(refused).__name__} ({refused.status}): {refused}"
    return None


def assert_refused(
    adapt: Callable[[bytes, str], Adapted], payload: Any, mutate: Callable[[Any], object], field: str, rule: str
) -> None:
    """``mutate`` (applied to a copy of ``payload``) makes the adapter refuse ``field`` with a rule containing
    ``rule``."""
    document = copy.deepcopy(payload)
    mutate(document)
    with pytest.raises(FieldInvalid) as err:
        adapt(orjson.dumps(document), "application/json")
    assert (err.value.field, rule in err.value.rule) == (field, True), err.value.rule


# ---- mutations --------------------------------------------------------------------------------------------
#: Values that break a field's type or limits, put in place of any value of a real payload.
HOSTILE = (
    None,
    True,
    0,
    -1,
    1.5,
    1e308,
    -(2**63),
    2**64 - 1,
    "",
    " ",
    "\x00",
    "é€😀",
    "x" * 100_000,
    "2024-13-45T99:99:99Z",
    "NaN",
    [],
    {},
    [None] * 5000,
    ["x"] * 3,
    {"a": {"b": {"c": [1, 2, {"d": None}]}}},
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=12,
)


def _slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) of a parsed JSON document, depth first."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield value, key
            yield from _slots(child)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield value, index
            yield from _slots(child)


@st.composite
def mutated(draw: st.DrawFn, body: bytes) -> bytes:
    """One mutation of a real JSON payload: a value replaced, a key removed, the body truncated, nested deeper
    than any parser allows, or made invalid UTF-8."""
    kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "truncate", "nest", "bytes"]))
    if kind == "truncate":
        return body[: draw(st.integers(0, max(len(body) - 1, 0)))]
    if kind == "nest":
        depth = draw(st.sampled_from([10, 300, 2000, 100_000]))
        return b"[" * depth + body + b"]" * depth
    if kind == "bytes":
        at = draw(st.integers(0, len(body)))
        return body[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b'"'])) + body[at:]
    document = orjson.loads(body)
    slots = list(_slots(document))
    if not slots:
        return body
    container, key = draw(st.sampled_from(slots))
    if kind == "delete":
        del container[key]
    else:
        container[key] = draw(st.sampled_from(HOSTILE) | json_values)
    return orjson.dumps(document)

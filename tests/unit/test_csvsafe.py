"""CSV cells a spreadsheet would run as formulas are escaped; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plateledger.core.csvsafe import FORMULA_START, SafeWriter, safe_cell


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")'])
def test_formula_text_is_prefixed(text: str) -> None:
    assert safe_cell(text) == "'" + text


def test_numbers_and_plain_text_are_kept() -> None:
    assert [safe_cell(v) for v in (-122.4194, -3, 0.5, "7ABC123", "a=b", None)] == [
        -122.4194,
        -3,
        0.5,
        "7ABC123",
        "a=b",
        "",
    ]


@given(st.lists(st.one_of(st.text(), st.floats(allow_nan=False), st.integers(), st.none()), max_size=8))
def test_no_written_text_cell_starts_a_formula(row: list[object]) -> None:
    buffer = io.StringIO()
    SafeWriter(buffer).writerow(row)
    cells = next(csv.reader(io.StringIO(buffer.getvalue()))) if row else []
    for value, cell in zip(row, cells, strict=True):
        if isinstance(value, str):
            assert not cell.startswith(FORMULA_START)
        elif value is not None:
            assert cell == str(value)

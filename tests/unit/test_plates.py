"""Plate normalisation, confusable folding and wildcard patterns (pure functions), with property tests."""

from __future__ import annotations

import sqlite3
import string
from collections.abc import Iterator

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from plateledger.core.errors import FieldInvalid
from plateledger.plates import (
    CONFUSABLE_FROM,
    MAX_PLATE,
    MIN_WILDCARD_LITERALS,
    confusable_key,
    is_pattern,
    normalise,
    normalise_pattern,
    pattern_matches,
    pattern_to_like,
    validate_plate,
)

ALNUM = frozenset(string.ascii_uppercase + string.digits)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc123", "ABC123"),
        ("7-ABC.123", "7ABC123"),
        (" ab c\t12 ", "ABC12"),
        ("ÄB1", "B1"),  # non-ASCII letters are dropped, not transliterated
        ("ＡＢＣ１２３", ""),  # full-width forms are not ASCII either
        ("", ""),
    ],
)
def test_normalise_examples(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_confusable_key_folds_the_documented_pairs() -> None:
    assert confusable_key("OQDILZSBG") == "000112586"
    assert confusable_key("0123456789") == "0123456789"
    assert confusable_key("ABC1O3") == confusable_key("A8C103")
    assert confusable_key("ABC123") != confusable_key("ABC124")


@pytest.mark.parametrize("raw", ["", "--- ...", "ABCDEFGHIJK", "ÄÖÜ"])
def test_validate_plate_refuses_empty_or_too_long(raw: str) -> None:
    with pytest.raises(FieldInvalid) as caught:
        validate_plate(raw)
    assert caught.value.field == "plate"
    assert f"1-{MAX_PLATE}" in caught.value.rule


def test_validate_plate_names_the_given_field() -> None:
    with pytest.raises(FieldInvalid) as caught:
        validate_plate("", field="hotlist.plate")
    assert caught.value.field == "hotlist.plate"
    assert validate_plate("ab-1234567") == "AB1234567"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc*", "ABC*"),
        ("a**b***c", "A*B*C"),
        ("ab-c?1", "ABC?1"),
        ("*7ab*", "*7AB*"),
        ("?ab?c?", "?AB?C?"),
    ],
)
def test_normalise_pattern_examples(raw: str, expected: str) -> None:
    assert is_pattern(raw)
    assert normalise_pattern(raw) == expected


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("AB*", "at least 3"),
        ("A?B?", "at least 3"),
        ("**", "at least 3"),
        ("A-B*", "at least 3"),  # punctuation is not a literal
        ("ABCDEFGHIJK*", "cannot match"),
        ("ABCDEFGH???", "cannot match"),
    ],
)
def test_normalise_pattern_refusals_name_the_field(raw: str, rule: str) -> None:
    with pytest.raises(FieldInvalid) as caught:
        normalise_pattern(raw)
    assert caught.value.field == "plate"
    assert rule in caught.value.rule


def test_pattern_to_like() -> None:
    assert pattern_to_like("AB*1?") == "AB%1_"
    assert pattern_to_like("ABC") == "ABC"


# -- properties ------------------------------------------------------------------------------------------------
@given(st.text())
@example("ǅ")  # a title-case letter: upper() must not turn anything into A-Z
@example("ß")  # upper() of ß is "SS": must be dropped before upper-casing
def test_normalise_is_idempotent_and_only_ascii_alnum(raw: str) -> None:
    plate = normalise(raw)
    assert set(plate) <= ALNUM
    assert normalise(plate) == plate
    assert plate == "".join(ch for ch in raw if ch in string.ascii_letters + string.digits).upper()


@given(st.text(alphabet=string.ascii_uppercase + string.digits, max_size=MAX_PLATE))
def test_confusable_key_keeps_length_and_is_idempotent(plate: str) -> None:
    key = confusable_key(plate)
    assert len(key) == len(plate)
    assert confusable_key(key) == key
    assert not set(key) & set(CONFUSABLE_FROM)


PATTERN_ALPHABET = "AB12ab*?-. "


@given(st.text(alphabet=PATTERN_ALPHABET, max_size=16))
def test_wildcard_literal_count_rule(raw: str) -> None:
    literals = sum(ch.isalnum() for ch in raw)
    singles = raw.count("?")
    acceptable = literals >= MIN_WILDCARD_LITERALS and literals + singles <= MAX_PLATE
    if not acceptable:
        with pytest.raises(FieldInvalid) as caught:
            normalise_pattern(raw)
        assert caught.value.field == "plate"
        return
    pattern = normalise_pattern(raw)
    assert set(pattern) <= ALNUM | {"*", "?"}
    assert "**" not in pattern
    assert sum(ch in ALNUM for ch in pattern) == literals
    assert pattern.count("?") == singles
    assert normalise_pattern(pattern) == pattern


@pytest.fixture(scope="module")
def sql_like() -> Iterator[sqlite3.Connection]:
    """An independent SQL engine's LIKE (SQLite: ``%`` any run, ``_`` one character)."""
    connection = sqlite3.connect(":memory:")
    yield connection
    connection.close()


@st.composite
def pattern_and_plate(draw: st.DrawFn) -> tuple[str, str]:
    """A valid pattern, and a plate that is often (not always) built to match it."""
    pattern = draw(st.text(alphabet="AB18*?", min_size=3, max_size=10))
    plate_chars = st.sampled_from("AB18")
    if draw(st.booleans()):
        plate = draw(st.text(alphabet="AB18", min_size=1, max_size=MAX_PLATE))
    else:
        parts = []
        for ch in pattern:
            if ch == "*":
                parts.append(draw(st.text(alphabet="AB18", max_size=3)))
            elif ch == "?":
                parts.append(draw(plate_chars))
            else:
                parts.append(ch)
        plate = "".join(parts)
    return pattern, plate


@given(pattern_and_plate())
def test_pattern_matches_agrees_with_sql_like(sql_like: sqlite3.Connection, case: tuple[str, str]) -> None:
    raw, plate = case
    try:
        pattern = normalise_pattern(raw)
    except FieldInvalid:
        assume(False)
        raise
    (matched,) = sql_like.execute("SELECT ? LIKE ?", (plate, pattern_to_like(pattern))).fetchone()
    assert pattern_matches(pattern, plate) == bool(matched)

"""Plate normalisation, confusable folding and wildcard patterns (pure functions), with property tests."""

from __future__ import annotations

import sqlite3
import string
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from plateledger.core.errors import FieldInvalid
from plateledger.plates import (
    CONFUSABLE_FROM,
    MAX_PLATE,
    MIN_WILDCARD_LITERALS,
    PLATE_ALPHABET,
    SEPARATOR_CATEGORIES,
    confusable_key,
    contains_pattern,
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
        (" ab c 12 ", "ABC12"),
        ("MÜ-ab 12", "MÜAB12"),  # German plates keep Ä Ö Ü
        ("mü·ab·12", "MÜAB12"),
        ("1946éSH", "1946ESH"),  # other diacritics fold to the base letter: was 1946SH (é dropped)
        ("1946e\u0301SH", "1946ESH"),  # composed first (NFC)
        ("ÅÑČ1", "ANC1"),
        ("А123ВС77", "A123BC77"),  # Cyrillic letters of Russian plates are their Latin look-alikes
        ("ΙΚΑ-1234", "IKA1234"),  # Greek
        ("", ""),
    ],
)
def test_normalise_examples(raw: str, expected: str) -> None:
    assert normalise(raw) == expected
    assert validate_plate(raw or "X") == (expected or "X")


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("ЖAB123", '"Ж" (U+0416)'),
        ("京A12345", '"京" (U+4EAC)'),
        ("ＡＢＣ１２３", '"Ａ" (U+FF21)'),  # full-width forms are refused, not dropped
        ("STRAßE1", '"ß" (U+00DF)'),
        ("AB\t12", "U+0009"),  # a control character is named by its code point only
        ("AB\u200b12", "U+200B"),  # so is a zero-width space (a format character)
        ("q\u0301AB", '"\u0301" (U+0301)'),  # a combining mark with no precomposed letter
    ],
)
def test_validate_plate_names_a_character_outside_the_alphabet(raw: str, named: str) -> None:
    with pytest.raises(FieldInvalid) as caught:
        validate_plate(raw)
    assert caught.value.field == "plate"
    assert caught.value.rule.startswith(f"{named} is not a plate character")


def test_confusable_key_folds_the_documented_pairs() -> None:
    assert confusable_key("OQDILZSBG") == "000112586"
    assert confusable_key("0123456789") == "0123456789"
    assert confusable_key("ABC1O3") == confusable_key("A8C103")
    assert confusable_key("ABC123") != confusable_key("ABC124")


@pytest.mark.parametrize("raw", ["", "--- ...", "ABCDEFGHIJK", "—·—"])
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
        ("mü-a*", "MÜA*"),
        ("1946é?h", "1946E?H"),
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
def _separator(ch: str) -> bool:
    return unicodedata.category(ch)[0] in SEPARATOR_CATEGORIES


@given(st.text())
@example("ǅ")  # a title-case letter: upper() must not turn anything into A-Z
@example("ß")  # upper() of ß is "SS": refused, never two letters
@example("1946éSH")
def test_normalise_never_drops_a_character_silently(raw: str) -> None:
    plate = normalise(raw)
    composed = unicodedata.normalize("NFC", raw)
    # One character out for each character in that is not a separator: nothing vanishes without a rule.
    assert len(plate) == sum(not _separator(ch) for ch in composed)
    if any(ch not in PLATE_ALPHABET for ch in plate) or not 1 <= len(plate) <= MAX_PLATE:
        with pytest.raises(FieldInvalid, match=r"^plate: "):
            validate_plate(raw)
        return
    valid = validate_plate(raw)
    assert set(valid) <= set(PLATE_ALPHABET)
    assert validate_plate(valid) == valid
    # ASCII letters and digits are kept in order, upper-cased.
    ascii_only = "".join(ch for ch in composed if ch in string.ascii_letters + string.digits).upper()
    assert [ch for ch in valid if ch in ALNUM] == list(ascii_only) or not composed.isascii()


@given(st.text(alphabet=PLATE_ALPHABET, max_size=MAX_PLATE))
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


@given(st.text(alphabet="AB18ab-. *?", max_size=12), st.text(alphabet="AB18", min_size=1, max_size=MAX_PLATE))
def test_contains_pattern_is_a_substring_search_with_the_wildcard_minimum(
    sql_like: sqlite3.Connection, raw: str, plate: str
) -> None:
    """Issue 20: a contains search for ``raw`` is the wildcard ``*PART*``, matches exactly the plates that have
    the normalised part inside (here and in SQL LIKE), and needs as many letters or digits as a wildcard."""
    part = normalise(raw)
    if is_pattern(raw) or not MIN_WILDCARD_LITERALS <= len(part) <= MAX_PLATE:
        with pytest.raises(FieldInvalid) as caught:
            contains_pattern(raw)
        assert caught.value.field == "plate"
        return
    pattern = contains_pattern(raw)
    assert pattern == f"*{part}*"
    assert normalise_pattern(pattern) == pattern
    (matched,) = sql_like.execute("SELECT ? LIKE ?", (plate, pattern_to_like(pattern))).fetchone()
    assert pattern_matches(pattern, plate) == bool(matched) == (part in plate)

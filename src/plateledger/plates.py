"""Plate normalisation, confusable folding and wildcard patterns. Pure functions.

The reads store applies the same rules in SQL (``store/sql.py``); ``tests/unit/test_plates.py`` checks the
two agree on generated input.
"""

from __future__ import annotations

import re

from plateledger.core.errors import FieldInvalid

MAX_PLATE = 10
MIN_WILDCARD_LITERALS = 3

#: Characters OCR confuses on plates, folded to one representative: O/Q/D→0, I/L→1, Z→2, S→5, B→8, G→6.
CONFUSABLE_FROM = "OQDILZSBG"
CONFUSABLE_TO = "000112586"
_FOLD = str.maketrans(CONFUSABLE_FROM, CONFUSABLE_TO)
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_PATTERN_CHARS = re.compile(r"[^A-Za-z0-9*?]")


def normalise(raw: str) -> str:
    """A–Z and 0–9 only, upper case: everything else (spaces, dashes, dots, non-ASCII) is removed first."""
    return _NOT_ALNUM.sub("", raw).upper()


def confusable_key(plate: str) -> str:
    """Fold a normalised plate so that commonly confused characters compare equal."""
    return plate.translate(_FOLD)


def validate_plate(raw: str, field: str = "plate") -> str:
    plate = normalise(raw)
    if not 1 <= len(plate) <= MAX_PLATE:
        raise FieldInvalid(field, f"must have 1-{MAX_PLATE} letters or digits after normalisation")
    return plate


def is_pattern(text: str) -> bool:
    return "*" in text or "?" in text


def normalise_pattern(raw: str, field: str = "plate") -> str:
    """Normalise a wildcard pattern: ``*`` any run, ``?`` one character, ≥ 3 literal characters."""
    pattern = _PATTERN_CHARS.sub("", raw).upper()
    pattern = re.sub(r"\*+", "*", pattern)
    literals = sum(ch not in "*?" for ch in pattern)
    if literals < MIN_WILDCARD_LITERALS:
        raise FieldInvalid(
            field,
            f"a wildcard pattern needs at least {MIN_WILDCARD_LITERALS} literal letters or digits",
        )
    if literals > MAX_PLATE or pattern.count("?") + literals > MAX_PLATE:
        raise FieldInvalid(field, f"a pattern cannot match a plate of at most {MAX_PLATE} characters")
    return pattern


def pattern_to_like(pattern: str) -> str:
    """Translate a normalised wildcard pattern (only A–Z 0–9 * ?) to a SQL LIKE pattern."""
    return pattern.replace("*", "%").replace("?", "_")


def pattern_matches(pattern: str, plate: str) -> bool:
    """Reference matcher for a normalised pattern against a normalised plate (used by tests)."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else ch for ch in pattern)
    return re.fullmatch(regex, plate) is not None

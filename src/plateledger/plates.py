"""Plate normalisation, confusable folding and wildcard patterns. Pure functions.

The reads store applies the same rules in SQL (``store/sql.py``); ``tests/unit/test_plates.py`` checks the
two agree on generated input.

A plate is stored as the characters painted on it, in upper case, without separators. The rule is the same for
every region (a search names no region, and an exact search must find what ingest stored), applied to each
character of the plate as read, after Unicode NFC composition (docs/ingest.md, "Plate characters"):

* ``A``-``Z`` and ``0``-``9`` are kept, lower case upper-cased;
* ``Ä Ö Ü`` (German plates: ``MÜ``, ``TÜ``, ``LÖ``) are kept, ``ä ö ü`` upper-cased;
* other Latin letters with diacritics are folded to their base letter (``é`` → ``E``, ``Ñ`` → ``N``, ``Å`` →
  ``A``): no other plate alphabet has them as letters of their own, and OCR engines and keyboards add them;
* Cyrillic and Greek capitals used on plates are the letters that look like Latin ones (Russian, Ukrainian,
  Bulgarian, Serbian, Greek plates) and are mapped to them (``А`` → ``A``, ``Х`` → ``X``, ``Ρ`` → ``P``), so a
  plate read in either script is one plate;
* spaces, punctuation and symbols (``-``, ``.``, ``·``, the German seal position) are separators and removed;
* any other character (another script's letter, a control character, a digit that is not 0-9, ``ß``, ``Ø``) is
  not dropped: the plate is refused with the character and its code point named.
"""

from __future__ import annotations

import re
import unicodedata

from plateledger.core.errors import FieldInvalid

MAX_PLATE = 10
MIN_WILDCARD_LITERALS = 3

#: Letters a stored plate may hold beside A-Z and 0-9.
REGIONAL_LETTERS = "ÄÖÜ"
PLATE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + REGIONAL_LETTERS

#: Characters OCR confuses on plates, folded to one representative: O/Q/D→0, I/L→1, Z→2, S→5, B→8, G→6, and
#: the German letters to the look-alike without dots (Ä→A, Ö→0 like O, Ü→U).
CONFUSABLE_FROM = "OQDILZSBGÄÖÜ"
CONFUSABLE_TO = "000112586A0U"
_FOLD = str.maketrans(CONFUSABLE_FROM, CONFUSABLE_TO)

#: Cyrillic and Greek capitals that plates use, with the Latin letter each looks like.
_LOOKALIKES = {
    "АВЕКМНОРСТУХ": "ABEKMHOPCTYX",  # Cyrillic
    "ІЈЅ": "IJS",  # Cyrillic (Ukrainian, Serbian, Macedonian)
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ": "ABEZHIKMNOPTYX",  # Greek
}


def _char_map() -> dict[str, str]:
    """Every character that is not separator-or-refused, mapped to what the stored plate holds."""
    chars: dict[str, str] = {}
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        chars[letter] = chars[letter.lower()] = letter
    for digit in "0123456789":
        chars[digit] = digit
    # Latin letters with diacritics (Latin-1 Supplement, Extended-A/B and Additional), folded to the base letter.
    for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        ch = chr(code)
        decomposed = unicodedata.normalize("NFD", ch)
        base, marks = decomposed[:1], decomposed[1:]
        accented = base.isascii() and base.isalpha() and marks and all(unicodedata.combining(m) for m in marks)
        if accented and unicodedata.normalize("NFC", ch) == ch:  # only characters NFC can produce
            chars[ch] = base.upper()
    for letter in REGIONAL_LETTERS:
        chars[letter] = chars[letter.lower()] = letter
    for letters, latin in _LOOKALIKES.items():
        for letter, target in zip(letters, latin, strict=True):
            chars[letter] = target
            lower = letter.lower()
            if len(lower) == 1 and lower != letter:
                chars[lower] = target
    return chars


#: What each mapped character becomes (the SQL of store/sql.py uses the same table with translateUTF8).
CHAR_MAP = _char_map()
MAP_FROM = "".join(CHAR_MAP)
MAP_TO = "".join(CHAR_MAP.values())
_TRANSLATE = str.maketrans(CHAR_MAP)
#: Separators: Unicode spaces (Z*), punctuation (P*) and symbols (S*). RE2 and Python name them alike.
SEPARATOR_CATEGORIES = ("Z", "P", "S")
_PATTERN_CHARS = re.compile(r"[^A-Za-z0-9*?]")


def _is_separator(ch: str) -> bool:
    return unicodedata.category(ch)[0] in SEPARATOR_CATEGORIES


#: The rule a plate with a character outside ``PLATE_ALPHABET`` breaks; ``{char}`` is ``describe(character)``.
FOREIGN_RULE = "{char} is not a plate character: plates hold A-Z, 0-9 and Ä Ö Ü (docs/ingest.md)"


def describe(ch: str) -> str:
    """A refused character as a message names it: ``"ж" (U+0436)``, or ``U+0009`` for a control or format
    character (Unicode category C), which would not show. The reads store's SQL spells it alike."""
    code = f"U+{ord(ch):04X}"
    return code if unicodedata.category(ch)[0] == "C" else f'"{ch}" ({code})'


def normalise(raw: str) -> str:
    """The plate as stored: the characters of ``PLATE_ALPHABET`` by the rule of this module's docstring;
    separators are removed. A character that is neither mapped nor a separator stays in the result, where
    ``validate_plate`` refuses it (``normalise`` itself never raises)."""
    text = unicodedata.normalize("NFC", raw).translate(_TRANSLATE)
    return "".join(ch for ch in text if not _is_separator(ch))


def foreign_character(plate: str) -> str | None:
    """The first character of a normalised plate outside ``PLATE_ALPHABET``, or None."""
    return next((ch for ch in plate if ch not in PLATE_ALPHABET), None)


def confusable_key(plate: str) -> str:
    """Fold a normalised plate so that commonly confused characters compare equal."""
    return plate.translate(_FOLD)


def validate_plate(raw: str, field: str = "plate") -> str:
    plate = normalise(raw)
    foreign = foreign_character(plate)
    if foreign is not None:
        raise FieldInvalid(field, FOREIGN_RULE.format(char=describe(foreign)))
    if not 1 <= len(plate) <= MAX_PLATE:
        raise FieldInvalid(field, f"must have 1-{MAX_PLATE} letters or digits after normalisation")
    return plate


def is_pattern(text: str) -> bool:
    return "*" in text or "?" in text


def normalise_pattern(raw: str, field: str = "plate") -> str:
    """Normalise a wildcard pattern: ``*`` any run, ``?`` one character, ≥ 3 literal characters; the literals
    follow the plate rule (``validate_plate``)."""
    parts = re.split(r"([*?])", raw)
    pattern = "".join(part if part in ("*", "?") else normalise(part) for part in parts)
    foreign = foreign_character(pattern.replace("*", "").replace("?", ""))
    if foreign is not None:
        raise FieldInvalid(field, FOREIGN_RULE.format(char=describe(foreign)))
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


def contains_pattern(raw: str, field: str = "plate") -> str:
    """The wildcard pattern of a "contains" search for ``raw`` (letters and digits, no ``*`` or ``?``): ``*`` on
    both sides of the normalised plate. It needs as many letters or digits as a wildcard pattern
    (``MIN_WILDCARD_LITERALS``), so that a contains search is never broader than a wildcard search may be."""
    if is_pattern(raw):
        raise FieldInvalid(field, "a contains search takes letters and digits only; for * and ? search without it")
    plate = validate_plate(raw, field)
    if len(plate) < MIN_WILDCARD_LITERALS:
        raise FieldInvalid(
            field,
            f"a contains search needs at least {MIN_WILDCARD_LITERALS} letters or digits (as a wildcard pattern does)",
        )
    return f"*{plate}*"


def pattern_to_like(pattern: str) -> str:
    """Translate a normalised wildcard pattern (only A–Z 0–9 * ?) to a SQL LIKE pattern."""
    return pattern.replace("*", "%").replace("?", "_")


def pattern_matches(pattern: str, plate: str) -> bool:
    """Reference matcher for a normalised pattern against a normalised plate (used by tests)."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else ch for ch in pattern)
    return re.fullmatch(regex, plate) is not None

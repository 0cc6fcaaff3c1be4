"""Words in free text: prohibited-purpose terms, content-free reasons, test searches, case numbers in reasons.

Terms match as whole words, case-insensitively: ``ice`` matches "ICE", "ICE+ERO" and "ice-ero" but not "price",
"police" or "office". A term ending in ``*`` matches any word it begins (``deport*``: "deported", "deportation");
words of a term may be separated by spaces, ``_``, ``-``, ``+``, ``/`` or ``.``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: The default prohibited-purpose terms by category, which an owner may edit. Flagged for review, never refused:
#: a case about "ICE impersonation" is a crime against the public.
PROHIBITED: dict[str, tuple[str, ...]] = {
    "immigration": (
        "immigration",
        "immigrant*",
        "ice",
        "ero",
        "hsi",
        "deport*",
        "undocumented",
        "illegal alien*",
        "illegals",
        "border patrol",
        "cbp",
        "visa overstay*",
    ),
    "protest": (
        "protest*",
        "demonstrator*",
        "demonstration*",
        "rally",
        "rallies",
        "activist*",
        "antifa",
        "blm",
        "no kings",
    ),
    "reproductive health": (
        "abortion*",
        "abort",
        "aborted",
        "planned parenthood",
        "pregnan*",
        "reproductive",
        "miscarriage",
        "birth control",
    ),
    # Slurs public audits found used as reasons (for Roma people); an owner adds the ones it watches for.
    "slur": ("gypsy", "gypsies", "gipsy", "gipsies", "gyp", "gyps"),
}

_SEPARATOR = r"[\s_+\-/.]+"
_EDGE_BEFORE = r"(?<![A-Za-z0-9])"
_EDGE_AFTER = r"(?![A-Za-z0-9])"
_WORDS = re.compile(r"[a-z0-9]+")
#: What looks like a case number inside a vendor's free-text reason: ``21-16030``, ``2024-000123``, ``SO24-1234``.
CASE_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Za-z]{1,4}-?)?[0-9]{2,4}-[0-9]{2,8}(?:-[0-9A-Za-z]{1,4})?(?![A-Za-z0-9])"
)


def _term_pattern(term: str) -> str:
    words = term.strip().lower().split()
    parts = []
    for word in words:
        stem = word.rstrip("*")
        parts.append(re.escape(stem) + (r"[a-z0-9]*" if word.endswith("*") else ""))
    return _SEPARATOR.join(parts)


def word_matcher(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive, whole-word pattern for ``terms`` (None for no terms)."""
    patterns = sorted({_term_pattern(t) for t in terms if t.strip()}, key=len, reverse=True)
    if not patterns:
        return None
    return re.compile(_EDGE_BEFORE + "(?:" + "|".join(patterns) + ")" + _EDGE_AFTER, re.IGNORECASE)


@dataclass(frozen=True)
class TermMatcher:
    """Finds the prohibited-purpose terms of each category in a text."""

    categories: tuple[tuple[str, re.Pattern[str]], ...]
    #: Every category's terms at once: most texts match none, and one scan says so.
    any_term: re.Pattern[str] | None

    @classmethod
    def of(cls, prohibited: Mapping[str, Iterable[str]]) -> TermMatcher:
        compiled = []
        for category, terms in sorted(prohibited.items()):
            pattern = word_matcher(terms)
            if pattern is not None:
                compiled.append((category, pattern))
        return cls(tuple(compiled), word_matcher(t for terms in prohibited.values() for t in terms))

    def find(self, text: str) -> list[tuple[str, str]]:
        """(category, the words as written) of every match, in order of category."""
        if self.any_term is None or not self.any_term.search(text):
            return []
        found = []
        for category, pattern in self.categories:
            for match in pattern.finditer(text):
                found.append((category, match.group(0)))
        return found


def words(text: str | None) -> list[str]:
    """The lower-case words of ``text`` (letters and digits; punctuation separates)."""
    return _WORDS.findall(text.lower()) if text else []


def content_free(text: str | None, vocabulary: frozenset[str]) -> bool:
    """True when ``text`` is blank, or every word of it (or the whole phrase) is in ``vocabulary`` (whose entries
    are compared as their words joined by one space)."""
    found = words(text)
    if not found:
        return True
    return " ".join(found) in vocabulary or all(word in vocabulary for word in found)


def formulaic_case(case_number: str | None, vocabulary: frozenset[str]) -> bool:
    """True for a missing case number or one that carries nothing: a content-free word (``n/a``, ``inv``), one
    character repeated (``0000``), or a counting sequence (``123``, ``1234``)."""
    found = words(case_number)
    if not found:
        return True
    joined = "".join(found)
    return (
        " ".join(found) in vocabulary
        or all(word in vocabulary for word in found)
        or len(set(joined)) == 1
        or (len(joined) >= 3 and joined in "1234567890")
    )


def vocabulary(entries: Iterable[str]) -> frozenset[str]:
    """A content-free vocabulary, each entry normalised as :func:`content_free` compares it."""
    return frozenset(" ".join(words(entry)) for entry in entries if words(entry))

"""The canonical query an approval is bound to, and its SHA-256.

A held search is stored with the hash of its canonical form: kind, the validated query (plate or area, window,
limit, page), purpose, case number, warrant reference and the owners whose reads it would read (slugs, sorted).
The approved search must give the same hash when it runs: any difference is refused. The free-text note is not
part of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class Hold:
    """What a search offers the approval machinery: its canonical fields (owners apart, which the gate decides),
    and how it asks to run: ``request_id`` of an approved request, or ``break_glass`` (an exigent search that runs
    at once and is reviewed afterwards)."""

    kind: str
    purpose: str
    case_number: str
    query: dict[str, Any] = field(default_factory=dict)
    warrant: str | None = None
    request_id: int | None = None
    break_glass: bool = False

    def canonical(self, owners: list[str]) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "query": self.query,
            "purpose": self.purpose,
            "case_number": self.case_number,
            "warrant": self.warrant,
            "owners": sorted(owners),
        }


def canonical_json(canonical: dict[str, Any]) -> str:
    """Sorted keys, no whitespace: the bytes the hash covers."""
    return orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS).decode()


def query_hash(canonical: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(canonical).encode()).hexdigest()

"""``check-export``: prove every entry of an agency's audit export is in the verified tree, and none is left out.

The export (``plateledger audit export``) holds, per entry, its public part exactly as in the leaf, and its
private part with the salt (or neither, once the salt was deleted past audit retention)::

    {"format": "plateledger-audit-export/v1", "origin": "<log origin or null>", "agency": "slug",
     "month": "2026-11", "entries": [{"seq": 12, "leaf": {...}, "private": {...} | null,
                                      "salt": "<base64>" | null}, ...]}

For each entry, in order: the private part and salt must reproduce the leaf's commitment
(:func:`.leaf.check_exported`), and the leaf's hash must be the tree's leaf ``seq - 1`` — read from a level-0
tile proven against the checkpoint's root (:class:`.logview.VerifiedLog`), which is an inclusion proof. The first
entry that fails is reported by its number (:class:`ProofError`, exit 7).

Then completeness: the tree's leaves of the month are read, and every one whose requesting agency is the
export's agency must be in the export (an export that leaves an entry out fails, naming it). Leaves are found by
hour, assuming entry hours do not go backwards across the month's edges (entries are numbered as they are made).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plateledger_verify import merkle
from plateledger_verify.errors import MalformedError, ProofError
from plateledger_verify.leaf import check_exported, parse_leaf
from plateledger_verify.logview import VerifiedLog
from plateledger_verify.note import b64decode_strict
from plateledger_verify.recount import month_hours
from plateledger_verify.tiles import TILE_WIDTH

FORMAT = "plateledger-audit-export/v1"


@dataclass
class ExportCheck:
    agency: str
    month: str
    entries: int
    #: Leaves of the month read for completeness: ``[first, last]`` entry numbers, or None (empty tree).
    scanned: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)


def parse_export(data: bytes) -> dict[str, Any]:
    """The export file as JSON, with its envelope checked (entries are checked one by one later)."""
    try:
        export = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedError(f"export is not JSON: {exc}") from exc
    if not isinstance(export, dict) or export.get("format") != FORMAT:
        raise MalformedError(f"export is not in the {FORMAT} format")
    if not isinstance(export.get("agency"), str) or not isinstance(export.get("month"), str):
        raise MalformedError("export has no agency or month")
    month_hours(export["month"])
    if export.get("origin") is not None and not isinstance(export["origin"], str):
        raise MalformedError("export origin is not a string")
    if not isinstance(export.get("entries"), list):
        raise MalformedError("export has no entries list")
    return export


def _entry(raw: Any, position: int) -> tuple[int, Mapping[str, Any], Mapping[str, Any] | None, bytes | None]:
    if not isinstance(raw, dict):
        raise MalformedError(f"export entry {position} is not an object")
    seq, public, private, salt = raw.get("seq"), raw.get("leaf"), raw.get("private"), raw.get("salt")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise MalformedError(f"export entry {position} has no entry number (seq)")
    if not isinstance(public, dict) or public.get("seq") != seq:
        raise MalformedError(f"export entry {seq}: its leaf is missing or has another seq")
    if private is not None and not isinstance(private, dict):
        raise MalformedError(f"export entry {seq}: private part is not an object")
    if salt is not None and not isinstance(salt, str):
        raise MalformedError(f"export entry {seq}: salt is not base64 text")
    return seq, public, private, b64decode_strict(salt, f"entry {seq} salt") if salt is not None else None


def _leaf(raw: Any, position: int) -> tuple[int, bytes]:
    """An exported entry's number and leaf data, recomputed from its public part, private part and salt."""
    seq, public, private, salt = _entry(raw, position)
    try:
        return seq, check_exported(public, private, salt)
    except MalformedError as exc:
        raise ProofError(f"entry {seq} is not as logged: {exc}") from exc


def _unproven(log: VerifiedLog, entries: list[Any], position: int, exc: ProofError) -> str:
    """Why the entry at ``position`` cannot be proven: the served tiles do not lead to the checkpoint's root (the
    log was rewritten since). Name the first exported entry, from there on, that the served log does not hold
    where the checkpointed tree put it (the entry removed or altered); or say the served log differs from the
    checkpointed tree at entries this export does not hold."""
    for raw in entries[position:]:
        try:
            seq, data = _leaf(raw, position)
            served = log.served_leaf_hashes((seq - 1) // TILE_WIDTH)[(seq - 1) % TILE_WIDTH]
        except (MalformedError, ProofError, ValueError, IndexError):
            continue
        if served != merkle.leaf_hash(data):
            return (
                f"entry {seq} is not in the log: the served log no longer holds it where the checkpointed tree "
                f"put it, and the served tiles do not prove the checkpoint ({exc})"
            )
    return (
        f"entry {entries[position]['seq']} cannot be proven: the served log differs from the checkpointed tree at "
        f"entries this export does not hold ({exc})"
    )


def check_export(log: VerifiedLog, export: Mapping[str, Any]) -> ExportCheck:
    """Prove ``export`` (parsed by :func:`parse_export`) against ``log``; raise :class:`ProofError` naming the first
    entry that is not in the tree, or the first of the agency's entries of the month the export leaves out."""
    origin = export.get("origin")
    if origin is not None and origin != log.checkpoint.origin:
        raise MalformedError(f"export is of log {origin!r}; this verifier follows {log.checkpoint.origin!r}")
    result = ExportCheck(export["agency"], export["month"], len(export["entries"]))
    entries = export["entries"]
    seqs: list[int] = []
    for position, raw in enumerate(entries):
        seq, data = _leaf(raw, position)
        if seqs and seq <= seqs[-1]:
            raise MalformedError(f"export entry {seq} follows entry {seqs[-1]}: not in increasing order")
        if seq > log.size:
            raise ProofError(
                f"entry {seq} is not in the verified tree of {log.size} entries (run update; or it was never logged)"
            )
        try:
            in_tree = log.leaf_hash(seq - 1)
        except ProofError as exc:
            raise ProofError(_unproven(log, entries, position, exc)) from exc
        if merkle.leaf_hash(data) != in_tree:
            raise ProofError(f"entry {seq} is not in the log: the tree's entry {seq} is another one")
        seqs.append(seq)
    _check_complete(log, result, set(seqs))
    return result


def _first_hour(log: VerifiedLog, tile: int) -> int:
    return parse_leaf(log.leaves(tile)[0]).hour


def _check_complete(log: VerifiedLog, result: ExportCheck, exported: set[int]) -> None:
    if not log.size:
        return
    start, end = month_hours(result.month)
    tiles = (log.size + TILE_WIDTH - 1) // TILE_WIDTH
    # The last tile whose first leaf is before the month (or tile 0): the month starts in it or after it.
    lo, hi = 0, tiles - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _first_hour(log, mid) < start:
            lo = mid
        else:
            hi = mid - 1
    found: list[int] = []
    first = last = None
    for tile in range(lo, tiles):
        leaves = log.leaves(tile)
        if tile > lo and parse_leaf(leaves[0]).hour >= end:
            break
        for offset, data in enumerate(leaves):
            leaf = parse_leaf(data)
            seq = tile * TILE_WIDTH + offset + 1
            if leaf.seq != seq:
                raise ProofError(f"the tree's entry {seq} claims to be entry {leaf.seq}")
            first = seq if first is None else first
            last = seq
            if start <= leaf.hour < end and leaf.public["agency"] == result.agency:
                found.append(seq)
    result.scanned = (first, last) if first is not None and last is not None else None
    missing = [seq for seq in found if seq not in exported]
    if missing:
        raise ProofError(
            f"the export leaves out entry {missing[0]} of {result.agency} in {result.month}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    others = sorted(exported - set(found))
    if others:
        result.notes.append(
            f"{len(others)} exported entries (first {others[0]}) are in the log but not {result.agency}'s of "
            f"{result.month} by their public part"
        )
    if last is not None and last == log.size and parse_leaf(log.leaves(tiles - 1)[-1]).hour < end:
        result.notes.append(f"the verified tree ends before {result.month} does: completeness checked up to {last}")

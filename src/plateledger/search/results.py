"""The one JSON shape of a search answer (plate or area), shared by the API and the CLI's ``--json``."""

from __future__ import annotations

from typing import Any

from plateledger.core.clock import iso_ms
from plateledger.search.engine import SearchResult
from plateledger.store.queries import StoredRead


def read_json(read: StoredRead, owner_names: dict[int, str]) -> dict[str, object]:
    """One read of an answer. Written out field by field (no comprehension, no attribute lookups twice): an
    answer has hundreds of reads, and this runs once for each."""
    (
        read_id,
        plate,
        plate_raw,
        region,
        ts_ms,
        camera,
        lat,
        lon,
        confidence,
        owner,
        make,
        model,
        color,
        vtype,
        direction,
        source_ts,
        source_confidence,
    ) = read
    vehicle: dict[str, str | float] | None = None
    if make or model or color or vtype or direction is not None:
        vehicle = {}
        if make:
            vehicle["make"] = make
        if model:
            vehicle["model"] = model
        if color:
            vehicle["color"] = color
        if vtype:
            vehicle["type"] = vtype
        if direction is not None:
            vehicle["direction"] = direction
    return {
        "read_id": read_id,
        "plate": plate,
        "plate_as_read": plate_raw,
        "region": region or None,
        "ts": iso_ms(ts_ms),
        "camera": camera,
        "lat": lat,
        "lon": lon,
        "confidence": confidence,
        "owner": owner_names.get(owner, str(owner)),
        "vehicle": vehicle,
        "source_ts": source_ts or None,
        "source_confidence": source_confidence or None,
    }


def plate_groups(reads: list[StoredRead]) -> list[dict[str, object]]:
    """The reads of an answer grouped by distinct plate: how many, first and last seen; most reads first, then
    by plate. Only the reads given (those of the answer: a truncated answer's groups cover its reads alone)."""
    seen: dict[str, list[int]] = {}
    for read in reads:
        group = seen.get(read.plate)
        if group is None:
            seen[read.plate] = [1, read.ts_ms, read.ts_ms]
        else:
            group[0] += 1
            group[1] = min(group[1], read.ts_ms)
            group[2] = max(group[2], read.ts_ms)
    ordered = sorted(seen.items(), key=lambda item: (-item[1][0], item[0]))
    return [
        {"plate": plate, "count": count, "first_seen": iso_ms(first), "last_seen": iso_ms(last)}
        for plate, (count, first, last) in ordered
    ]


def grouped(result: SearchResult) -> bool:
    """Whether an answer's reads may be of several plates: a wildcard, contains or fuzzy plate search."""
    return result.match in ("wildcard", "contains") or (result.match is not None and result.fuzzy)


def hint_json(result: SearchResult) -> dict[str, object] | None:
    hint = result.hint
    if hint is None:
        return None
    return {
        "match": "contains",
        "plate": hint.plate,
        "fuzzy": hint.fuzzy,
        "detail": (
            f"No reads of {hint.plate} as a whole plate; it may be part of one. Search again with match=contains "
            "for plates containing it (a new search, decided by each owner's policy and audited)."
        ),
    }


def result_json(result: SearchResult) -> dict[str, Any]:
    """The one JSON shape of a search (plate or area), shared by the API and the CLI's --json."""
    under = f"purpose {result.purpose}, case {result.case_number}"
    if result.warrant:
        under += f", warrant {result.warrant}"
    if result.break_glass:
        under += f", break-glass (review item #{result.approval_request})"
    elif result.approval_request is not None:
        under += f", approval request #{result.approval_request}"
    return {
        "obtained_under": under,
        "purpose": result.purpose,
        "case_number": result.case_number,
        "warrant": result.warrant,
        "count": len(result.reads),
        "truncated": result.truncated,
        "reads": [read_json(r, result.owner_names) for r in result.reads],
        "withheld": [{"owner": w.owner, "rule": w.rule} for w in result.withheld],
        "limited": [{"owner": w.owner, "rule": w.rule} for w in result.limited],
        "audit_seq": result.audit_seq,
        "next_cursor": result.next_cursor,
        "approval_request": result.approval_request,
        "break_glass": result.break_glass,
        "match": result.match,
        "fuzzy": result.fuzzy if result.match is not None else None,
        "groups": plate_groups(result.reads) if grouped(result) else None,
        "groups_complete": (not result.truncated) if grouped(result) else None,
        "hint": hint_json(result),
    }

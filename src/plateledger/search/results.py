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
        _source,
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
    }

"""The one JSON shape of a search answer (plate or area), shared by the API and the CLI's ``--json``."""

from __future__ import annotations

from typing import Any

from plateledger.core.clock import iso_ms
from plateledger.search.engine import SearchResult
from plateledger.store.queries import StoredRead


def read_json(read: StoredRead, owner_names: dict[int, str]) -> dict[str, object]:
    vehicle: dict[str, str | float] = {
        k: v
        for k, v in (
            ("make", read.make),
            ("model", read.model),
            ("color", read.color),
            ("type", read.vtype),
        )
        if v
    }
    if read.direction is not None:
        vehicle["direction"] = read.direction
    return {
        "read_id": read.read_id,
        "plate": read.plate,
        "plate_as_read": read.plate_raw,
        "region": read.region or None,
        "ts": iso_ms(read.ts_ms),
        "camera": read.camera,
        "lat": read.lat,
        "lon": read.lon,
        "confidence": read.confidence,
        "owner": owner_names.get(read.owner, str(read.owner)),
        "vehicle": vehicle or None,
        "source_ts": read.source_ts or None,
        "source_confidence": read.source_confidence or None,
    }


def result_json(result: SearchResult) -> dict[str, Any]:
    """The one JSON shape of a search (plate or area), shared by the API and the CLI's --json."""
    under = f"purpose {result.purpose}, case {result.case_number}"
    if result.warrant:
        under += f", warrant {result.warrant}"
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
    }

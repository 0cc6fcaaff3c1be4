"""A search's answer as a CSV file, and the audit entry that records the download.

The reads come from a search that went through the gate and was audited like any other; the export is then
recorded (``search.exported``, naming the search's entry) before the file is handed over. Every row states the
purpose and case the reads were obtained under. Text cells that a spreadsheet would run as a formula are escaped
(:mod:`plateledger.core.csvsafe`); numbers stay numbers.
"""

from __future__ import annotations

import io
from collections import Counter

from plateledger.audit.events import SearchExported
from plateledger.audit.log import AuditLog
from plateledger.auth.tokens import Principal
from plateledger.core.csvsafe import SafeWriter
from plateledger.search.area import AreaSearch, AreaSearches
from plateledger.search.engine import SearchResult
from plateledger.search.plate import PlateSearch, PlateSearches
from plateledger.search.results import read_json

COLUMNS = (
    "ts",
    "plate",
    "plate_as_read",
    "region",
    "camera",
    "lat",
    "lon",
    "confidence",
    "owner",
    "read_id",
    "purpose",
    "case_number",
    "warrant",
)


def csv_text(result: SearchResult) -> str:
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(COLUMNS)
    for read in result.reads:
        row = read_json(read, result.owner_names)
        row.update(purpose=result.purpose, case_number=result.case_number, warrant=result.warrant)
        writer.writerow(row.get(c) for c in COLUMNS)
    return buffer.getvalue()


def export_csv(audit: AuditLog, principal: Principal, result: SearchResult) -> str:
    """The CSV of ``result``, once its download is on the audit log (fails closed like any access)."""
    audit.append(
        principal.actor,
        SearchExported(
            purpose=result.purpose,
            case_number=result.case_number,
            search_seq=result.audit_seq,
            rows=len(result.reads),
            per_owner=dict(Counter(result.owner_slugs[read.owner] for read in result.reads)),
        ),
    )
    return csv_text(result)


class SearchExports:
    """A search's answer as a download, in one call: the search (gated and audited like any other), then its
    ``search.exported`` entry, then the file (:func:`export_csv`)."""

    def __init__(self, *, audit: AuditLog, plates: PlateSearches, areas: AreaSearches) -> None:
        self._audit = audit
        self._plates = plates
        self._areas = areas

    def csv(self, principal: Principal, ask: PlateSearch | AreaSearch) -> tuple[SearchResult, str]:
        """Run ``ask`` for ``principal`` and return its result with the CSV, once the download is audited."""
        if isinstance(ask, AreaSearch):
            result = self._areas.search(principal, ask)
        else:
            result = self._plates.search(principal, ask)
        return result, export_csv(self._audit, principal, result)

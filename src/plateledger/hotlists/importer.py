"""Importing a hot-list file: parse every line, validate every entry, then apply all of it in one transaction
or nothing.

If any line is invalid the import is refused as a whole (:class:`ImportRefused`, with the per-line report) and
the list is unchanged; with ``skip_invalid`` only the valid lines are applied and the number rejected is in the
``hotlist.changed`` audit entry. A ``complete`` import replaces the list (every live entry not in the file is
removed); an ``incremental`` one adds or updates entries by plate and removes the plates a file marks for
removal. Either way it is one :meth:`HotLists.apply`: one transaction with its audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock
from plateledger.core.errors import FieldInvalid, ImportRefused, NotFound, PayloadTooLarge
from plateledger.core.settings import Settings
from plateledger.hotlists import imports
from plateledger.hotlists.imports import Options, Parsed
from plateledger.hotlists.service import Entry, EntryIn, HotLists
from plateledger.plates import is_pattern, normalise_pattern, validate_plate
from plateledger.sharing.service import expiry_ms

#: Errors listed in the one-line message of a refused import (the report lists all).
SHOWN_ERRORS = 5


class Mode(StrEnum):
    COMPLETE = "complete"
    INCREMENTAL = "incremental"


@dataclass(frozen=True)
class ImportRequest:
    """What an import is asked to do, as a door received it (checked by :meth:`Imports.run`): the file's format,
    the mode, whether invalid lines are skipped, which door asked (``source``, in the audit entry), what lines
    lacking a value get (``purpose``, ``reference``, ``reason``, ``expires`` or ``expiry_days``), and how the
    format is read (``country`` of two-letter states, genetec's ``delimiter`` and ``columns``, ca-doj's ``kind``,
    else from ``filename``)."""

    format: str
    mode: str = Mode.INCREMENTAL.value
    skip_invalid: bool = False
    source: str = "import"
    purpose: str | None = None
    reference: str | None = None
    reason: str | None = None
    expires: str | None = None
    expiry_days: int | None = None
    country: str = "US"
    delimiter: str = ";"
    columns: str | None = None
    kind: str | None = None
    filename: str | None = None


class Imports:
    """Importing a hot-list file: the one operation the API, the CLI and the web UI call."""

    def __init__(self, hotlists: HotLists, settings: Settings, clock: Clock) -> None:
        self._hotlists = hotlists
        self._settings = settings
        self._clock = clock

    @property
    def max_bytes(self) -> int:
        """The largest file an import takes (``hotlist_import_max_bytes``); a door reads at most one byte more."""
        return self._settings.hotlist_import_max_bytes

    def run(
        self, principal: Principal, list_id: int, data: bytes, request: ImportRequest, *, declared: int | None = None
    ) -> dict[str, Any]:
        """Import ``data`` into the list; return the report (:class:`ImportRefused` with it if refused whole).
        ``declared``: the length a request declared, where it did (a door reads nothing of a file declared
        larger than :attr:`max_bytes`). Refused (and audited) before anything about the file is said unless the
        principal may change the list's entries."""
        self._hotlists.for_change(principal, list_id)
        if max(len(data), declared or 0) > self.max_bytes:
            raise PayloadTooLarge(f"file: more than the {self.max_bytes} bytes a hot-list import may have")
        options = build_options(
            self._settings,
            now_ms=self._clock.now_ms(),
            expiry_days=request.expiry_days,
            country=request.country,
            purpose=request.purpose,
            reference=request.reference,
            reason=request.reason,
            expires=request.expires,
            delimiter=request.delimiter,
            columns=request.columns,
            kind=request.kind,
            filename=request.filename,
        )
        return run_import(self._hotlists, principal, list_id, data, request, options, max_bytes=self.max_bytes)


def plate_key(text: str) -> str:
    """How a plate (or pattern) is stored, for removals given by hand or by a file."""
    text = text.strip()
    return normalise_pattern(text) if is_pattern(text) else validate_plate(text)


def run_import(
    hotlists: HotLists,
    principal: Principal,
    list_id: int,
    data: bytes,
    request: ImportRequest,
    options: Options,
    *,
    max_bytes: int,
) -> dict[str, Any]:
    """Import ``data`` into the list; return the report (raise :class:`ImportRefused` with it if refused)."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"file: {len(data)} bytes, more than the {max_bytes} a hot-list import may have")
    try:
        mode = Mode(request.mode)
    except ValueError:
        raise FieldInvalid("mode", "complete or incremental") from None
    view = hotlists.for_change(principal, list_id)  # refused before anything about the file is said
    parsed = imports.parse(data, request.format, options)
    errors: list[dict[str, Any]] = [
        {"line": p.line, "field": p.field, "reason": p.error} for p in parsed if p.error is not None
    ]
    skipped = [{"line": p.line, "reason": p.skipped} for p in parsed if p.skipped is not None]
    adds = [p for p in parsed if p.entry is not None and not p.remove]
    removes = [p for p in parsed if p.entry is not None and p.remove]
    if removes and mode is Mode.COMPLETE:
        refused = "remove has no place in a complete list"
        errors += [{"line": p.line, "field": "action", "reason": refused} for p in removes]
        removes = []
    valid, invalid = hotlists.validate(view, [p.entry for p in adds if p.entry is not None])
    for index, detail in invalid:
        name, _, reason = detail.partition(": ")
        errors.append({"line": adds[index].line, "field": name, "reason": reason})
    bad_lines = {e["line"] for e in errors}
    good_adds = [p for p in adds if p.line not in bad_lines]
    # Keep the first entry of each (plate, region); later duplicates are noted, not added twice.
    chosen: list[Entry] = []
    seen: dict[tuple[str, str | None], int] = {}
    for line, entry in zip(good_adds, valid, strict=True):
        key = (entry.plate, entry.region)
        if key in seen:
            skipped.append({"line": line.line, "reason": f"same plate and region as line {seen[key]}"})
            continue
        seen[key] = line.line
        chosen.append(entry)
    remove_plates = _removals(removes, errors)
    errors.sort(key=lambda e: (e["line"], e["field"] or ""))
    report: dict[str, Any] = {
        "list_id": view.id,
        "format": request.format,
        "mode": mode.value,
        "applied": False,
        "records": len(parsed),
        "added": 0,
        "removed": 0,
        "rejected": len(errors),
        "skipped": sorted(skipped, key=lambda s: s["line"]),
        "errors": errors,
    }
    if errors and not request.skip_invalid:
        shown = "; ".join(f"line {e['line']} {e['field']}: {e['reason']}" for e in errors[:SHOWN_ERRORS])
        more = f"; and {len(errors) - SHOWN_ERRORS} more" if len(errors) > SHOWN_ERRORS else ""
        raise ImportRefused(
            f"import refused, nothing applied: {len(errors)} invalid line(s) of {len(parsed)}: {shown}{more} "
            "(fix them, or import with skip_invalid to apply only the valid lines)",
            report,
        )
    if mode is Mode.COMPLETE and not chosen:
        raise FieldInvalid("file", "a complete import with no valid entry would empty the list; refused")
    # Incremental: an entry for a plate already on the list replaces it (re-importing a file adds nothing twice).
    upserts = {e.plate for e in chosen} if mode is Mode.INCREMENTAL else set()
    counts = hotlists.apply(
        principal,
        view.id,
        add=chosen,
        remove_plates=sorted(upserts | remove_plates),
        replace=mode is Mode.COMPLETE,
        source=f"{request.source}:{request.format}",
        rejected=len(errors),
    )
    report.update(applied=True, added=counts["added"], removed=counts["removed"])
    return report


def _removals(removes: list[Parsed], errors: list[dict[str, Any]]) -> set[str]:
    plates = set()
    for p in removes:
        assert p.entry is not None
        try:
            plates.add(plate_key(p.entry.plate))
        except FieldInvalid as invalid:
            errors.append({"line": p.line, "field": invalid.field, "reason": invalid.rule})
    return plates


def build_options(
    settings: Settings,
    *,
    now_ms: int,
    expiry_days: int | None = None,
    country: str = "US",
    purpose: str | None = None,
    reference: str | None = None,
    reason: str | None = None,
    expires: str | None = None,
    delimiter: str = ";",
    columns: str | None = None,
    kind: str | None = None,
    filename: str | None = None,
) -> Options:
    """Import options from what a request or the command line gives (InvalidInput naming a bad one); the default
    expiry is ``settings.hotlist_import_expiry_days``, and no expiry exceeds ``settings.hotlist_max_entry_days``."""
    if not (len(country) == 2 and country.isalpha()):
        raise FieldInvalid("country", "two letters, e.g. US")
    return Options(
        now_ms=now_ms,
        expiry_days=min(expiry_days or settings.hotlist_import_expiry_days, settings.hotlist_max_entry_days),
        country=country.upper(),
        purpose=purpose,
        reference=reference,
        reason=reason,
        expires_ms=_expires(expires, "expires") if expires else None,
        delimiter=delimiter,
        columns=imports.parse_columns(columns),
        kind=kind or imports.kind_from_filename(filename),
    )


def _expires(text: str, name: str) -> int:
    try:
        return expiry_ms(text)
    except FieldInvalid:
        raise FieldInvalid(name, "an ISO date like 2027-06-30, or a time with a zone") from None


def add_entries(hotlists: HotLists, principal: Principal, list_id: int, bodies: list[dict[str, Any]]) -> dict[str, int]:
    """Add entries given by hand (API, CLI), all or none: the first invalid one is refused naming its field."""
    view = hotlists.for_change(principal, list_id)
    given = []

    def prefix(index: int) -> str:
        return f"entries[{index}]." if len(bodies) > 1 else ""

    for index, body in enumerate(bodies):
        given.append(
            EntryIn(
                plate=str(body.get("plate") or ""),
                region=body.get("region"),
                purpose=body.get("purpose"),
                reference=body.get("reference"),
                reason=body.get("reason"),
                expires_ms=_expires(body["expires"], prefix(index) + "expires") if body.get("expires") else None,
            )
        )
    valid, invalid = hotlists.validate(view, given)
    if invalid:
        index, detail = invalid[0]
        name, _, rule = detail.partition(": ")
        raise FieldInvalid(prefix(index) + name, rule)
    return hotlists.apply(principal, view.id, add=valid, source="manual")


def remove_entries(hotlists: HotLists, principal: Principal, list_id: int, plates: list[str]) -> dict[str, int]:
    """Remove the live entries of these plates (or patterns, as listed); NotFound if none is on the list."""
    hotlists.for_change(principal, list_id)
    keys = sorted({plate_key(p) for p in plates})
    live = {e["plate"] for e in hotlists.entries(principal, list_id)}
    if not live.intersection(keys):
        raise NotFound(f"no live entry for {', '.join(keys)[:200]} on this list")
    return hotlists.apply(principal, list_id, add=[], remove_plates=keys, source="manual")

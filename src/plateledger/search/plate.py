"""Plate history search: validate, ask the gate, query the store, audit, answer — in that order (see
:mod:`plateledger.search.engine`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from plateledger.approvals.canonical import Hold
from plateledger.audit.events import PlateSearched
from plateledger.auth.tokens import Principal
from plateledger.core.errors import FieldInvalid, PlateledgerError
from plateledger.core.text import REGION, check_camera_id
from plateledger.plates import (
    MAX_PLATE,
    MIN_WILDCARD_LITERALS,
    contains_pattern,
    is_pattern,
    normalise_pattern,
    pattern_to_like,
    validate_plate,
)
from plateledger.search.engine import (
    MAX_NOTE,
    ContainsHint,
    SearchEngine,
    SearchResult,
    Withheld,
    approval_params,
    canonical_query,
    parse_flag,
    parse_int,
    parse_time,
    validate_approval,
    validate_purpose_case,
    validate_vehicle,
    validate_warrant,
    vehicle_params,
)
from plateledger.store.queries import PlateQuery
from plateledger.store.reads import ReadsStore
from plateledger.vocab import Purpose, QueryKind

__all__ = ["MATCHES", "PlateSearch", "PlateSearches", "SearchResult", "Withheld", "match_of"]

#: How a plate search matches ``plate``: ``exact`` (the plate, or with ``fuzzy`` its confusable variants),
#: ``wildcard`` (a pattern with ``*`` and ``?``), ``contains`` (plates that contain the letters and digits given).
#: Left out, it is ``wildcard`` for a plate with ``*`` or ``?`` and ``exact`` otherwise.
MATCHES = ("exact", "wildcard", "contains")


def match_of(plate: str | None, match: str | None) -> str:
    """The match kind a search asks for, as its audit entry records it (what was sent, cut short, when it is
    not one of ``MATCHES``)."""
    if match in (None, ""):
        return "wildcard" if is_pattern(plate or "") else "exact"
    return match if match in MATCHES else str(match)[:16]


@dataclass(frozen=True)
class PlateSearch:
    """A plate search as asked, unvalidated: the CLI and API pass what the caller sent (strings included), and
    the service validates every field, so that any refusal is audited like an answer.

    ``since``/``until``: epoch milliseconds or ISO 8601 with a zone; ``fuzzy``: a bool or true/false/1/0;
    ``limit``: an integer or its decimal string; ``warrant``: a warrant or court-order reference, needed where
    the owner's policy requires one for the lookback asked."""

    plate: str | None
    purpose: str | None
    case_number: str | None
    fuzzy: bool | str = False
    since: int | str | None = None
    until: int | str | None = None
    region: str | None = None
    camera: str | None = None
    limit: int | str | None = None
    note: str | None = None
    warrant: str | None = None
    #: The id of an approved approval request this search runs on (the identical search), or break-glass.
    approval: int | str | None = None
    break_glass: bool | str = False
    #: One of ``MATCHES``; left out, taken from ``plate`` (a pattern or not).
    match: str | None = None
    #: Vehicle filters: only reads of a vehicle so described (case-insensitive, trimmed; see validate_vehicle).
    make: str | None = None
    model: str | None = None
    color: str | None = None
    vehicle_type: str | None = None

    def audit_params(self) -> dict[str, object]:
        return {
            "plate": (self.plate or "")[:64],
            "match": match_of(self.plate, self.match),
            "fuzzy": self.fuzzy if isinstance(self.fuzzy, bool) else str(self.fuzzy)[:16],
            "since": self.since if not isinstance(self.since, str) else self.since[:40],
            "until": self.until if not isinstance(self.until, str) else self.until[:40],
            "region": (self.region or "")[:16] or None,
            "camera": (self.camera or "")[:64] or None,
            "note": (self.note or "")[:MAX_NOTE] or None,
            **approval_params(self.approval, self.break_glass),
            **vehicle_params(self.make, self.model, self.color, self.vehicle_type),
        }


class PlateSearches:
    def __init__(self, *, reads: ReadsStore, engine: SearchEngine, max_limit: int, page: int) -> None:
        self._reads = reads
        self._engine = engine
        self._max_limit = max_limit
        self._page = page

    def _validate(self, principal: Principal, ask: PlateSearch) -> tuple[Purpose, str, str | None, PlateQuery, Hold]:
        purpose, case_number = validate_purpose_case(ask.purpose, ask.case_number)
        warrant = validate_warrant(ask.warrant)
        request_id, glass = validate_approval(ask.approval, ask.break_glass, ask.note)
        if ask.note is not None and len(ask.note) > MAX_NOTE:
            raise FieldInvalid("note", f"at most {MAX_NOTE} characters")
        if not ask.plate:
            raise FieldInvalid("plate", "required")
        if len(ask.plate) > 64:
            raise FieldInvalid("plate", "longer than 64 characters")
        limit = parse_int(ask.limit, "limit") if ask.limit is not None else min(self._page, self._max_limit)
        if not 1 <= limit <= self._max_limit:
            raise FieldInvalid("limit", f"must be between 1 and {self._max_limit}")
        since, until = parse_time(ask.since, "since"), parse_time(ask.until, "until")
        if since is not None and until is not None and since >= until:
            raise FieldInvalid("since", "must be before until")
        fuzzy = parse_flag(ask.fuzzy, "fuzzy")
        region = ask.region.upper() if ask.region else None
        if region is not None and not REGION.fullmatch(region):
            raise FieldInvalid("region", "ISO 3166-2 like US-CA")
        if ask.camera is not None:
            check_camera_id(ask.camera)
        match = match_of(ask.plate, ask.match)
        if match not in MATCHES:
            raise FieldInvalid("match", "one of " + ", ".join(MATCHES))
        if match == "exact" and is_pattern(ask.plate):
            raise FieldInvalid("match", "exact takes a plate without * or ?; leave match out for a wildcard pattern")
        if match == "wildcard" and not is_pattern(ask.plate):
            raise FieldInvalid("match", "a wildcard search needs * or ? in plate; for part of a plate use contains")
        if match == "contains":
            like: str | None = pattern_to_like(contains_pattern(ask.plate))
        else:
            like = pattern_to_like(normalise_pattern(ask.plate)) if match == "wildcard" else None
        query = PlateQuery(
            plate=validate_plate(ask.plate) if match == "exact" else None,
            like=like,
            fuzzy=fuzzy,
            since_ms=since,
            until_ms=until,
            region=region,
            camera=ask.camera,
            limit=limit + 1,
            vehicle=validate_vehicle(ask.make, ask.model, ask.color, ask.vehicle_type),
        )
        hold = Hold(
            kind=QueryKind.PLATE.value,
            purpose=purpose.value,
            case_number=case_number,
            query=canonical_query(query, limit),
            warrant=warrant,
            request_id=request_id,
            break_glass=glass,
        )
        return purpose, case_number, warrant, query, hold

    def search(self, principal: Principal, ask: PlateSearch) -> SearchResult:
        try:
            purpose, case_number, warrant, query, hold = self._validate(principal, ask)
        except PlateledgerError as refusal:
            self._engine.refuse(
                principal,
                QueryKind.PLATE,
                refusal.detail,
                purpose=ask.purpose,
                case_number=ask.case_number,
                query=ask.audit_params(),
            )
            raise
        result = self._engine.run(
            principal,
            event=PlateSearched,
            kind=QueryKind.PLATE,
            purpose=purpose,
            case_number=case_number,
            query=ask.audit_params(),
            since_ms=query.since_ms,
            limit=query.limit - 1,
            fetch=lambda permit: self._reads.plate_history(permit, query),
            warrant=warrant,
            hold=hold,
        )
        match = match_of(ask.plate, ask.match)
        hint = None
        if match == "exact" and not result.reads and query.plate is not None and may_be_partial(query.plate):
            hint = ContainsHint(plate=query.plate, fuzzy=query.fuzzy)
        return replace(result, match=match, fuzzy=query.fuzzy, hint=hint)


def may_be_partial(plate: str) -> bool:
    """Whether a normalised plate could be part of a longer plate and is long enough for a contains search:
    ``MIN_WILDCARD_LITERALS`` letters or digits, and fewer than the longest plate (``MAX_PLATE``)."""
    return MIN_WILDCARD_LITERALS <= len(plate) < MAX_PLATE

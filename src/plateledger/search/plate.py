"""Plate history search: validate, authorise, ask the gate, query the store, audit, answer — in that order.

Every outcome is audited before the caller sees it; a refusal is audited as ``search.refused`` and nothing
is searched. If the audit append fails, the search fails (AuditUnavailable) and no read is returned.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from plateledger.audit.events import PlateSearched, SearchRefused
from plateledger.audit.log import AuditLog
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock, iso_ms, parse_iso_ms
from plateledger.core.errors import FieldInvalid, PermissionDenied, PlateledgerError
from plateledger.plates import is_pattern, normalise_pattern, pattern_to_like, validate_plate
from plateledger.policy.gate import Gate, Owner, Request
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, Camera
from plateledger.store.reads import PlateQuery, ReadsStore, StoredRead
from plateledger.vocab import SEARCH_ROLES, Purpose, QueryKind

_CASE = re.compile(r"^[\x20-\x7e]{1,64}$")
MAX_NOTE = 500


@dataclass(frozen=True)
class PlateSearch:
    """A plate search as asked, unvalidated: the CLI and API pass what the caller sent (strings included), and
    the service validates every field, so that any refusal is audited like an answer.

    ``since``/``until``: epoch milliseconds or ISO 8601 with a zone; ``fuzzy``: a bool or true/false/1/0;
    ``limit``: an integer or its decimal string."""

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

    def audit_params(self) -> dict[str, object]:
        return {
            "plate": (self.plate or "")[:64],
            "fuzzy": self.fuzzy if isinstance(self.fuzzy, bool) else str(self.fuzzy)[:16],
            "since": self.since if not isinstance(self.since, str) else self.since[:40],
            "until": self.until if not isinstance(self.until, str) else self.until[:40],
            "region": (self.region or "")[:16] or None,
            "camera": (self.camera or "")[:64] or None,
            "note": (self.note or "")[:MAX_NOTE] or None,
        }


@dataclass(frozen=True)
class Withheld:
    owner: str
    rule: str


@dataclass(frozen=True)
class PlateSearchResult:
    purpose: str
    case_number: str
    query: dict[str, object]
    reads: list[StoredRead]
    owner_names: dict[int, str]
    withheld: list[Withheld] = field(default_factory=list)
    audit_seq: int = 0
    truncated: bool = False


def _time(value: int | str | None, field: str) -> int | None:
    """Epoch milliseconds from an int or an ISO 8601 string with a zone."""
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_iso_ms(value)
    except ValueError:
        raise FieldInvalid(field, "ISO 8601 with a time zone, e.g. 2026-11-01T00:00:00Z") from None


def _integer(value: int | str, field: str) -> int:
    if isinstance(value, int):
        return value
    if not re.fullmatch(r"[0-9]{1,9}", value.strip()):
        raise FieldInvalid(field, "must be a whole number")
    return int(value)


def _flag(value: bool | str, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no", ""}:
        return False
    raise FieldInvalid(field, "true or false")


def validate_purpose_case(purpose: str | None, case_number: str | None) -> tuple[Purpose, str]:
    if not purpose:
        raise FieldInvalid("purpose", "required; one of " + ", ".join(p.value for p in Purpose))
    if purpose not in {p.value for p in Purpose}:
        raise FieldInvalid("purpose", f"unknown purpose {purpose[:64]!r}; one of " + ", ".join(Purpose))
    if not case_number or not case_number.strip():
        raise FieldInvalid("case_number", "required (1-64 printable characters)")
    if not _CASE.match(case_number):
        raise FieldInvalid("case_number", "must be 1-64 printable ASCII characters")
    return Purpose(purpose), case_number


class PlateSearches:
    def __init__(
        self,
        *,
        governance: Governance,
        reads: ReadsStore,
        audit: AuditLog,
        gate: Gate,
        clock: Clock,
        max_limit: int,
        page: int,
    ) -> None:
        self._gov = governance
        self._reads = reads
        self._audit = audit
        self._gate = gate
        self._clock = clock
        self._max_limit = max_limit
        self._page = page

    def _validate(self, principal: Principal, ask: PlateSearch) -> tuple[Purpose, str, PlateQuery]:
        purpose, case_number = validate_purpose_case(ask.purpose, ask.case_number)
        if principal.role not in SEARCH_ROLES:
            raise PermissionDenied(f"a {principal.role.value} token cannot search reads")
        if ask.note is not None and len(ask.note) > MAX_NOTE:
            raise FieldInvalid("note", f"at most {MAX_NOTE} characters")
        if not ask.plate:
            raise FieldInvalid("plate", "required")
        if len(ask.plate) > 64:
            raise FieldInvalid("plate", "longer than 64 characters")
        limit = _integer(ask.limit, "limit") if ask.limit is not None else min(self._page, self._max_limit)
        if not 1 <= limit <= self._max_limit:
            raise FieldInvalid("limit", f"must be between 1 and {self._max_limit}")
        since, until = _time(ask.since, "since"), _time(ask.until, "until")
        if since is not None and until is not None and since >= until:
            raise FieldInvalid("since", "must be before until")
        fuzzy = _flag(ask.fuzzy, "fuzzy")
        region = ask.region.upper() if ask.region else None
        if region is not None and not re.fullmatch(r"[A-Z]{2}-[A-Z0-9]{1,3}", region):
            raise FieldInvalid("region", "ISO 3166-2 like US-CA")
        if ask.camera is not None and not re.fullmatch(r"[\x21-\x7e]{1,64}", ask.camera):
            raise FieldInvalid("camera", "1-64 printable characters")
        pattern = is_pattern(ask.plate)
        query = PlateQuery(
            plate=None if pattern else validate_plate(ask.plate),
            like=pattern_to_like(normalise_pattern(ask.plate)) if pattern else None,
            fuzzy=fuzzy,
            since_ms=since,
            until_ms=until,
            region=region,
            camera=ask.camera,
            limit=limit + 1,
        )
        return purpose, case_number, query

    def _owners(self) -> list[Owner]:
        """Every agency that owns cameras, hence possibly reads: each gets a decision."""
        with self._gov.session() as session:
            rows = session.execute(
                select(Agency.id, Agency.slug, Agency.name)
                .where(Agency.id.in_(select(Camera.agency_id)))
                .order_by(Agency.id)
            )
            return [Owner(agency_id=row.id, slug=row.slug, name=row.name) for row in rows]

    def search(self, principal: Principal, ask: PlateSearch) -> PlateSearchResult:
        try:
            purpose, case_number, query = self._validate(principal, ask)
        except PlateledgerError as refusal:
            self._audit.append(
                principal.actor,
                SearchRefused(
                    reason=refusal.detail[:300],
                    purpose=(ask.purpose or "")[:64] or None,
                    case_number=(ask.case_number or "")[:64] or None,
                    query=ask.audit_params(),
                ),
            )
            raise
        request = Request(
            agency_id=principal.agency_id,
            agency_kind=principal.agency_kind,
            country=principal.country,
            state=principal.state,
            role=principal.role,
            purpose=purpose.value,
            case_number=case_number,
            query_kind=QueryKind.PLATE,
            since_ms=query.since_ms,
            now_ms=self._clock.now_ms(),
        )
        owners = self._owners()
        permit = self._gate.permit(request, owners)
        reads = self._reads.plate_history(permit, query)
        truncated = len(reads) >= query.limit
        reads = reads[: query.limit - 1]
        names = {o.agency_id: o.name for o in owners}
        slugs = {o.agency_id: o.slug for o in owners}
        # The audit log keys owners by slug (unique); responses show the display name.
        per_owner = dict(Counter(slugs.get(read.owner, str(read.owner)) for read in reads))
        refused = [d for d in permit.decisions if not d.allowed]
        withheld = [Withheld(d.owner.name, d.rule) for d in refused]
        seq = self._audit.append(
            principal.actor,
            PlateSearched(
                purpose=purpose.value,
                case_number=case_number,
                query=ask.audit_params(),
                per_owner=per_owner,
                withheld={d.owner.slug: d.rule for d in refused},
            ),
        )
        return PlateSearchResult(
            purpose=purpose.value,
            case_number=case_number,
            query=ask.audit_params(),
            reads=reads,
            owner_names=names,
            withheld=withheld,
            audit_seq=seq,
            truncated=truncated,
        )


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
    }


def result_json(result: PlateSearchResult) -> dict[str, Any]:
    """The one JSON shape of a plate search, shared by the API and the CLI's --json."""
    return {
        "obtained_under": f"purpose {result.purpose}, case {result.case_number}",
        "purpose": result.purpose,
        "case_number": result.case_number,
        "count": len(result.reads),
        "truncated": result.truncated,
        "reads": [read_json(r, result.owner_names) for r in result.reads],
        "withheld": [{"owner": w.owner, "rule": w.rule} for w in result.withheld],
        "audit_seq": result.audit_seq,
    }

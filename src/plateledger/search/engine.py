"""What every search shares: field validation, the gate, the audit entry, the answer.

A search is validated (a malformed request is refused and audited before any owner is evaluated), then the
gate decides each owner from the current :class:`~plateledger.policy.gate.Book`; the store answers only for
the permitted owners and windows; the outcome is audited; only then is it returned. If the audit append fails
nothing is returned (invariant 2). Each search also spends the requesting user's query budget
(:mod:`plateledger.search.budget`, from the requester's own policy): a spent budget is refused and audited like
any other refusal, and a search returns no more reads than the budget has left.

A search the gate holds for approval (some owner's decision has ``approver`` set) is not run: it is stored as an
approval request bound to the SHA-256 of its canonical query, in the transaction of its ``search.refused``
entry, and :class:`~plateledger.core.errors.ApprovalRequired` raised. Run again with the request's id once
approved, the approval is claimed (same user; approved, unexpired, unused), given to the gate as an input, the
canonical query (with the owners the gate now permits) must hash the same, and the request is marked used in
the transaction of the answer's entry, which names the supervisors. A break-glass search runs at once, marked so
in its entry, and opens a review item in the same transaction (docs/approval.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial

import orjson
from sqlalchemy.orm import Session

from plateledger.approvals.canonical import Hold, query_hash
from plateledger.approvals.service import Approvals, Claim
from plateledger.audit.events import AuditEvent, SearchAnswered, SearchRefused
from plateledger.audit.log import AuditLog
from plateledger.auth.tokens import Principal
from plateledger.core import timing
from plateledger.core.clock import Clock, parse_iso_ms
from plateledger.core.errors import (
    ApprovalRequired,
    Conflict,
    FieldInvalid,
    NotFound,
    PermissionDenied,
    StoreUnavailable,
    TooManyRequests,
)
from plateledger.core.text import PRINTABLE_64, WARRANT
from plateledger.policy.actions import Action, allowed, require
from plateledger.policy.gate import Approval, AreaLimit, Book, Decision, Gate, Permit, Request, area_limits
from plateledger.search.budget import Budgets
from plateledger.sharing.service import Books
from plateledger.store.queries import AreaQuery, PlateQuery, StoredRead, VehicleFilter
from plateledger.vocab import Purpose, QueryKind

MAX_NOTE = 500
#: The longest vehicle attribute a filter may name (the longest one a read may carry).
MAX_VEHICLE_TEXT = 64
#: The vehicle filters of a search, by the name the API, CLI and web form give them (``type``: the vehicle's).
VEHICLE_FIELDS = ("make", "model", "color", "type")
#: The audit actions of answered searches: what a query budget counts.
ANSWERED = frozenset(cls.action for cls in SearchAnswered.__subclasses__())


@dataclass(frozen=True)
class Withheld:
    owner: str
    rule: str


@dataclass(frozen=True)
class ContainsHint:
    """An exact plate search found no reads, and its plate may be part of a longer one: the contains search that
    could find it, offered and never run (a new search, gated and audited like any other)."""

    plate: str
    fuzzy: bool = False


@dataclass(frozen=True)
class SearchResult:
    kind: QueryKind
    purpose: str
    case_number: str
    query: dict[str, object]
    reads: list[StoredRead]
    owner_names: dict[int, str]
    withheld: list[Withheld] = field(default_factory=list)
    #: Permitted owners whose window was narrowed from what was asked, and why.
    limited: list[Withheld] = field(default_factory=list)
    audit_seq: int = 0
    truncated: bool = False
    warrant: str | None = None
    #: Area search: where the next page starts (None on the last page; plate search pages by ``since``).
    next_cursor: str | None = None
    #: The slug of each owner in ``owner_names`` (what audit entries name owners by).
    owner_slugs: dict[int, str] = field(default_factory=dict)
    #: The approval request this search ran on (approved, or break-glass): its id.
    approval_request: int | None = None
    break_glass: bool = False
    #: Plate search: how the plate matched (``exact``, ``wildcard`` or ``contains``) and whether fuzzily.
    match: str | None = None
    fuzzy: bool = False
    #: Plate search: an exact search without reads whose plate may be partial (see ContainsHint).
    hint: ContainsHint | None = None


def parse_time(value: int | str | None, field: str) -> int | None:
    """Epoch milliseconds from an int or an ISO 8601 string with a zone."""
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_iso_ms(value)
    except ValueError:
        raise FieldInvalid(field, "ISO 8601 with a time zone, e.g. 2026-11-01T00:00:00Z") from None


def parse_int(value: int | str, field: str) -> int:
    if isinstance(value, int):
        return value
    if not re.fullmatch(r"[0-9]{1,9}", value.strip()):
        raise FieldInvalid(field, "must be a whole number")
    return int(value)


def parse_flag(value: bool | str, field: str) -> bool:
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
    if not PRINTABLE_64.fullmatch(case_number):
        raise FieldInvalid("case_number", "must be 1-64 printable ASCII characters")
    return Purpose(purpose), case_number


def validate_warrant(value: str | None) -> str | None:
    """The warrant or court-order reference as recorded: None when none was given, else stripped and checked
    against :data:`~plateledger.core.text.WARRANT`. A blank one is refused, never taken as a warrant."""
    if value is None:
        return None
    text = value.strip(" \t")  # other whitespace and control characters are refused, not stripped
    if not text:
        raise FieldInvalid("warrant", "must not be blank; leave it out when there is no warrant")
    if not WARRANT.fullmatch(text):
        raise FieldInvalid(
            "warrant",
            "1-64 characters: letters, digits, spaces and - / . : # _ ( ), beginning and ending with a letter or digit",
        )
    return text


def _vehicle_text(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_VEHICLE_TEXT:
        raise FieldInvalid(name, f"at most {MAX_VEHICLE_TEXT} characters")
    if not text.isprintable():
        raise FieldInvalid(name, "must not contain control characters")
    return text


def validate_vehicle(
    make: str | None, model: str | None, color: str | None, vehicle_type: str | None
) -> VehicleFilter | None:
    """The vehicle filter of a search: each attribute trimmed (blank: not given), at most
    ``MAX_VEHICLE_TEXT`` characters, printable (any script); None when none is given. Matching is
    case-insensitive, in the engine."""
    values = [_vehicle_text(v, n) for v, n in zip((make, model, color, vehicle_type), VEHICLE_FIELDS, strict=True)]
    if not any(values):
        return None
    return VehicleFilter(make=values[0], model=values[1], color=values[2], vtype=values[3])


def vehicle_params(
    make: str | None, model: str | None, color: str | None, vehicle_type: str | None
) -> dict[str, object]:
    """The vehicle filters of a search's audited parameters (``vehicle``), only when one was given, each cut
    to ``MAX_VEHICLE_TEXT`` characters (other entries keep their shape)."""
    given = {
        name: value[:MAX_VEHICLE_TEXT]
        for name, value in zip(VEHICLE_FIELDS, (make, model, color, vehicle_type), strict=True)
        if value is not None and value.strip()
    }
    return {"vehicle": given} if given else {}


def canonical_query(query: PlateQuery | AreaQuery, limit: int) -> dict[str, object]:
    """A validated query as an approval binds it (``Hold.query``): its fields with the page's ``limit``; the
    optional ``vehicle`` and ``cameras`` only when set, so a query without them hashes as it always has."""
    fields = {k: v for k, v in asdict(query).items() if not (k in ("vehicle", "cameras") and v is None)}
    return {**fields, "limit": limit}


def approval_params(approval: int | str | None, break_glass: bool | str) -> dict[str, object]:
    """The approval fields of a search's audited parameters: only those given (other entries keep their shape)."""
    params: dict[str, object] = {}
    if approval not in (None, ""):
        params["approval"] = approval if isinstance(approval, int) else str(approval)[:16]
    if break_glass not in (False, "", "false", "0", "no"):
        params["break_glass"] = break_glass if isinstance(break_glass, bool) else str(break_glass)[:16]
    return params


def _note_of(query: dict[str, object]) -> str | None:
    """The searcher's note as the search's audit entry records it (``query.note``)."""
    note = query.get("note")
    return note if isinstance(note, str) and note else None


def validate_approval(approval: int | str | None, break_glass: bool | str, note: str | None) -> tuple[int | None, bool]:
    """The approval request a search runs on, and whether it is break-glass (which needs a note saying why it
    cannot wait, and no approval request)."""
    request_id = parse_int(approval, "approval") if approval not in (None, "") else None
    glass = parse_flag(break_glass, "break_glass")
    if glass and request_id is not None:
        raise FieldInvalid("break_glass", "give either an approval request or break_glass, not both")
    if glass and not (note or "").strip():
        raise FieldInvalid("note", "required with break_glass: say why the search cannot wait for approval")
    return request_id, glass


def compact(refused: list[Decision]) -> tuple[dict[str, str], str | None]:
    """Refusals for the audit entry: the most common rule once (``withheld_others``), the rest by owner slug."""
    if not refused:
        return {}, None
    others = Counter(d.rule for d in refused).most_common(1)[0][0]
    return {d.owner.slug: d.rule for d in refused if d.rule != others}, others


class SearchEngine:
    def __init__(
        self,
        *,
        audit: AuditLog,
        gate: Gate,
        books: Books,
        clock: Clock,
        approvals: Approvals,
        budgets: Budgets | None = None,
    ) -> None:
        self._audit = audit
        self._gate = gate
        self._books = books
        self._clock = clock
        self._approvals = approvals
        self._budgets = budgets or Budgets()

    def area_limits(self, principal: Principal) -> list[AreaLimit]:
        """The owners that may answer the principal's area searches, with their radius and window limits, from
        the current book (policy facts: nothing is read; only a refusal, for a role that may not search, is
        audited)."""
        require(principal, Action.SEARCH, principal.agency_id, audit=self._audit)
        return area_limits(self._books.current(), principal.agency_id, self._clock.now_ms())

    def _history(self, principal: Principal, seconds: int) -> tuple[int, int]:
        """The principal's answered searches of the last ``seconds``, and the reads they returned (audit log)."""
        since = self._clock.now_ms() - seconds * 1000
        counts = self._audit.counts_since(principal.user_id, since_ms=since, actions=ANSWERED)
        return len(counts), sum(sum(orjson.loads(c).get("per_owner", {}).values()) for c in counts)

    def refuse(
        self,
        principal: Principal,
        kind: QueryKind,
        reason: str,
        *,
        purpose: str | None,
        case_number: str | None,
        query: dict[str, object],
        refused: list[Decision] | None = None,
        by_owner: bool = False,
        withheld: dict[str, str] | None = None,
        approval_request: int | None = None,
    ) -> None:
        """Audit a refused search. ``refused``: the gate's refusals to record; ``by_owner`` names each owner with
        its rule instead of folding the most common rule into ``withheld_others`` (a request about one owner's
        read, such as an image, concerns that owner only)."""
        self._audit.append(
            principal.actor,
            self._refusal(
                kind,
                reason,
                purpose=purpose,
                case_number=case_number,
                query=query,
                refused=refused,
                by_owner=by_owner,
                withheld=withheld,
                approval_request=approval_request,
            ),
        )

    @staticmethod
    def _refusal(
        kind: QueryKind,
        reason: str,
        *,
        purpose: str | None,
        case_number: str | None,
        query: dict[str, object],
        refused: list[Decision] | None = None,
        by_owner: bool = False,
        withheld: dict[str, str] | None = None,
        approval_request: int | None = None,
    ) -> SearchRefused:
        """The ``search.refused`` event; ``withheld`` names owners with a rule beside ``refused``'s."""
        if by_owner:
            named, others = {d.owner.slug: d.rule for d in refused or []}, None
        else:
            named, others = compact(refused or [])
        return SearchRefused(
            reason=reason[:300],
            kind=kind.value,
            purpose=(purpose or "")[:64] or None,
            case_number=(case_number or "")[:64] or None,
            query=query,
            withheld={**named, **(withheld or {})},
            withheld_others=others,
            approval_request=approval_request,
        )

    def permit(
        self,
        principal: Principal,
        *,
        kind: QueryKind,
        purpose: Purpose,
        case_number: str,
        since_ms: int | None,
        warrant: str | None = None,
        radius_m: float | None = None,
        window_ms: int | None = None,
        cameras: int | None = None,
        approval: Approval | None = None,
        book: Book | None = None,
    ) -> Permit:
        """The gate's decision for every owner, from ``book`` (default: the current one; nothing is fetched or
        audited)."""
        request = Request(
            agency_id=principal.agency_id,
            agency_kind=principal.agency_kind,
            country=principal.country,
            state=principal.state,
            role=principal.role,
            purpose=purpose.value,
            case_number=case_number,
            query_kind=kind,
            since_ms=since_ms,
            now_ms=self._clock.now_ms(),
            warrant=warrant,
            radius_m=radius_m,
            window_ms=window_ms,
            cameras=cameras,
            approval=approval,
        )
        with timing.stage("gate"):
            return self._gate.permit(request, book or self._books.current())

    def run(
        self,
        principal: Principal,
        *,
        event: type[SearchAnswered],
        kind: QueryKind,
        purpose: Purpose,
        case_number: str,
        query: dict[str, object],
        since_ms: int | None,
        limit: int,
        fetch: Callable[[Permit], list[StoredRead]],
        warrant: str | None = None,
        radius_m: float | None = None,
        window_ms: int | None = None,
        cameras: int | None = None,
        owner_id: int | None = None,
        hold: Hold | None = None,
    ) -> SearchResult:
        """Decide, fetch at most ``limit`` reads (``fetch`` is asked for one more to detect truncation), audit,
        answer. A request refused for every owner by role is audited and raised as PermissionDenied. With
        ``owner_id`` the request concerns that one owner's read (an image): only its decision is recorded.
        ``hold``: the search's canonical form, for approval (without it, a search the gate holds for approval is
        refused outright)."""
        refuse = partial(self.refuse, principal, kind, purpose=purpose.value, case_number=case_number, query=query)
        claim = self._claim(principal, hold, refuse) if hold is not None and hold.request_id is not None else None
        with timing.stage("gate"):
            book = self._books.current()  # one book for the whole search: its decisions and its budget
        ask = partial(
            self.permit,
            principal,
            kind=kind,
            purpose=purpose,
            case_number=case_number,
            since_ms=since_ms,
            warrant=warrant,
            radius_m=radius_m,
            window_ms=window_ms,
            cameras=cameras,
            book=book,
        )
        permit = ask(approval=claim.approval if claim else None)
        held = [d for d in permit.decisions if d.approver is not None]
        glass: dict[str, str] = {}
        glass_approvers: set[int] = set()
        if held and hold is not None and hold.break_glass and claim is None:
            # Exigent: the gate decides again with the break-glass mark (every other rule still applies).
            glass = {d.owner.slug: d.rule for d in held}
            glass_approvers = {d.approver for d in held if d.approver is not None}
            permit = ask(approval=Approval(None, break_glass=True))
            held = [d for d in permit.decisions if d.approver is not None]
        decisions = [d for d in permit.decisions if owner_id is None or d.owner.agency_id == owner_id]
        refused = [d for d in decisions if not d.allowed]
        decision = allowed(principal, Action.SEARCH, None)  # the table's rule; audited as search.refused
        if not decision.allowed:
            reason = decision.reason
            refuse(reason, refused=refused, by_owner=owner_id is not None)
            raise PermissionDenied(reason)
        if held:
            self._hold(principal, kind, query, hold if claim is None else None, permit, held, refused, refuse)
        if claim is not None and hold is not None:
            self._check_claim(claim, hold, permit, refuse)
        try:
            with timing.stage("budget"):
                budget = book.policy(principal.agency_id).query_budget
                limit = min(limit, self._budgets.check(budget, principal.user_id, partial(self._history, principal)))
        except TooManyRequests as spent:
            refuse(spent.detail, by_owner=owner_id is not None)
            raise
        try:
            with timing.stage("store"):
                reads = fetch(permit)
        except StoreUnavailable as failure:  # refused and audited like any refusal; the engine's text is logged
            refuse(failure.detail, refused=refused, by_owner=owner_id is not None)
            raise
        truncated = len(reads) > limit
        reads = reads[:limit]
        owners = {d.owner.agency_id: d.owner for d in permit.decisions}
        permitted = [d for d in decisions if d.allowed]
        per_owner = {d.owner.slug: 0 for d in permitted}
        for read in reads:
            per_owner[owners[read.owner].slug] += 1
        withheld, others = ({d.owner.slug: d.rule for d in refused}, None) if owner_id is not None else compact(refused)
        limited = [d for d in permitted if d.clipped]

        def answer(session: Session) -> tuple[AuditEvent, int | None]:
            approval: dict[str, object] | None = None
            if claim is not None and hold is not None and hold.request_id is not None:
                self._approvals.consume(session, hold.request_id)
                approval = {
                    "request": hold.request_id,
                    "requested_by": principal.username,
                    "approved_by": claim.approved_by,
                    "break_glass": False,
                }
            elif glass and hold is not None:
                canonical = hold.canonical([d.owner.slug for d in permitted])
                item = self._approvals.hold(
                    session,
                    principal,
                    canonical,
                    approvers=glass_approvers,
                    reasons=glass,
                    break_glass=True,
                    note=_note_of(query),
                )
                approval = {"request": item, "requested_by": principal.username, "approved_by": [], "break_glass": True}
            return (
                event(
                    purpose=purpose.value,
                    case_number=case_number,
                    query=query,
                    per_owner=per_owner,
                    withheld=withheld,
                    withheld_others=others,
                    limited={d.owner.slug: d.clipped or "" for d in limited},
                    warrant=warrant,
                    approval=approval,
                ),
                int(str(approval["request"])) if approval else None,
            )

        try:
            with timing.stage("audit"):
                seq, approval_id = self._audit.record(principal.actor, answer)
        except Conflict as lost:  # another run used the approval first: nothing of this one was committed
            refuse(
                lost.detail,
                withheld={d.owner.slug: lost.detail for d in permitted},
                approval_request=hold.request_id if hold else None,
            )
            raise PermissionDenied(lost.detail) from None
        self._budgets.spend(budget, principal.user_id, len(reads))
        if glass and approval_id is not None:
            self._approvals.announce(approval_id)  # committed and audited: tell the approvers
        return SearchResult(
            kind=kind,
            purpose=purpose.value,
            case_number=case_number,
            query=query,
            reads=reads,
            owner_names={o.agency_id: o.name for o in owners.values()},
            owner_slugs={o.agency_id: o.slug for o in owners.values()},
            withheld=[Withheld(d.owner.name, d.rule) for d in refused],
            limited=[Withheld(d.owner.name, d.clipped or "") for d in limited],
            audit_seq=seq,
            truncated=truncated,
            warrant=warrant,
            approval_request=approval_id,
            break_glass=bool(glass),
        )

    def _claim(self, principal: Principal, hold: Hold, refuse: Callable[..., None]) -> Claim:
        assert hold.request_id is not None
        claim, problem, owners = self._approvals.claim(principal, hold.request_id)
        if claim is None:
            refuse(problem, withheld={slug: problem for slug in owners}, approval_request=hold.request_id)
            raise NotFound(problem) if not owners else PermissionDenied(problem)
        return claim

    def _check_claim(self, claim: Claim, hold: Hold, permit: Permit, refuse: Callable[..., None]) -> None:
        """The approved search must be the one approved: same canonical query, same owners permitted."""
        owners = [d.owner.slug for d in permit.allowed]
        if query_hash(hold.canonical(owners)) != claim.query_hash:
            why = (
                f"this search differs from the one approved under request #{hold.request_id} "
                "(query, window, purpose, case, warrant or owners): only the approved search may run"
            )
            refuse(why, withheld={slug: why for slug in owners}, approval_request=hold.request_id)
            raise PermissionDenied(why)

    def _hold(
        self,
        principal: Principal,
        kind: QueryKind,
        query: dict[str, object],
        hold: Hold | None,
        permit: Permit,
        held: list[Decision],
        refused: list[Decision],
        refuse: Callable[..., None],
    ) -> None:
        """Refuse a search the gate holds for approval: stored as an approval request when it may be approved
        (``hold``), refused outright otherwise (an image view, or a run on an approval that does not cover it)."""
        reason = held[0].rule
        if hold is None:
            refuse(reason, refused=refused)
            raise PermissionDenied(reason)
        owners = [d.owner.slug for d in permit.decisions if d.allowed or d.approver is not None]
        canonical = hold.canonical(owners)
        approvers = {d.approver for d in held if d.approver is not None}
        reasons = {d.owner.slug: d.rule for d in held}

        def store(session: Session) -> tuple[AuditEvent, int]:
            request_id = self._approvals.hold(
                session, principal, canonical, approvers=approvers, reasons=reasons, note=_note_of(query)
            )
            event = self._refusal(
                kind,
                f"{reason} (approval request #{request_id})",
                purpose=str(canonical["purpose"]),
                case_number=str(canonical["case_number"]),
                query=query,
                refused=[d for d in refused if d.approver is None],
                withheld=reasons,  # each held owner by name: its access log shows the hold
                approval_request=request_id,
            )
            return event, request_id

        _, request_id = self._audit.record(principal.actor, store)
        self._approvals.announce(request_id)  # committed and audited: tell the approvers
        raise ApprovalRequired(
            f"{reason}: stored as approval request #{request_id}; once a supervisor approves it, run the same "
            f"search again with approval {request_id}",
            request_id,
        )

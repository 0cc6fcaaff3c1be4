"""The authorisation table: which roles, of which agency, may do each operation (beside the read gate).

In the spirit of datasette's ``allowed(actor, action, resource)``: every management and read operation is an
:class:`Action`; :data:`TABLE` says which roles may do it and for which agency (their own, or any), and whether an
operator at the console (an :class:`~plateledger.audit.log.Actor` without a role: the CLI acting locally on the
data directory) may. :func:`allowed` answers with the reason; :func:`require` is what services call: it returns
the reason, or appends an ``action.refused`` audit entry with the reason and raises PermissionDenied (when that
append fails, AuditUnavailable propagates: the request fails closed).

What a search may read is the gate's decision per data owner (:mod:`plateledger.policy.gate`); this table only
says who may ask at all. docs/permissions.md holds :func:`markdown_table` (a test keeps it current).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn, Protocol

from plateledger.audit.events import ActionRefused
from plateledger.audit.log import Actor, AuditLog
from plateledger.core.errors import NotFound, PermissionDenied
from plateledger.vocab import Role


class Action(StrEnum):
    AGENCY_CREATE = "agency.create"
    USER_CREATE = "user.create"
    USER_LIST = "user.list"
    TOKEN_CREATE = "token.create"  # noqa: S105 - an action name, not a secret
    TOKEN_REVOKE = "token.revoke"  # noqa: S105 - an action name, not a secret
    TOKEN_REVOKE_OWN = "token.revoke_own"  # noqa: S105 - an action name, not a secret
    POLICY_SET = "policy.set"
    POLICY_VIEW = "policy.view"
    SHARING_REQUEST = "sharing.request"
    SHARING_DECIDE = "sharing.decide"
    SHARING_WITHDRAW = "sharing.withdraw"
    SHARING_VIEW = "sharing.view"
    CAMERA_LIST = "camera.list"
    CAMERA_ADD = "camera.add"
    CAMERA_CONFIGURE = "camera.configure"
    CAMERA_HEALTH = "camera.health"
    QUARANTINE_MANAGE = "quarantine.manage"
    HOTLIST_MANAGE = "hotlist.manage"
    HOTLIST_VIEW = "hotlist.view"
    ALERT_VIEW = "alert.view"
    ALERT_DECIDE = "alert.decide"
    WEBHOOK_MANAGE = "webhook.manage"
    NOTIFY_SUBSCRIBE = "notify.subscribe"
    NOTIFY_OVERSEE = "notify.oversee"
    RETENTION_RUN = "retention.run"
    BACKUP_MAKE = "backup.make"
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"
    AUDIT_VERIFY = "audit.verify"
    ACCESS_LOG_READ = "access_log.read"
    TRANSPARENCY_READ = "transparency.read"
    OVERSIGHT_REVIEW = "oversight.review"
    OVERSIGHT_RUN = "oversight.run"
    CASE_VIEW = "case.view"
    CASE_MANAGE = "case.manage"
    SEARCH = "search"
    APPROVAL_VIEW = "approval.view"
    APPROVAL_DECIDE = "approval.decide"
    BREAK_GLASS_REVIEW = "break_glass.review"
    INGEST = "ingest"
    SUBJECT_REQUEST_SUBMIT = "subject_request.submit"
    SUBJECT_REQUEST_VIEW = "subject_request.view"
    SUBJECT_REQUEST_VERIFY = "subject_request.verify"
    SUBJECT_REQUEST_ANSWER = "subject_request.answer"


class Scope(StrEnum):
    """For which agency a role may act: its own only, or any (the target agency does not matter)."""

    OWN = "own agency"
    ANY = "any agency"


@dataclass(frozen=True)
class Rule:
    """``what``: the operation in words (reasons and docs); ``roles`` of ``scope``; ``console``: whether an
    operator at the console may do it; ``public``: anyone may, with no credential at all (what is published: it
    names no roles, and no service checks it)."""

    what: str
    roles: frozenset[Role]
    scope: Scope = Scope.OWN
    console: bool = True
    public: bool = False


_ADMIN = frozenset({Role.ADMIN})
_OVERSIGHT = frozenset({Role.ADMIN, Role.AUDITOR})
_SEARCHERS = frozenset({Role.ADMIN, Role.INVESTIGATOR, Role.SUPERVISOR})
_PEOPLE = frozenset({Role.ADMIN, Role.INVESTIGATOR, Role.SUPERVISOR, Role.AUDITOR})
_SUPERVISORS = frozenset({Role.SUPERVISOR})
_EVERYONE = frozenset(Role)

TABLE: dict[Action, Rule] = {
    Action.AGENCY_CREATE: Rule("create an agency", frozenset(), Scope.ANY),
    Action.USER_CREATE: Rule("create a user", _ADMIN),
    Action.USER_LIST: Rule("list the agency's users and tokens", _ADMIN),
    Action.TOKEN_CREATE: Rule("create an API token for a user", _ADMIN),
    Action.TOKEN_REVOKE: Rule("revoke another user's API token", _ADMIN),
    Action.TOKEN_REVOKE_OWN: Rule("revoke one's own API token", _EVERYONE),
    Action.POLICY_SET: Rule("change the agency's data policy", _ADMIN),
    Action.POLICY_VIEW: Rule(
        "read an agency's data policy (published in its transparency report)", frozenset(), Scope.ANY, public=True
    ),
    Action.SHARING_REQUEST: Rule("request sharing from another agency", _ADMIN, console=False),
    Action.SHARING_DECIDE: Rule("accept, decline or revoke sharing of the agency's data", _ADMIN, console=False),
    Action.SHARING_WITHDRAW: Rule("withdraw the agency's sharing request", _ADMIN, console=False),
    Action.SHARING_VIEW: Rule("list the agency's sharing agreements", _PEOPLE),
    Action.CAMERA_LIST: Rule("list the agency's cameras", _PEOPLE),
    Action.CAMERA_ADD: Rule("register a camera", _ADMIN),
    Action.CAMERA_CONFIGURE: Rule("configure a camera", _ADMIN),
    Action.CAMERA_HEALTH: Rule("see the health of the agency's cameras", _ADMIN),
    Action.QUARANTINE_MANAGE: Rule("see and release quarantined reads", _ADMIN),
    Action.HOTLIST_MANAGE: Rule("keep hot lists", _SEARCHERS, console=False),
    Action.HOTLIST_VIEW: Rule("see hot lists", _SEARCHERS, console=False),
    Action.ALERT_VIEW: Rule("see alerts", _SEARCHERS, console=False),
    Action.ALERT_DECIDE: Rule("confirm or dismiss an alert", _SEARCHERS, console=False),
    Action.WEBHOOK_MANAGE: Rule("manage alert webhooks", _ADMIN, console=False),
    Action.NOTIFY_SUBSCRIBE: Rule("subscribe oneself to alerts by e-mail or push", _SEARCHERS, console=False),
    Action.NOTIFY_OVERSEE: Rule(
        "see the agency's users' alert subscriptions and their delivery logs, and remove them", _ADMIN, console=False
    ),
    Action.RETENTION_RUN: Rule("run retention", frozenset(), Scope.ANY),
    Action.BACKUP_MAKE: Rule("back up the data directory (every agency's data)", frozenset(), Scope.ANY),
    Action.AUDIT_READ: Rule("read the audit entries of the agency's users", _OVERSIGHT),
    Action.AUDIT_EXPORT: Rule("export the audit entries of the agency's users", _OVERSIGHT),
    Action.AUDIT_VERIFY: Rule("verify the audit chain", _OVERSIGHT, Scope.ANY),
    Action.ACCESS_LOG_READ: Rule("read the agency's access log", _OVERSIGHT, console=False),
    Action.TRANSPARENCY_READ: Rule("read a transparency report", frozenset(), Scope.ANY, public=True),
    Action.OVERSIGHT_REVIEW: Rule(
        "review the oversight flags on the agency's users' searches (evidence and decisions)", _OVERSIGHT, console=False
    ),
    Action.OVERSIGHT_RUN: Rule("run the oversight rules over a period of the agency's users' searches", _OVERSIGHT),
    Action.CASE_VIEW: Rule("see the agency's case register", _PEOPLE),
    Action.CASE_MANAGE: Rule("keep the agency's case register and its users' units", _ADMIN),
    Action.SEARCH: Rule("search reads", _SEARCHERS, Scope.ANY, console=False),
    Action.APPROVAL_VIEW: Rule(
        "see the searches waiting for the agency's approval and its break-glass searches",
        frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR}),
        console=False,
    ),
    Action.APPROVAL_DECIDE: Rule("approve or refuse another user's search", _SUPERVISORS, console=False),
    Action.BREAK_GLASS_REVIEW: Rule("review another user's break-glass search", _SUPERVISORS, console=False),
    Action.INGEST: Rule("ingest reads", frozenset({Role.DEVICE})),
    Action.SUBJECT_REQUEST_SUBMIT: Rule(
        "ask what is held about a plate (answered by letter, never online)", frozenset(), Scope.ANY, public=True
    ),
    Action.SUBJECT_REQUEST_VIEW: Rule("see the subject requests sent to the agency", _ADMIN, console=False),
    Action.SUBJECT_REQUEST_VERIFY: Rule(
        "record that a subject requester is the plate's registered keeper", _ADMIN, console=False
    ),
    Action.SUBJECT_REQUEST_ANSWER: Rule(
        "generate the agency's letter answering a subject request", _ADMIN, console=False
    ),
}


class HasActor(Protocol):
    """A principal (an authenticated user of an agency): anything that names its audit actor."""

    @property
    def actor(self) -> Actor: ...


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def actor_of(who: Actor | HasActor) -> Actor:
    """The audit actor of a console operator or a principal."""
    return who if isinstance(who, Actor) else who.actor


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


def _plural(roles: frozenset[Role]) -> str:
    names = [f"{r.value}s" for r in Role if r in roles]
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def allowed(who: Actor | HasActor, action: Action, agency_id: int | None) -> Decision:
    """Whether ``who`` may do ``action`` for the agency ``agency_id``, and why (pure; nothing audited)."""
    rule = TABLE[action]
    if rule.public:
        return Decision(True, f"anyone may {rule.what}: it is public")
    actor = actor_of(who)
    if actor.role is None:
        if rule.console:
            return Decision(True, f"an operator at the console may {rule.what}")
        return Decision(False, f"the console cannot {rule.what}: that takes a user's token")
    role = Role(actor.role)
    if role not in rule.roles:
        only = _plural(rule.roles) or "operators at the console"
        return Decision(False, f"{_a(role)} cannot {rule.what}: only {only} can")
    if rule.scope is Scope.ANY:
        return Decision(True, f"{_a(role)} of any agency may {rule.what}")
    if agency_id is None or actor.agency_id != agency_id:
        return Decision(False, f"{_a(role)} cannot {rule.what} for another agency, only for its own")
    return Decision(True, f"{_a(role)} of the agency may {rule.what}")


def require(who: Actor | HasActor, action: Action, agency_id: int | None, *, audit: AuditLog) -> str:
    """The reason ``who`` may do ``action`` for ``agency_id``; otherwise the refusal is audited
    (``action.refused``, with the reason) and PermissionDenied raised. Fails closed if the audit append fails.
    Call it outside an :meth:`AuditLog.record` change (the refusal is its own entry)."""
    decision = allowed(who, action, agency_id)
    if decision.allowed:
        return decision.reason
    refuse(who, action, agency_id, audit=audit, reason=decision.reason)


def refuse(who: Actor | HasActor, action: Action, agency_id: int | None, *, audit: AuditLog, reason: str) -> NoReturn:
    """Refuse ``action`` for ``agency_id`` for a ``reason`` beyond the table's (a rule of the target itself, such
    as a covert list's creator): audited as :func:`require` audits, then PermissionDenied."""
    audit.append(actor_of(who), ActionRefused(operation=action.value, reason=reason, agency_id=agency_id))
    raise PermissionDenied(reason)


def refuse_unseen(who: Actor | HasActor, action: Action, *, audit: AuditLog, message: str) -> NoReturn:
    """Refuse ``action`` on a target ``who`` may not know of: another agency's token or agreement, or one that does
    not exist. The answer (NotFound with ``message``) and the audit entry (``action.refused`` with ``message`` and
    no agency) are the same whether or not the target exists, so neither the caller nor its agency's auditors
    learn that it does; the target's own agency is not named. Fails closed if the audit append fails."""
    audit.append(actor_of(who), ActionRefused(operation=action.value, reason=message, agency_id=None))
    raise NotFound(message)


def markdown_table() -> str:
    """The table as docs/permissions.md shows it."""
    lines = [
        "| action | what | roles | agency | console |",
        "|---|---|---|---|---|",
    ]
    for action, rule in TABLE.items():
        roles = "anyone (public)" if rule.public else ", ".join(r.value for r in Role if r in rule.roles) or "—"
        scope = rule.scope.value if rule.roles or rule.public else "—"
        lines.append(f"| `{action.value}` | {rule.what} | {roles} | {scope} | {'yes' if rule.console else 'no'} |")
    return "\n".join(lines) + "\n"

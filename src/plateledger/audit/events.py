"""Typed audit events: one dataclass per action, documented in docs/audit.md (a test checks each is there).

An event is what happened; :mod:`plateledger.audit.log` adds the sequence, time, actor and hashes.
``outcome`` is ``ok`` for an answered request and ``refused`` for one that was turned down (a refusal is
audited exactly like an access).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

Json = dict[str, Any]


@dataclass(frozen=True)
class AuditEvent:
    action: ClassVar[str] = ""
    outcome: str = "ok"

    def purpose_case(self) -> tuple[str | None, str | None]:
        return None, None

    def params(self) -> Json:
        return {}

    def counts(self) -> Json:
        return {}


@dataclass(frozen=True)
class PlateSearched(AuditEvent):
    """A plate history search that was answered; ``per_owner`` holds the reads returned per owner agency
    (by slug) and ``withheld`` the rule that withheld each other owner."""

    action: ClassVar[str] = "search.plate"
    purpose: str = ""
    case_number: str = ""
    query: Json = field(default_factory=dict)
    per_owner: dict[str, int] = field(default_factory=dict)
    withheld: dict[str, str] = field(default_factory=dict)

    def purpose_case(self) -> tuple[str | None, str | None]:
        return self.purpose, self.case_number

    def params(self) -> Json:
        return {"query": self.query, "withheld": self.withheld}

    def counts(self) -> Json:
        return {"per_owner": self.per_owner}


@dataclass(frozen=True)
class SearchRefused(AuditEvent):
    """A search turned down before anything was searched (missing purpose, bad case number, wrong role)."""

    action: ClassVar[str] = "search.refused"
    outcome: str = "refused"
    reason: str = ""
    purpose: str | None = None
    case_number: str | None = None
    query: Json = field(default_factory=dict)

    def purpose_case(self) -> tuple[str | None, str | None]:
        return self.purpose, self.case_number

    def params(self) -> Json:
        return {"reason": self.reason, "query": self.query}


@dataclass(frozen=True)
class ReadsIngested(AuditEvent):
    """One ingest batch (an HTTP request or a file chunk) with its stored / duplicate / rejected counts."""

    action: ClassVar[str] = "ingest.batch"
    owner: str = ""
    channel: str = ""
    source: str = ""
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0

    def params(self) -> Json:
        return {"owner": self.owner, "channel": self.channel, "source": self.source}

    def counts(self) -> Json:
        return {"stored": self.stored, "duplicates": self.duplicates, "rejected": self.rejected}


@dataclass(frozen=True)
class IngestRefused(AuditEvent):
    """A whole ingest request refused (malformed body, too large, wrong role)."""

    action: ClassVar[str] = "ingest.refused"
    outcome: str = "refused"
    reason: str = ""

    def params(self) -> Json:
        return {"reason": self.reason}


@dataclass(frozen=True)
class LoginSucceeded(AuditEvent):
    action: ClassVar[str] = "auth.login"
    username: str = ""

    def params(self) -> Json:
        return {"username": self.username}


@dataclass(frozen=True)
class LoginFailed(AuditEvent):
    action: ClassVar[str] = "auth.login_failed"
    outcome: str = "refused"
    username: str = ""
    reason: str = ""

    def params(self) -> Json:
        return {"username": self.username, "reason": self.reason}


@dataclass(frozen=True)
class AuthRefused(AuditEvent):
    """A request with a missing, unknown, expired or revoked token."""

    action: ClassVar[str] = "auth.refused"
    outcome: str = "refused"
    reason: str = ""
    path: str = ""

    def params(self) -> Json:
        return {"reason": self.reason, "path": self.path}


@dataclass(frozen=True)
class TokenCreated(AuditEvent):
    action: ClassVar[str] = "token.created"
    token_id: int = 0
    for_user: str = ""
    expires_ms: int = 0

    def params(self) -> Json:
        return {"token_id": self.token_id, "for_user": self.for_user, "expires_ms": self.expires_ms}


@dataclass(frozen=True)
class TokenRevoked(AuditEvent):
    action: ClassVar[str] = "token.revoked"
    token_id: int = 0

    def params(self) -> Json:
        return {"token_id": self.token_id}


@dataclass(frozen=True)
class AgencyCreated(AuditEvent):
    action: ClassVar[str] = "agency.created"
    slug: str = ""
    kind: str = ""

    def params(self) -> Json:
        return {"slug": self.slug, "kind": self.kind}


@dataclass(frozen=True)
class UserCreated(AuditEvent):
    action: ClassVar[str] = "user.created"
    username: str = ""
    role: str = ""
    agency: str = ""

    def params(self) -> Json:
        return {"username": self.username, "role": self.role, "agency": self.agency}


@dataclass(frozen=True)
class CameraAdded(AuditEvent):
    action: ClassVar[str] = "camera.added"
    agency: str = ""
    external_id: str = ""
    mobile: bool = False

    def params(self) -> Json:
        return {"agency": self.agency, "external_id": self.external_id, "mobile": self.mobile}


def event_classes() -> list[type[AuditEvent]]:
    return list(AuditEvent.__subclasses__())

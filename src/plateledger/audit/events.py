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
class SearchAnswered(AuditEvent):
    """A search that was answered. ``per_owner``: reads returned per permitted owner (by slug, 0 included);
    ``withheld``: the rule that withheld each owner listed; ``withheld_others``: the rule that withheld every
    other owner (each agency with a camera at the time) not named in ``per_owner`` or ``withheld`` — the most
    common refusal is recorded once, so an entry stays small with thousands of agencies; ``limited``: owners
    whose window was clipped, and why; ``warrant``: the warrant or court-order reference given; ``approval``
    (only on a search that ran on an approval or as break-glass): ``request`` (its id), ``requested_by``,
    ``approved_by`` (the supervisors, with their agencies) and ``break_glass``."""

    action: ClassVar[str] = ""
    purpose: str = ""
    case_number: str = ""
    query: Json = field(default_factory=dict)
    per_owner: dict[str, int] = field(default_factory=dict)
    withheld: dict[str, str] = field(default_factory=dict)
    withheld_others: str | None = None
    limited: dict[str, str] = field(default_factory=dict)
    warrant: str | None = None
    approval: Json | None = None

    def purpose_case(self) -> tuple[str | None, str | None]:
        return self.purpose, self.case_number

    def params(self) -> Json:
        params: Json = {
            "query": self.query,
            "withheld": self.withheld,
            "withheld_others": self.withheld_others,
            "limited": self.limited,
            "warrant": self.warrant,
        }
        if self.approval is not None:  # absent otherwise: entries without it keep their shape
            params["approval"] = self.approval
        return params

    def counts(self) -> Json:
        return {"per_owner": self.per_owner}


@dataclass(frozen=True)
class PlateSearched(SearchAnswered):
    """A plate history search that was answered."""

    action: ClassVar[str] = "search.plate"


@dataclass(frozen=True)
class AreaSearched(SearchAnswered):
    """An area search that was answered."""

    action: ClassVar[str] = "search.area"


@dataclass(frozen=True)
class DescriptionSearched(SearchAnswered):
    """A search by vehicle description (no plate) in an area or a camera set and a time window that was
    answered; ``query`` records the filters (``vehicle``) and where and when it looked."""

    action: ClassVar[str] = "search.description"


@dataclass(frozen=True)
class ImageViewed(SearchAnswered):
    """A read's image served, after the gate permitted the read it belongs to (a plate search for that read)."""

    action: ClassVar[str] = "image.viewed"


@dataclass(frozen=True)
class SearchRefused(AuditEvent):
    """A search turned down. Malformed requests (missing purpose, bad case number or field) are refused before
    any owner is evaluated; a request the gate refused for every owner (an auditor's or device's token) records
    the rule per owner as ``withheld`` / ``withheld_others``, like an answer, so owners' access logs show it.
    ``approval_request`` (only when set): a search held for approval was stored as that request (in the same
    transaction as this entry), or a search run on that request was refused (already used, expired, changed)."""

    action: ClassVar[str] = "search.refused"
    outcome: str = "refused"
    reason: str = ""
    kind: str = "plate"
    purpose: str | None = None
    case_number: str | None = None
    query: Json = field(default_factory=dict)
    withheld: dict[str, str] = field(default_factory=dict)
    withheld_others: str | None = None
    approval_request: int | None = None

    def purpose_case(self) -> tuple[str | None, str | None]:
        return self.purpose, self.case_number

    def params(self) -> Json:
        params: Json = {
            "reason": self.reason,
            "kind": self.kind,
            "query": self.query,
            "withheld": self.withheld,
            "withheld_others": self.withheld_others,
        }
        if self.approval_request is not None:
            params["approval_request"] = self.approval_request
        return params


@dataclass(frozen=True)
class ApprovalEvent(AuditEvent):
    """A supervisor's decision on approval request ``request`` (docs/approval.md): the request's ``kind``,
    ``purpose``, ``case_number``, requesting user (``requested_by``) and agency (``requester``), the owners
    whose reads it would read (``owners``, slugs: each owner's access log shows the decision), the SHA-256 of its
    canonical query (``query_hash``) and the supervisor's ``note``."""

    action: ClassVar[str] = ""
    request: int = 0
    kind: str = ""
    purpose: str = ""
    case_number: str = ""
    requested_by: str = ""
    requester: str = ""
    owners: list[str] = field(default_factory=list)
    query_hash: str = ""
    note: str = ""

    def purpose_case(self) -> tuple[str | None, str | None]:
        return self.purpose, self.case_number

    def params(self) -> Json:
        return {
            "request": self.request,
            "kind": self.kind,
            "requested_by": self.requested_by,
            "requester": self.requester,
            "owners": self.owners,
            "query_hash": self.query_hash,
            "note": self.note,
        }


@dataclass(frozen=True)
class ApprovalGranted(ApprovalEvent):
    """A supervisor approved the held search (it may now run once, unchanged, before it expires at
    ``expires_ms``; with several approving agencies, once each has approved)."""

    action: ClassVar[str] = "approval.granted"
    expires_ms: int | None = None

    def params(self) -> Json:
        return {**super().params(), "expires_ms": self.expires_ms}


@dataclass(frozen=True)
class ApprovalRefused(ApprovalEvent):
    """A supervisor refused the held search: it can no longer run."""

    action: ClassVar[str] = "approval.refused"
    outcome: str = "refused"


@dataclass(frozen=True)
class BreakGlassReviewed(ApprovalEvent):
    """A supervisor reviewed a break-glass search (one that ran at once, without approval), with the note;
    ``late``: reviewed after its 24-hour deadline."""

    action: ClassVar[str] = "break_glass.reviewed"
    late: bool = False

    def params(self) -> Json:
        return {**super().params(), "late": self.late}


@dataclass(frozen=True)
class SearchExported(AuditEvent):
    """A search's answer downloaded as a file (``rows`` reads, ``format`` csv): appended after the search's own
    entry (``search_seq``) and before the file is sent. ``per_owner``: the reads of each owner in the file (by
    slug; owners with none are left out), so each owner's access log shows the download."""

    action: ClassVar[str] = "search.exported"
    purpose: str = ""
    case_number: str = ""
    search_seq: int = 0
    format: str = "csv"
    rows: int = 0
    per_owner: dict[str, int] = field(default_factory=dict)

    def purpose_case(self) -> tuple[str | None, str | None]:
        return self.purpose, self.case_number

    def params(self) -> Json:
        return {"search_seq": self.search_seq, "format": self.format}

    def counts(self) -> Json:
        return {"rows": self.rows, "per_owner": self.per_owner}


@dataclass(frozen=True)
class AuditExported(AuditEvent):
    """Audit log entries downloaded by an auditor or admin (``entries`` of them, with the filters used)."""

    action: ClassVar[str] = "audit.exported"
    filters: Json = field(default_factory=dict)
    entries: int = 0

    def params(self) -> Json:
        return {"filters": self.filters}

    def counts(self) -> Json:
        return {"entries": self.entries}


@dataclass(frozen=True)
class AuditListed(AuditEvent):
    """Audit log entries listed by an auditor, an admin or the console (``entries`` of them, with the filters:
    ``agency`` whose users' entries, ``action``, ``after_seq``, ``limit``)."""

    action: ClassVar[str] = "audit.listed"
    filters: Json = field(default_factory=dict)
    entries: int = 0

    def params(self) -> Json:
        return {"filters": self.filters}

    def counts(self) -> Json:
        return {"entries": self.entries}


@dataclass(frozen=True)
class ActionRefused(AuditEvent):
    """An operation of the authorisation table (docs/permissions.md) refused: ``operation`` (the table's action),
    the ``reason``, and the ``agency_id`` it was asked for (None where no agency is concerned)."""

    action: ClassVar[str] = "action.refused"
    outcome: str = "refused"
    operation: str = ""
    reason: str = ""
    agency_id: int | None = None

    def params(self) -> Json:
        return {"operation": self.operation, "reason": self.reason, "agency_id": self.agency_id}


@dataclass(frozen=True)
class ReadsIngested(AuditEvent):
    """One ingest batch (an HTTP request or a file chunk) with its stored / duplicate / rejected counts: what was
    really stored. ``outcome``: ``ok``; ``failed`` when the insert failed (a full disk: ``stored`` counts the batch's
    reads found in the store afterwards, usually 0); ``recovered`` when the start-up reconciliation wrote it for a
    batch whose process stopped before its outcome (``stored`` counted in the store). ``intent``: the sequence
    number of the batch's ``ingest.intent`` entry (absent when nothing was to be inserted); ``not_stored``: reads
    the intent announced that are not in the store (absent when 0)."""

    action: ClassVar[str] = "ingest.batch"
    owner: str = ""
    channel: str = ""
    source: str = ""
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    intent: int | None = None
    not_stored: int = 0
    error: str = ""

    def params(self) -> Json:
        params: Json = {"owner": self.owner, "channel": self.channel, "source": self.source}
        if self.intent is not None:
            params["intent"] = self.intent
        if self.error:
            params["error"] = self.error
        return params

    def counts(self) -> Json:
        counts: Json = {"stored": self.stored, "duplicates": self.duplicates, "rejected": self.rejected}
        if self.not_stored:
            counts["not_stored"] = self.not_stored
        return counts


@dataclass(frozen=True)
class IngestIntent(AuditEvent):
    """A batch about to insert reads, appended after validation and before the insert (if the append fails,
    nothing is inserted). It claims nothing stored: ``to_store`` is what the insert will try. Its ``ingest.batch``
    entry follows with what was stored (``params.intent`` names this entry). ``batch``: the batch's keys on disk
    (``<intent file>/<batch>`` under ``DATA/reads/intents/``), kept until the outcome is written."""

    action: ClassVar[str] = "ingest.intent"
    owner: str = ""
    channel: str = ""
    source: str = ""
    batch: str = ""
    to_store: int = 0
    duplicates: int = 0
    rejected: int = 0

    def params(self) -> Json:
        return {"owner": self.owner, "channel": self.channel, "source": self.source, "batch": self.batch}

    def counts(self) -> Json:
        return {"to_store": self.to_store, "duplicates": self.duplicates, "rejected": self.rejected}


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
class LoginLocked(AuditEvent):
    """The entry's client address locked out of ``username`` (``*``: of every username, after failures across
    usernames) after ``failures`` failed sign-ins, until ``until_ms`` (epoch ms). Others are not locked out."""

    action: ClassVar[str] = "auth.locked"
    outcome: str = "refused"
    username: str = ""
    failures: int = 0
    until_ms: int = 0

    def params(self) -> Json:
        return {"username": self.username, "failures": self.failures, "until_ms": self.until_ms}


@dataclass(frozen=True)
class SignedOut(AuditEvent):
    """A web session ended by its user; ``everywhere``: every session of the user (``sessions`` ended)."""

    action: ClassVar[str] = "auth.signed_out"
    everywhere: bool = False
    sessions: int = 0

    def params(self) -> Json:
        return {"everywhere": self.everywhere}

    def counts(self) -> Json:
        return {"sessions": self.sessions}


@dataclass(frozen=True)
class TotpStarted(AuditEvent):
    """A user started setting up one-time codes (TOTP): a new pending secret was stored, not in force until a
    code of it confirms it (``auth.totp_changed``). Never the secret."""

    action: ClassVar[str] = "auth.totp_started"


@dataclass(frozen=True)
class TotpChanged(AuditEvent):
    """A user turned the one-time-code second factor (TOTP) on or off (after entering a valid code)."""

    action: ClassVar[str] = "auth.totp_changed"
    enabled: bool = False

    def params(self) -> Json:
        return {"enabled": self.enabled}


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


@dataclass(frozen=True)
class ReadsQuarantined(AuditEvent):
    """Reads from vendor camera ids the owner has not registered, held in quarantine (``held``, per vendor camera
    id) or refused because the owner's quarantine is full (``refused``)."""

    action: ClassVar[str] = "ingest.quarantined"
    owner: str = ""
    channel: str = ""
    source: str = ""
    held: dict[str, int] = field(default_factory=dict)
    refused: int = 0

    def params(self) -> Json:
        return {"owner": self.owner, "channel": self.channel, "source": self.source}

    def counts(self) -> Json:
        return {"held": self.held, "refused": self.refused}


@dataclass(frozen=True)
class QuarantineReleased(AuditEvent):
    """An admin mapped a vendor camera id onto a registered camera (``how``: ``mapped``) or approved it as a new
    camera (``approved``), after its quarantined reads were handed to the store (their ``ingest.batch`` entries
    come before it): ``released`` reads removed from quarantine, of which the store ``stored``, found
    ``duplicates`` (already stored, e.g. by a release that failed before its entry) or ``rejected``."""

    action: ClassVar[str] = "camera.quarantine_released"
    agency: str = ""
    vendor_camera: str = ""
    camera: str = ""
    how: str = ""
    released: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0

    def params(self) -> Json:
        return {"agency": self.agency, "vendor_camera": self.vendor_camera, "camera": self.camera, "how": self.how}

    def counts(self) -> Json:
        return {
            "released": self.released,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


@dataclass(frozen=True)
class CameraConfigured(AuditEvent):
    """An admin set a camera's silent interval (``silent_after_s``; None: the instance default)."""

    action: ClassVar[str] = "camera.configured"
    agency: str = ""
    external_id: str = ""
    silent_after_s: int | None = None

    def params(self) -> Json:
        return {"agency": self.agency, "external_id": self.external_id, "silent_after_s": self.silent_after_s}


@dataclass(frozen=True)
class SharingEvent(AuditEvent):
    """A step in a sharing agreement's life; names both agencies so each side's view shows it. ``terms`` are
    the requested terms for a request and the granted terms for an acceptance."""

    action: ClassVar[str] = ""
    agreement_id: int = 0
    requester: str = ""
    owner: str = ""
    terms: Json | None = None
    note: str = ""

    def params(self) -> Json:
        return {
            "agreement_id": self.agreement_id,
            "requester": self.requester,
            "owner": self.owner,
            "terms": self.terms,
            "note": self.note,
        }


@dataclass(frozen=True)
class SharingRequested(SharingEvent):
    action: ClassVar[str] = "sharing.requested"


@dataclass(frozen=True)
class SharingAccepted(SharingEvent):
    action: ClassVar[str] = "sharing.accepted"


@dataclass(frozen=True)
class SharingDeclined(SharingEvent):
    action: ClassVar[str] = "sharing.declined"


@dataclass(frozen=True)
class SharingRevoked(SharingEvent):
    action: ClassVar[str] = "sharing.revoked"


@dataclass(frozen=True)
class SharingWithdrawn(SharingEvent):
    action: ClassVar[str] = "sharing.withdrawn"


@dataclass(frozen=True)
class PolicyChanged(AuditEvent):
    """An owner's policy replaced by a new version; both versions are recorded in full."""

    action: ClassVar[str] = "policy.changed"
    agency: str = ""
    old_version: int = 0
    new_version: int = 0
    old: Json = field(default_factory=dict)
    new: Json = field(default_factory=dict)
    preset: str | None = None

    def params(self) -> Json:
        return {
            "agency": self.agency,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "old": self.old,
            "new": self.new,
            "preset": self.preset,
        }


@dataclass(frozen=True)
class RetentionRun(AuditEvent):
    """A retention run, appended before it deletes anything (if the append fails, nothing is deleted).
    ``owners``: per owner slug, the policy version and limits in force and the cutoffs they gave (epoch ms; reads
    older than ``cutoff_ms`` are deleted, held ones when older than ``hit_cutoff_ms``); ``per_owner``: per owner
    slug, the reads ``deleted``, ``held`` (past the normal limit, kept by a hold until the hit limit) and
    ``remaining`` after the run."""

    action: ClassVar[str] = "retention.run"
    owners: dict[str, Json] = field(default_factory=dict)
    per_owner: dict[str, dict[str, int]] = field(default_factory=dict)

    def params(self) -> Json:
        return {"owners": self.owners}

    def counts(self) -> Json:
        return {"per_owner": self.per_owner, "deleted": sum(c["deleted"] for c in self.per_owner.values())}


@dataclass(frozen=True)
class RetentionCompleted(AuditEvent):
    """The end of a retention run (``run_seq``: its ``retention.run`` entry), appended once every store has done
    its part: the reads and their keys are gone, and in the same transaction as this entry the run's quarantined
    reads (``quarantined``) and alert hits (``alerts``, with their webhook delivery log) were deleted; ``images``:
    image links deleted; ``salts``: audit entries whose salt was deleted (past ``audit_detail_retention_days``;
    absent when that setting is unset). ``resumed`` is true when a run that was interrupted (a crash) was
    completed by a later run or start-up: its counts are then what the completion removed."""

    action: ClassVar[str] = "retention.completed"
    run_seq: int = 0
    resumed: bool = False
    images: int = 0
    quarantined: int = 0
    alerts: int = 0
    salts: int | None = None

    def params(self) -> Json:
        return {"run_seq": self.run_seq, "resumed": self.resumed}

    def counts(self) -> Json:
        counts: Json = {"images": self.images, "quarantined": self.quarantined, "alerts": self.alerts}
        if self.salts is not None:
            counts["salts"] = self.salts
        return counts


@dataclass(frozen=True)
class BackupMade(AuditEvent):
    """A backup of the data directory written to ``dest`` (appended after the copy is complete; if the append
    fails, the backup is deleted). ``audit_seq``/``audit_hash``: the audit head the backup holds (this entry is
    not in it); ``per_owner``: the reads per owner slug in it; ``images``: image files copied."""

    action: ClassVar[str] = "backup.made"
    dest: str = ""
    audit_seq: int = 0
    audit_hash: str = ""
    per_owner: dict[str, int] = field(default_factory=dict)
    images: int = 0

    def params(self) -> Json:
        return {"dest": self.dest, "audit_seq": self.audit_seq, "audit_hash": self.audit_hash}

    def counts(self) -> Json:
        return {"reads": sum(self.per_owner.values()), "per_owner": self.per_owner, "images": self.images}


@dataclass(frozen=True)
class BackupRestored(AuditEvent):
    """This data directory restored from the backup at ``source`` (made at ``made_ms``), appended after the
    audit chain up to the backup's head (``audit_seq``/``audit_hash``) and the reads per owner (``per_owner``)
    were verified against its manifest, and before retention is applied again (the next entry)."""

    action: ClassVar[str] = "backup.restored"
    source: str = ""
    made_ms: int = 0
    audit_seq: int = 0
    audit_hash: str = ""
    per_owner: dict[str, int] = field(default_factory=dict)

    def params(self) -> Json:
        return {
            "source": self.source,
            "made_ms": self.made_ms,
            "audit_seq": self.audit_seq,
            "audit_hash": self.audit_hash,
        }

    def counts(self) -> Json:
        return {"reads": sum(self.per_owner.values()), "per_owner": self.per_owner}


@dataclass(frozen=True)
class AccessLogViewed(AuditEvent):
    """An owner's access log read by one of its admins or auditors (``entries``: how many were shown), or an
    attempt refused (``outcome`` refused, with the reason). Reading who searched an owner's data is itself an
    access to audit data, so it is recorded like one."""

    action: ClassVar[str] = "access_log.viewed"
    agency: str = ""
    filters: Json = field(default_factory=dict)
    entries: int = 0
    reason: str = ""

    def params(self) -> Json:
        return {"agency": self.agency, "filters": self.filters, "reason": self.reason}

    def counts(self) -> Json:
        return {"entries": self.entries}


@dataclass(frozen=True)
class HotListCreated(AuditEvent):
    action: ClassVar[str] = "hotlist.created"
    list_id: int = 0
    name: str = ""
    purpose: str = ""
    visibility: str = ""
    covert: bool = False
    viewers: list[str] = field(default_factory=list)

    def params(self) -> Json:
        return {
            "list_id": self.list_id,
            "name": self.name,
            "purpose": self.purpose,
            "visibility": self.visibility,
            "covert": self.covert,
            "viewers": self.viewers,
        }


@dataclass(frozen=True)
class HotListChanged(AuditEvent):
    """Entries added and removed in one transaction: by hand, or an import (``replace``: a complete list)."""

    action: ClassVar[str] = "hotlist.changed"
    list_id: int = 0
    mode: str = "update"
    source: str = ""
    added: int = 0
    removed: int = 0
    rejected: int = 0

    def params(self) -> Json:
        return {"list_id": self.list_id, "mode": self.mode, "source": self.source}

    def counts(self) -> Json:
        return {"added": self.added, "removed": self.removed, "rejected": self.rejected}


@dataclass(frozen=True)
class AlertMatch(AuditEvent):
    """A hot-list match decided for the list's agency (``agency``) on a read of ``owner`` (slugs), under the
    entry's purpose and case."""

    action: ClassVar[str] = ""
    agency: str = ""
    agency_name: str = ""
    list_id: int = 0
    entry_id: int = 0
    owner: str = ""
    read_id: str = ""
    plate: str = ""
    purpose: str = ""
    case_number: str = ""

    def purpose_case(self) -> tuple[str | None, str | None]:
        return self.purpose, self.case_number

    def params(self) -> Json:
        return {
            "agency": self.agency,
            "agency_name": self.agency_name,
            "list_id": self.list_id,
            "entry_id": self.entry_id,
            "owner": self.owner,
            "read_id": self.read_id,
            "plate": self.plate,
        }


@dataclass(frozen=True)
class AlertRaised(AlertMatch):
    """A match the read's owner permits: the list's agency is alerted; appended before the alert is delivered.
    The owner's access log shows it."""

    action: ClassVar[str] = "alert.raised"
    alert_id: int = 0

    def params(self) -> Json:
        return {**super().params(), "alert_id": self.alert_id}


@dataclass(frozen=True)
class AlertWithheld(AlertMatch):
    """A match the read owner's policy does not permit: no alert, nothing reaches the list's agency. Recorded
    for the owner (its access log counts it as "alert withheld", with the rule)."""

    action: ClassVar[str] = "alert.withheld"
    outcome: str = "refused"
    rule: str = ""

    def params(self) -> Json:
        return {**super().params(), "rule": self.rule}


@dataclass(frozen=True)
class AlertDecided(AuditEvent):
    """An alert viewed, confirmed (the plate and state verified by a person) or dismissed, with the note."""

    action: ClassVar[str] = "alert.decided"
    alert_id: int = 0
    state: str = ""
    note: str = ""

    def params(self) -> Json:
        return {"alert_id": self.alert_id, "state": self.state, "note": self.note}


@dataclass(frozen=True)
class WebhookEvent(AuditEvent):
    """Base of the webhook events: the webhook's id and URL (never its secret)."""

    webhook_id: int = 0
    url: str = ""
    failures: int = 0

    def params(self) -> Json:
        return {"webhook_id": self.webhook_id, "url": self.url, "failures": self.failures}


@dataclass(frozen=True)
class WebhookCreated(WebhookEvent):
    """An agency admin registered an alert webhook."""

    action: ClassVar[str] = "webhook.created"


@dataclass(frozen=True)
class WebhookDeleted(WebhookEvent):
    """An agency admin deleted an alert webhook (and its delivery log)."""

    action: ClassVar[str] = "webhook.deleted"


@dataclass(frozen=True)
class WebhookDisabled(WebhookEvent):
    """A webhook disabled by the sender after ``failures`` consecutive failed attempts."""

    action: ClassVar[str] = "webhook.disabled"


@dataclass(frozen=True)
class WebhookEnabled(WebhookEvent):
    """An agency admin re-enabled a disabled webhook."""

    action: ClassVar[str] = "webhook.enabled"


@dataclass(frozen=True)
class NotifyEvent(AuditEvent):
    """Base of the notification subscription events: the subscription, its user, its channel (``email`` or
    ``push``), what it follows (a hot list's id, or a purpose) and its target as shown (an e-mail address, or the
    redacted Apprise URLs: never their tokens)."""

    subscription_id: int = 0
    user: str = ""
    channel: str = ""
    list_id: int | None = None
    purpose: str | None = None
    target: str = ""

    def params(self) -> Json:
        return {
            "subscription_id": self.subscription_id,
            "user": self.user,
            "channel": self.channel,
            "list_id": self.list_id,
            "purpose": self.purpose,
            "target": self.target,
        }


@dataclass(frozen=True)
class NotifySubscribed(NotifyEvent):
    """A user subscribed to alerts by e-mail or push."""

    action: ClassVar[str] = "notify.subscribed"


@dataclass(frozen=True)
class NotifyUnsubscribed(NotifyEvent):
    """A subscription removed, by its user or their agency's admin (and its delivery log with it)."""

    action: ClassVar[str] = "notify.unsubscribed"


#: The purpose every subject-request entry is recorded under: a person asking about their own plate. Not a search
#: purpose (no search can be made under it): the request is answered by letter (docs/subject-requests.md).
SUBJECT_ACCESS = "subject_access"


@dataclass(frozen=True)
class SubjectAccessEvent(AuditEvent):
    """Base of the subject-request events: recorded under the purpose ``subject_access``; ``request_id`` names
    the request. Contact details are never on the log (the request's row holds them)."""

    request_id: int = 0

    def purpose_case(self) -> tuple[str | None, str | None]:
        return SUBJECT_ACCESS, None


@dataclass(frozen=True)
class SubjectAccessRequested(SubjectAccessEvent):
    """A person asked, through the public page or API, what is held about ``plate`` of ``region``: the request is
    an access too. ``candidates``: how many agencies it was sent to (every agency with cameras); the entry names
    none, and nothing about the plate's reads was looked up."""

    action: ClassVar[str] = "subject_access.requested"
    plate: str = ""
    region: str = ""
    candidates: int = 0

    def params(self) -> Json:
        return {"request_id": self.request_id, "plate": self.plate, "region": self.region}

    def counts(self) -> Json:
        return {"candidates": self.candidates}


@dataclass(frozen=True)
class SubjectAccessRefused(SubjectAccessEvent):
    """A subject request refused before it was stored: over the rate limit of its plate or of its client
    address (``reason``), or invalid. ``plate`` as sent (cut to 16 characters)."""

    action: ClassVar[str] = "subject_access.refused"
    outcome: str = "refused"
    plate: str = ""
    reason: str = ""

    def params(self) -> Json:
        return {"plate": self.plate, "reason": self.reason}


@dataclass(frozen=True)
class SubjectAccessVerified(SubjectAccessEvent):
    """An admin of ``agency`` recorded that the requester is the plate's registered keeper: how (``method``), on
    which day (``verified_on``); the entry's actor is who. Only then can the agency's letter be generated."""

    action: ClassVar[str] = "subject_access.verified"
    agency: str = ""
    method: str = ""
    verified_on: str = ""

    def params(self) -> Json:
        return {
            "request_id": self.request_id,
            "agency": self.agency,
            "method": self.method,
            "verified_on": self.verified_on,
        }


@dataclass(frozen=True)
class SubjectAccessAnswered(SubjectAccessEvent):
    """An admin of ``agency`` generated the agency's letter for a request (appended before the letter is
    returned: generating it reads the plate's data). ``params`` hold what the letter says in numbers — reads,
    searches and hot lists counted, or ``ncnd`` for "neither confirm nor deny" — and the format; ``counts`` stay
    empty, so nothing about the plate reaches the public part of the entry (its outcome is ``ok`` either way)."""

    action: ClassVar[str] = "subject_access.answered"
    agency: str = ""
    plate: str = ""
    region: str = ""
    format: str = "html"
    ncnd: bool = False
    reads: int = 0
    searches: int = 0
    hot_lists: int = 0

    def params(self) -> Json:
        return {
            "request_id": self.request_id,
            "agency": self.agency,
            "plate": self.plate,
            "region": self.region,
            "format": self.format,
            "ncnd": self.ncnd,
            "reads": self.reads,
            "searches": self.searches,
            "hot_lists": self.hot_lists,
        }


@dataclass(frozen=True)
class OversightFlagViewed(AuditEvent):
    """An auditor opened an oversight flag's evidence (the audit entries it cites)."""

    action: ClassVar[str] = "oversight.flag_viewed"
    agency: str = ""
    flag_id: int = 0
    rule: str = ""

    def params(self) -> Json:
        return {"agency": self.agency, "flag_id": self.flag_id, "rule": self.rule}


@dataclass(frozen=True)
class OversightBreakGlassViewed(AuditEvent):
    """An auditor or admin was shown, in the review queue, the open break-glass searches their agency's supervisors
    must review (each with its query): the agency and the requests shown."""

    action: ClassVar[str] = "oversight.break_glass_viewed"
    agency: str = ""
    requests: tuple[int, ...] = ()

    def params(self) -> Json:
        return {"agency": self.agency, "requests": list(self.requests)}


@dataclass(frozen=True)
class OversightQueueViewed(AuditEvent):
    """An auditor or admin was shown a list of the agency's oversight flags (the review queue, or the flags of one
    status), each with its user, plates, cases and explanation: the agency, the status asked and the flag ids
    shown (``counts.flags``: how many)."""

    action: ClassVar[str] = "oversight.queue_viewed"
    agency: str = ""
    status: str = ""
    flags: tuple[int, ...] = ()

    def params(self) -> Json:
        return {"agency": self.agency, "status": self.status, "flags": list(self.flags)}

    def counts(self) -> Json:
        return {"flags": len(self.flags)}


@dataclass(frozen=True)
class ApprovalQueueViewed(AuditEvent):
    """A supervisor, auditor or admin was shown a list of the searches held for the agency's approval (or its
    break-glass searches), each with its query, purpose, case and requester: the agency, which list, the states
    asked and the request ids shown (``counts.requests``: how many)."""

    action: ClassVar[str] = "approval.queue_viewed"
    agency: str = ""
    break_glass: bool = False
    states: tuple[str, ...] = ()
    requests: tuple[int, ...] = ()

    def params(self) -> Json:
        return {
            "agency": self.agency,
            "break_glass": self.break_glass,
            "states": list(self.states),
            "requests": list(self.requests),
        }

    def counts(self) -> Json:
        return {"requests": len(self.requests)}


@dataclass(frozen=True)
class OversightFlagDecided(AuditEvent):
    """An oversight flag dismissed, confirmed or escalated by a reviewer, with the note (``previous``: its status
    before)."""

    action: ClassVar[str] = "oversight.flag_decided"
    agency: str = ""
    flag_id: int = 0
    rule: str = ""
    user: str | None = None
    decision: str = ""
    previous: str = ""
    note: str = ""

    def params(self) -> Json:
        return {
            "agency": self.agency,
            "flag_id": self.flag_id,
            "rule": self.rule,
            "user": self.user,
            "decision": self.decision,
            "previous": self.previous,
            "note": self.note,
        }


@dataclass(frozen=True)
class OversightRan(AuditEvent):
    """The oversight rules run on demand over an agency's users' searches of ``[since, until)``: how many
    searches were read and flags raised or given more evidence."""

    action: ClassVar[str] = "oversight.run"
    agency: str = ""
    since: str = ""
    until: str = ""
    searches: int = 0
    raised: int = 0
    updated: int = 0

    def params(self) -> Json:
        return {"agency": self.agency, "since": self.since, "until": self.until}

    def counts(self) -> Json:
        return {"searches": self.searches, "raised": self.raised, "updated": self.updated}


@dataclass(frozen=True)
class SensitivePlacesSet(AuditEvent):
    """An agency's sensitive places replaced (their number and kinds; the positions stay in the store)."""

    action: ClassVar[str] = "oversight.places_set"
    agency: str = ""
    places: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def params(self) -> Json:
        return {"agency": self.agency, "kinds": self.kinds}

    def counts(self) -> Json:
        return {"places": self.places}


@dataclass(frozen=True)
class CasesChanged(AuditEvent):
    """Cases added to or changed in an agency's case register, by hand (``source`` ``manual``) or from a CSV file
    (its name); ``cases``: the numbers, up to 100 of them."""

    action: ClassVar[str] = "case.changed"
    agency: str = ""
    source: str = "manual"
    cases: list[str] = field(default_factory=list)
    added: int = 0
    updated: int = 0

    def params(self) -> Json:
        return {"agency": self.agency, "source": self.source, "cases": self.cases[:100]}

    def counts(self) -> Json:
        return {"added": self.added, "updated": self.updated}


@dataclass(frozen=True)
class UserUnitSet(AuditEvent):
    """The unit a user works in set or cleared (the case register assigns cases to units)."""

    action: ClassVar[str] = "user.unit_set"
    username: str = ""
    old: str | None = None
    new: str | None = None

    def params(self) -> Json:
        return {"username": self.username, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class UserTimeZoneSet(AuditEvent):
    """The time zone a user reads and types times in on the web pages set or cleared (old and new IANA names;
    none is UTC)."""

    action: ClassVar[str] = "user.time_zone_set"
    username: str = ""
    old: str | None = None
    new: str | None = None

    def params(self) -> Json:
        return {"username": self.username, "old": self.old, "new": self.new}


def event_classes() -> list[type[AuditEvent]]:
    """Every concrete event class (those with an action)."""
    found: list[type[AuditEvent]] = []
    pending = list(AuditEvent.__subclasses__())
    while pending:
        cls = pending.pop(0)
        if cls.action:
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found

"""Governance store tables (SQLAlchemy 2). Times are epoch milliseconds (UTC) in BIGINT columns.

Changes go through an Alembic migration in ``store/migrations/versions``; a test checks the models and the
migrations agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Agency(Base):
    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    state: Mapped[str] = mapped_column(String(8))
    created_ms: Mapped[int] = mapped_column(BigInteger)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    #: Base32 TOTP secret once the user has confirmed a code (sign-in then asks for one); ``totp_pending`` while
    #: enrolling.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending: Mapped[str | None] = mapped_column(String(64))
    #: The unit the user works in (the case register assigns cases to units: an open case of the user's unit
    #: explains an oversight flag).
    unit: Mapped[str | None] = mapped_column(String(64))
    #: The IANA time zone the user reads and enters times in (null: UTC).
    time_zone: Mapped[str | None] = mapped_column(String(64))


class Camera(Base):
    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("agency_id", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    mobile: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    direction: Mapped[float | None] = mapped_column(Float)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    #: Seconds without a read or heartbeat after which the camera is flagged silent (None: the setting's default).
    silent_after_s: Mapped[int | None] = mapped_column(Integer)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger)


class WebSession(Base):
    """A signed-in browser: only the SHA-256 of the cookie's secret is stored, with the session's CSRF token.
    Deleted at sign-out (every row of the user at "sign out everywhere")."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    seen_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)


class AuditEntry(Base):
    """One link of the hash chain. Append-only: the library never updates or deletes a row."""

    __tablename__ = "audit_log"
    #: A user's recent entries: the query budget's window after a restart or in a CLI command.
    __table_args__ = (Index("ix_audit_log_actor_user_ts", "actor_user_id", "ts_ms"),)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_username: Mapped[str | None] = mapped_column(String(64))
    actor_agency_id: Mapped[int | None] = mapped_column(Integer, index=True)
    purpose: Mapped[str | None] = mapped_column(String(64))
    case_number: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    params: Mapped[str] = mapped_column(Text)
    counts: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: The client address of the HTTP request the entry was made for (None from the CLI and for entries older than
    #: the column). The hash covers it only when set, so entries made before it keep their hashes.
    client: Mapped[str | None] = mapped_column(String(45))


class SigninFailures(Base):
    """Failed sign-ins of one client address: per username (``username``), and across every username (``""``).
    At the limit the pair is locked until ``locked_until_ms``, for longer at each further lockout."""

    __tablename__ = "signin_failures"
    client: Mapped[str] = mapped_column(String(45), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    lockouts: Mapped[int] = mapped_column(Integer)
    last_ms: Mapped[int] = mapped_column(BigInteger)
    locked_until_ms: Mapped[int | None] = mapped_column(BigInteger)


class AuditHead(Base):
    """The chain's head (one row): lets verification detect deletion of the newest entries."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditLeaf(Base):
    """The Merkle leaf of audit entry ``seq`` (leaf index ``seq - 1``): its public part with the commitment to its
    private part (``plateledger_verify.leaf``), and the commitment's salt (None once deleted after the audit
    detail retention: the leaf stays, the private part can no longer be confirmed). Written with the entry."""

    __tablename__ = "audit_leaves"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    salt: Mapped[bytes | None] = mapped_column(LargeBinary)


class AuditTile(Base):
    """A C2SP tlog-tiles hash tile of the audit log's Merkle tree: tile level ``level`` holds Merkle level
    ``8 * level``; ``hashes`` are the tile's hashes so far, 32 bytes each (a partial tile's first W hashes)."""

    __tablename__ = "audit_tiles"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class AuditTree(Base):
    """The audit tree as committed (one row): its ``size`` in leaves and its compact range (the roots of the
    perfect subtrees the size splits into, 32 bytes each, largest first), from which an append continues."""

    __tablename__ = "audit_tree"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    compact: Mapped[bytes] = mapped_column(LargeBinary)


class Meta(Base):
    """Instance facts (e.g. that the demo network has been seeded)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AgencyPolicy(Base):
    """One version of an owner's policy (JSON of :class:`plateledger.policy.rules.Policy`). Never updated:
    a change adds the next version, so the history is kept."""

    __tablename__ = "agency_policies"
    __table_args__ = (UniqueConstraint("agency_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    preset: Mapped[str | None] = mapped_column(String(32))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(64))


class SharingAgreement(Base):
    """A request by ``requester`` for access to ``owner``'s reads, and what became of it."""

    __tablename__ = "sharing_agreements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    requested_terms: Mapped[str] = mapped_column(Text)
    granted_terms: Mapped[str | None] = mapped_column(Text)
    attestation: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(64))
    decided_ms: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    ended_ms: Mapped[int | None] = mapped_column(BigInteger)
    ended_by: Mapped[str | None] = mapped_column(String(64))


class ReadHold(Base):
    """A read linked to a hot-list alert or a case: kept for the owner's hit retention instead of the normal one."""

    __tablename__ = "read_holds"
    __table_args__ = (UniqueConstraint("owner_id", "read_id", "kind", "reference"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    read_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(64))
    created_ms: Mapped[int] = mapped_column(BigInteger)


class PolicyGeneration(Base):
    """One row whose counter moves on every change the gate depends on (policies, agreements, agencies,
    cameras), in the same transaction: the gate reloads its snapshot when it moves."""

    __tablename__ = "policy_generation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class HotList(Base):
    """An agency's hot list. ``visibility``: ``private`` (only its agency) or ``shared`` (matched against reads of
    owners whose agreement with the agency grants the ``alert`` query kind). ``covert``: hidden from the
    agency's other users except those named in ``hot_list_viewers``."""

    __tablename__ = "hot_lists"
    __table_args__ = (UniqueConstraint("agency_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    default_purpose: Mapped[str] = mapped_column(String(64))
    alert_level: Mapped[str] = mapped_column(String(16))
    visibility: Mapped[str] = mapped_column(String(16))
    covert: Mapped[bool] = mapped_column(Boolean, default=False)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(64))
    #: Also match reads whose plate differs only in characters OCR confuses (O/0, B/8, ...): see plates.py.
    match_confusable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class HotListGeneration(Base):
    """One row whose counter moves on every change of hot lists or entries, in the same transaction: the
    matcher reloads its mirror of the active entries when it moves."""

    __tablename__ = "hotlist_generation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class HotListViewer(Base):
    """A user of the list's agency allowed to see a covert list."""

    __tablename__ = "hot_list_viewers"
    hot_list_id: Mapped[int] = mapped_column(ForeignKey("hot_lists.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class HotListEntry(Base):
    """A plate (or a pattern with * and ?) on a list, with its justification and expiry. Removed entries keep
    their row (``removed_ms``) so alerts can still name what they matched."""

    __tablename__ = "hot_list_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hot_list_id: Mapped[int] = mapped_column(ForeignKey("hot_lists.id"), index=True)
    plate: Mapped[str] = mapped_column(String(32), index=True)
    pattern: Mapped[bool] = mapped_column(Boolean, default=False)
    region: Mapped[str | None] = mapped_column(String(8))
    purpose: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    expires_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    added_ms: Mapped[int] = mapped_column(BigInteger)
    added_by: Mapped[str] = mapped_column(String(64))
    removed_ms: Mapped[int | None] = mapped_column(BigInteger)


class Alert(Base):
    """A read that matched a hot-list entry, delivered to the list's agency because the read's owner permits it.
    A match alone is not grounds for action: ``state`` moves from ``new`` to ``confirmed`` (plate and state
    verified by a person) or ``dismissed``."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    hot_list_id: Mapped[int] = mapped_column(ForeignKey("hot_lists.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("hot_list_entries.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    read_id: Mapped[str] = mapped_column(String(64))
    plate: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(8))
    read_ms: Mapped[int] = mapped_column(BigInteger)
    camera: Mapped[str] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    #: The read's vehicle as the camera described it (null: not given), carried from the match.
    make: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    color: Mapped[str | None] = mapped_column(String(64))
    vtype: Mapped[str | None] = mapped_column(String(64))
    match: Mapped[str] = mapped_column(String(16))
    created_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    state: Mapped[str] = mapped_column(String(16))
    decided_ms: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")


class Webhook(Base):
    """An agency's alert webhook: bodies are signed with HMAC-SHA256 under ``secret``; disabled after
    repeated failures."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_ms: Mapped[int | None] = mapped_column(BigInteger)


class WebhookDelivery(Base):
    """One attempt to deliver one alert, or one approval notice (``approval_request_id``), to one webhook (the
    delivery log)."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    approval_request_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    response_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(String(500), default="")
    next_attempt_ms: Mapped[int | None] = mapped_column(BigInteger)


class NotifySubscription(Base):
    """A user's subscription to alerts by e-mail or push (Apprise), for one hot list or for every list of one
    purpose. ``target`` holds the e-mail address or the JSON list of Apprise URLs (which carry tokens: never shown
    back, logged or audited in full); ``shown`` is its redacted form. Whether the user may still see an alert is
    checked again before each delivery."""

    __tablename__ = "notify_subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    hot_list_id: Mapped[int | None] = mapped_column(ForeignKey("hot_lists.id"), index=True)
    purpose: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text)
    shown: Mapped[str] = mapped_column(String(1000))
    created_ms: Mapped[int] = mapped_column(BigInteger)


class NotifyDelivery(Base):
    """One attempt to deliver one alert to one subscription (the notification delivery log)."""

    __tablename__ = "notify_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("notify_subscriptions.id"), index=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(String(500), default="")
    next_attempt_ms: Mapped[int | None] = mapped_column(BigInteger)


class QuarantinedRead(Base):
    """A read from a vendor camera id its owner has not registered, held (as its canonical JSON line, with the
    time it arrived) until an admin maps the id to a camera or approves it as a new one."""

    __tablename__ = "quarantined_reads"
    __table_args__ = (Index("ix_quarantined_reads_agency_camera", "agency_id", "vendor_camera"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    vendor_camera: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    line: Mapped[str] = mapped_column(Text)
    received_ms: Mapped[int] = mapped_column(BigInteger)


class CameraAlias(Base):
    """A vendor camera id mapped by an admin onto one of the agency's registered cameras."""

    __tablename__ = "camera_aliases"
    __table_args__ = (UniqueConstraint("agency_id", "vendor_camera"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    vendor_camera: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(64))


class CameraHealth(Base):
    """A camera's last read time (the newest read stored from it) and last heartbeat with what it said."""

    __tablename__ = "camera_health"
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), primary_key=True)
    last_read_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_heartbeat_ms: Mapped[int | None] = mapped_column(BigInteger)
    healthy: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[str] = mapped_column(String(200), default="")


class ReadImage(Base):
    """A picture sent with a read (plate crop or overview), stored content-addressed by ``sha256`` under the data
    directory. ``plate`` and ``read_ms`` let the image be served through a plate search of the gate and expire
    with the read."""

    __tablename__ = "read_images"
    __table_args__ = (UniqueConstraint("owner_id", "read_id", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    read_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    plate: Mapped[str] = mapped_column(String(16))
    read_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class AuditCheckpoint(Base):
    """A checkpoint the log signed (``audit/checkpoints.py``): the tree head at ``size``, the signed note with the
    witnesses' cosignatures gathered so far, and whether the witness policy's quorum was met (only then is it
    served at /log/checkpoint). ``detail`` is JSON: each witness's answer and, unpublished, why."""

    __tablename__ = "audit_checkpoints"
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[bytes] = mapped_column(LargeBinary)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[str] = mapped_column(Text)


class AuditWitnessState(Base):
    """The tree size each witness last said it holds for this log (the ``old`` of the next add-checkpoint)."""

    __tablename__ = "audit_witness_state"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)


class ApprovalRequest(Base):
    """A search held for a supervisor's approval (``break_glass``: one that ran at once and awaits review).

    ``query_hash`` is SHA-256 of ``canonical`` (the exact canonical query: kind, plate or area, window, purpose,
    case, owners); only that query, by ``requester_user_id``, runs on it, once.
    ``approvers``: JSON list of the agency ids whose supervisors must approve; ``state``: pending,
    approved, refused, used, or for break-glass open and reviewed."""

    __tablename__ = "approval_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requester_agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(64))
    case_number: Mapped[str] = mapped_column(String(64))
    canonical: Mapped[str] = mapped_column(Text)
    query_hash: Mapped[str] = mapped_column(String(64))
    owners: Mapped[str] = mapped_column(Text)
    approvers: Mapped[str] = mapped_column(Text)
    reasons: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int | None] = mapped_column(BigInteger)
    used_ms: Mapped[int | None] = mapped_column(BigInteger)
    review_due_ms: Mapped[int | None] = mapped_column(BigInteger)
    #: The requester's note (for break-glass: why it could not wait), as the search's audit entry records it.
    note: Mapped[str | None] = mapped_column(String(500))


class ApprovalDecision(Base):
    """One supervisor's decision on an approval request (``decision``: approved, refused, reviewed), with the note."""

    __tablename__ = "approval_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500))
    ts_ms: Mapped[int] = mapped_column(BigInteger)


class SubjectRequest(Base):
    """A person's request to learn what is held about a plate ("is my plate held?"), with the contact details a
    letter is sent to. Nothing about the plate's reads is looked up when it arrives (docs/subject-requests.md)."""

    __tablename__ = "subject_requests"
    __table_args__ = (
        Index("ix_subject_requests_plate_created", "plate", "created_ms"),
        Index("ix_subject_requests_client_created", "client", "created_ms"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The reference quoted to the person and in the letter (random, not the row id).
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    plate: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    postal_address: Mapped[str] = mapped_column(Text)
    #: The client address it came from (the per-requester rate limit counts by it).
    client: Mapped[str | None] = mapped_column(String(45))


class SubjectRequestOwner(Base):
    """A subject request as one candidate agency sees it: every agency with cameras when it arrived gets a row,
    whether or not it holds the plate. Its admin records the keeper's verification, then answers by letter."""

    __tablename__ = "subject_request_owners"
    __table_args__ = (UniqueConstraint("request_id", "agency_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("subject_requests.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    verified_ms: Mapped[int | None] = mapped_column(BigInteger)
    verified_by: Mapped[str | None] = mapped_column(String(64))
    verification_method: Mapped[str | None] = mapped_column(String(32))
    #: The day the keeper was verified (YYYY-MM-DD), as the admin states it.
    verified_on: Mapped[str | None] = mapped_column(String(10))
    verification_note: Mapped[str] = mapped_column(String(500), default="")
    #: When the first letter was generated, and by whom (later letters are audited too, and leave these).
    answered_ms: Mapped[int | None] = mapped_column(BigInteger, index=True)
    answered_by: Mapped[str | None] = mapped_column(String(64))


class CaseRecord(Base):
    """A case of an agency's case register (``review/register.py``): its number (stored upper-cased), when it was
    opened and closed, and the unit it is assigned to."""

    __tablename__ = "case_register"
    __table_args__ = (UniqueConstraint("agency_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    opened_ms: Mapped[int] = mapped_column(BigInteger)
    closed_ms: Mapped[int | None] = mapped_column(BigInteger)
    unit: Mapped[str | None] = mapped_column(String(64))
    updated_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    updated_by: Mapped[str] = mapped_column(String(64))


class SensitivePlaces(Base):
    """The places an agency lists as sensitive (clinics, places of worship, shelters), as the GeoJSON it gave. Not
    published: the policy text and the transparency report give their number and kinds only."""

    __tablename__ = "sensitive_places"
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    geojson: Mapped[str] = mapped_column(Text)
    places: Mapped[int] = mapped_column(Integer)
    set_ms: Mapped[int] = mapped_column(BigInteger)
    set_by: Mapped[str] = mapped_column(String(64))


class OversightFlag(Base):
    """A flag an oversight rule raised on the searches of an agency's users, with its evidence (JSON: ``refs`` the
    audit sequence numbers, ``numbers``, ``threshold``, ``cases``, ``plates``) and its review: ``status`` is
    ``open``, ``explained`` (``explained_by`` says how; kept out of the queue), ``dismissed``, ``confirmed`` or
    ``escalated``, with the reviewer's ``note``. (``agency_id``, ``rule``, ``key``) is the flag's identity."""

    __tablename__ = "oversight_flags"
    __table_args__ = (
        UniqueConstraint("agency_id", "rule", "key"),
        Index("ix_oversight_flags_agency_status", "agency_id", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    rule: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(64))
    first_ms: Mapped[int] = mapped_column(BigInteger)
    last_ms: Mapped[int] = mapped_column(BigInteger)
    evidence: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    explained_by: Mapped[str | None] = mapped_column(Text)
    raised_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    decided_ms: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")


class OversightCursor(Base):
    """The last audit sequence number the live oversight rules have read (one row, ``id`` 1)."""

    __tablename__ = "oversight_cursor"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)

"""``plateledger backup``: a consistent copy of the data directory, audited; and the checks of a restore.

A backup holds the reads store's parts, the governance database and the images, plus a manifest (written last)
naming the audit head they hold and the reads per owner. Consistency: the reads store's write lock is held while
its parts are frozen (hard links, milliseconds), the reads per owner are counted and a read transaction is opened on
the governance database; an ingest pass audits and stores its batches under that same lock, so every batch
audited up to the snapshot's head is in the frozen parts and none after it. The copying happens after the lock is
released, while the server goes on serving.

The backup is recorded as a ``backup.made`` entry once it is complete (the entry is after the backup's head, so it
is not in the backup itself); if the entry cannot be written, the backup is deleted (no unaudited copy stays).
"""

from __future__ import annotations

import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from plateledger import __version__
from plateledger.audit.events import AuthRefused, BackupMade, BackupRestored
from plateledger.audit.log import Actor, AuditLog
from plateledger.auth.instance import require_instance_token
from plateledger.backup.manifest import Manifest
from plateledger.core.clock import Clock
from plateledger.core.errors import (
    AuthenticationFailed,
    BackupInvalid,
    ConfigurationError,
    Conflict,
    PermissionDenied,
)
from plateledger.core.settings import Settings
from plateledger.policy.actions import Action, require
from plateledger.retention.service import Retention, RetentionReport
from plateledger.store.governance import Governance
from plateledger.store.models import Agency
from plateledger.store.reads import ReadsStore
from plateledger.store.snapshot import SqliteSnapshot, copy_file, copy_frozen, freeze, owner_counts, sqlite_path

_BLOB = re.compile(r"[0-9a-f]{62}")
OPERATOR_ROUTE = "/api/v1/operator/backup"


def operator_token_to_forward(settings: Settings, *, makes: str = "the backup") -> str:
    """The operator token a console command (``plateledger backup``, ``plateledger log checkpoint``) forwards to
    the server that holds the data directory (the server does the work: it ``makes`` ...). Without the setting
    there is nothing to forward: PermissionDenied."""
    if settings.operator_token is None:
        raise PermissionDenied(
            "a server holds the data directory: set operator_token (the server's value) so that it makes "
            f"{makes}, or stop the server"
        )
    return settings.operator_token.get_secret_value()


@dataclass(frozen=True)
class BackupReport:
    dest: Path
    manifest: Manifest
    audit_seq: int

    def as_json(self) -> dict[str, Any]:
        return {"dest": str(self.dest), "audit_seq": self.audit_seq, "manifest": self.manifest.as_json()}


@dataclass(frozen=True)
class RestoreReport:
    source: Path
    manifest: Manifest
    audit_entries: int
    audit_seq: int
    retention: RetentionReport

    def as_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "audit_entries_verified": self.audit_entries,
            "audit_seq": self.audit_seq,
            "reads": self.manifest.reads,
            "per_owner": self.manifest.per_owner,
            "retention_removed": self.retention.deleted,
            "retention": self.retention.as_json(),
        }


def empty_target(path: Path) -> None:
    """Refuse a destination that exists and is not an empty directory."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise Conflict(f"{path} exists and is not empty: give a new (or empty) directory")


def copy_images(src: Path, dest: Path) -> int:
    """Copy the content-addressed image files (``ab/cdef...``); returns how many."""
    copied = 0
    dest.mkdir(parents=True, exist_ok=True)
    if not src.is_dir():
        return 0
    for folder in sorted(p for p in src.iterdir() if p.is_dir() and len(p.name) == 2):
        for blob in sorted(folder.iterdir()):
            if _BLOB.fullmatch(blob.name):  # not a temporary file of a write in progress
                (dest / folder.name).mkdir(exist_ok=True)
                copy_file(str(blob), str(dest / folder.name / blob.name))
                copied += 1
    return copied


class Backups:
    def __init__(
        self,
        *,
        reads: ReadsStore,
        governance: Governance,
        audit: AuditLog,
        retention: Retention,
        images_dir: Path,
        clock: Clock,
        operator_token: SecretStr | None = None,
    ) -> None:
        self._operator_token = operator_token
        self._reads = reads
        self._gov = governance
        self._audit = audit
        self._retention = retention
        self._images = images_dir
        self._clock = clock

    def authenticate_operator(
        self, authorization: str | None, *, where: str = OPERATOR_ROUTE, client: str | None = None
    ) -> Actor:
        """The instance operator, for an ``Authorization`` header that is ``Bearer <operator_token>`` (compared in
        constant time). Anything else (no setting, another token, an agency user's token) is audited as
        ``auth.refused`` (with ``where`` the request came in) before AuthenticationFailed is raised: a backup copies
        every agency's data, so every wrong attempt leaves a trace."""
        try:
            require_instance_token(
                self._operator_token,
                authorization,
                closed="operator routes are closed: set operator_token",
                wrong="this route needs the operator token (setting operator_token) as a bearer token",
            )
        except AuthenticationFailed as refusal:
            self._audit.append(
                Actor(username="anonymous", agency_id=None, client=client),
                AuthRefused(reason=refusal.detail, path=where[:200]),
            )
            raise
        return Actor(username="operator", agency_id=None, client=client)

    def make(self, actor: Actor, dest: Path) -> BackupReport:
        """Write a backup of the data directory to ``dest`` (new or empty), then audit it. Only the instance's
        operator (the console, or the server's operator route) may: no agency user (authorisation table)."""
        require(actor, Action.BACKUP_MAKE, None, audit=self._audit)
        database = sqlite_path(self._gov.url)
        if database is None:
            raise ConfigurationError(
                "plateledger backup copies a SQLite governance store; with PostgreSQL, back up the database with "
                "pg_dump as docs/operations.md describes"
            )
        dest = dest.absolute()
        empty_target(dest)
        created = not dest.exists()
        dest.mkdir(parents=True, exist_ok=True)
        name = f"backup_{self._clock.now_ms()}_{secrets.token_hex(4)}"  # [a-z0-9_]: used as is on disk
        try:
            snapshot, counts = freeze(self._reads, name, lambda counts: (SqliteSnapshot(database), counts))
            try:
                copy_frozen(self._reads, name, dest / "reads")
                snapshot.copy_to(dest / "governance.db")
                slugs = snapshot.agencies()
                head = snapshot.head
            finally:
                snapshot.close()
            images = copy_images(self._images, dest / "images")
            manifest = Manifest(
                made_ms=self._clock.now_ms(),
                version=__version__,
                audit_seq=head[0],
                audit_hash=head[1],
                per_owner={slugs.get(owner, f"#{owner}"): n for owner, n in sorted(counts.items())},
                images=images,
            )
            manifest.save(dest)
            seq = self._audit.append(
                actor,
                BackupMade(
                    dest=str(dest)[:500],
                    audit_seq=manifest.audit_seq,
                    audit_hash=manifest.audit_hash,
                    per_owner=manifest.per_owner,
                    images=images,
                ),
            )
        except BaseException:
            if created:
                shutil.rmtree(dest, ignore_errors=True)
            else:
                for child in dest.iterdir():
                    shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
            raise
        return BackupReport(dest=dest, manifest=manifest, audit_seq=seq)

    def check_restored(self, actor: Actor, manifest: Manifest, source: Path) -> RestoreReport:
        """Verify a freshly restored directory against its backup's manifest (the audit chain up to the backup's
        head, the reads per owner), audit the restore, then apply retention again: reads that expired since the
        backup was made are deleted (and audited) now, never served silently. Raises :class:`BackupInvalid`."""
        verified = self._audit.verify()
        if not verified.intact:
            raise BackupInvalid(f"restored audit log is broken at entry {verified.first_bad_seq}: {verified.problem}")
        last = self._audit.entries(after_seq=max(0, manifest.audit_seq - 1), limit=2)
        head = (last[0].seq, last[0].hash) if last else (0, "0" * 64)
        if head != (manifest.audit_seq, manifest.audit_hash) or len(last) > 1:
            raise BackupInvalid(
                f"restored audit log ends at entry {last[-1].seq if last else 0}, the manifest names entry "
                f"{manifest.audit_seq} ({manifest.audit_hash[:12]}...)"
            )
        with self._gov.session() as session:
            slugs = {a.id: a.slug for a in session.scalars(select(Agency))}
        found = {slugs.get(owner, f"#{owner}"): n for owner, n in owner_counts(self._reads).items()}
        if found != manifest.per_owner:
            wrong = sorted(
                f"{slug}: {found.get(slug, 0)} of {manifest.per_owner.get(slug, 0)}"
                for slug in set(found) | set(manifest.per_owner)
                if found.get(slug, 0) != manifest.per_owner.get(slug, 0)
            )
            raise BackupInvalid("restored reads do not match the manifest: " + "; ".join(wrong))
        seq = self._audit.append(
            actor,
            BackupRestored(
                source=str(source)[:500],
                made_ms=manifest.made_ms,
                audit_seq=manifest.audit_seq,
                audit_hash=manifest.audit_hash,
                per_owner=manifest.per_owner,
            ),
        )
        retention = self._retention.run(actor)
        return RestoreReport(
            source=source, manifest=manifest, audit_entries=verified.entries, audit_seq=seq, retention=retention
        )

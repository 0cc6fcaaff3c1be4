"""Signed checkpoints of the audit log's Merkle tree, cosigned by witnesses, published only when the quorum is met.

:meth:`Checkpointer.checkpoint` reads the tree head (``audit/tree.py``); when it is larger than the last signed
checkpoint, the log key signs a C2SP checkpoint (``<origin>\\n<size>\\n<base64 root>\\n``) and it is stored
(``audit_checkpoints``) before any witness sees it. Each witness of the policy is then pushed the checkpoint with
a consistency proof from the size it holds (``audit/witnesses.py``); the cosignatures that verify are added to
the stored note. The checkpoint is *published* (served at ``/log/checkpoint``) only when the witnesses that
cosigned satisfy the policy's quorum (no witnesses: quorum ``none``, published once signed). Otherwise it stays
unpublished with the reason in ``detail``; the next run retries the witnesses that have not cosigned it (or
signs a newer head), and ``/healthz`` and the metrics say that no new checkpoint is being published, and why.

It runs outside every audit transaction (the tree is read as committed), from :mod:`.checkpoint_job` in
``plateledger serve``, from ``plateledger log checkpoint`` and from ``POST /api/v1/operator/checkpoint``; runs
are serialised by a lock. A checkpoint is never an audit entry (it would grow the tree it describes).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from plateledger.audit.logkey import LogIdentity, served_policy
from plateledger.audit.witnesses import WitnessClient, WitnessResult
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.errors import AuditUnavailable, NotFound
from plateledger.store.governance import Governance
from plateledger.store.models import AuditCheckpoint, AuditWitnessState
from plateledger_verify.checkpoint import Checkpoint, sign_checkpoint
from plateledger_verify.note import Note, Signature, b64, parse_note
from plateledger_verify.policy import Policy

log = logging.getLogger("plateledger.audit.checkpoints")


class Tree(Protocol):
    """What the checkpointer needs of :class:`plateledger.audit.tree.LogTree`."""

    def head(self) -> tuple[int, bytes]: ...

    def consistency_proof(self, old: int, new: int) -> list[bytes]: ...


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: bytes
    created_ms: int
    published: bool
    detail: dict[str, Any]

    @classmethod
    def of(cls, row: AuditCheckpoint) -> StoredCheckpoint:
        return cls(row.size, row.root, row.note, row.created_ms, row.published, json.loads(row.detail or "{}"))

    def cosigned_by(self) -> list[str]:
        return sorted(n for n, w in self.detail.get("witnesses", {}).items() if w.get("cosigned"))

    def as_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": b64(self.root),
            "created": iso_ms(self.created_ms),
            "published": self.published,
            "cosigned_by": self.cosigned_by(),
            "note": self.note.decode(),
        }


@dataclass(frozen=True)
class CheckpointRun:
    """What one :meth:`Checkpointer.checkpoint` did."""

    checkpoint: StoredCheckpoint | None
    #: True when the log signed a new tree head in this run (False: nothing new, or a retry of witnesses).
    signed: bool
    witnesses: list[WitnessResult] = field(default_factory=list)
    reason: str = ""
    seconds: float = 0.0

    @property
    def published(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.published

    def as_json(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint.as_json() if self.checkpoint else None,
            "signed": self.signed,
            "published": self.published,
            "reason": self.reason,
            "witnesses": {w.name: w.as_json() for w in self.witnesses},
            "seconds": round(self.seconds, 4),
        }


@dataclass(frozen=True)
class LogStatus:
    """The checkpoints' state for ``/healthz`` and the metrics."""

    origin: str
    tree_size: int
    published_size: int | None
    published_ms: int | None
    signed_size: int | None
    quorum: str
    #: Whether the newest signed checkpoint met the quorum (True before any is signed).
    quorum_met: bool
    reason: str
    witnesses: dict[str, dict[str, Any]]
    now_ms: int

    @property
    def seconds_since_published(self) -> float | None:
        return None if self.published_ms is None else max(0.0, (self.now_ms - self.published_ms) / 1000)

    def as_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "published_size": self.published_size,
            "signed_size": self.signed_size,
            "seconds_since_published": self.seconds_since_published,
            "quorum": self.quorum,
            "quorum_met": self.quorum_met,
            "reason": self.reason,
            "witnesses": self.witnesses,
        }


def _quorum_reason(policy: Policy, results: dict[str, dict[str, Any]]) -> str:
    cosigned = sorted(n for n, r in results.items() if r.get("cosigned"))
    failed = [f"{n} ({r.get('error') or 'no answer'})" for n, r in sorted(results.items()) if not r.get("cosigned")]
    return f"quorum {policy.quorum} not met: cosigned by {', '.join(cosigned) or 'no witness'}" + (
        f"; failed: {'; '.join(failed)}" if failed else ""
    )


class Checkpointer:
    def __init__(
        self,
        *,
        governance: Governance,
        tree: Tree,
        identity: LogIdentity,
        clock: Clock,
        client: WitnessClient | None = None,
    ) -> None:
        self._gov = governance
        self._tree = tree
        self._identity = identity
        self._clock = clock
        self._client = client or WitnessClient()
        self._lock = threading.Lock()

    @property
    def identity(self) -> LogIdentity:
        return self._identity

    def close(self) -> None:
        self._client.close()

    # -- reading ---------------------------------------------------------------------------------------------------
    def _latest(self, *, published: bool) -> StoredCheckpoint | None:
        query = select(AuditCheckpoint)
        if published:
            query = query.where(AuditCheckpoint.published.is_(True))
        try:
            with self._gov.session() as session:
                row = session.scalars(query.order_by(AuditCheckpoint.size.desc()).limit(1)).first()
        except SQLAlchemyError as exc:
            raise AuditUnavailable(f"checkpoints cannot be read: {exc.__class__.__name__}") from exc
        if row is None or not self._ours(row.note):
            return None  # none yet, or signed by another key (a development key before production): sign again
        return StoredCheckpoint.of(row)

    def _ours(self, note: bytes) -> bool:
        first = parse_note(note).signatures[0]
        key = self._identity.signer.verifier
        return (first.name, first.key_id) == (key.name, key.key_id)

    def latest_published(self) -> StoredCheckpoint | None:
        return self._latest(published=True)

    def sizes(self) -> tuple[int, int | None]:
        """The tree's size and its latest published checkpoint's (None: none yet), for readiness."""
        published = self.latest_published()
        return self._tree.head()[0], published.size if published is not None else None

    def latest_signed(self) -> StoredCheckpoint | None:
        return self._latest(published=False)

    def published_note(self) -> bytes:
        """The latest published checkpoint (signed note with cosignatures), as served at ``/log/checkpoint``."""
        latest = self.latest_published()
        if latest is None:
            raise NotFound("no checkpoint has been published yet")
        return latest.note

    def policy_text(self, log_url: str | None) -> str:
        """The tlog-policy a verifier pins (``/log/policy``): this log's key and URL, witnesses and quorum."""
        return served_policy(self._identity.policy, self._identity.signer.verifier, log_url)

    def due(self) -> tuple[int, bool]:
        """Entries added since the last signed checkpoint, and whether that checkpoint is still unpublished."""
        size, _ = self._tree.head()
        last = self.latest_signed()
        if last is None:
            return size, False
        return size - last.size, not last.published

    def status(self) -> LogStatus:
        """Raises :class:`AuditUnavailable` when the tree or the checkpoints cannot be read."""
        try:
            size, _ = self._tree.head()
        except SQLAlchemyError as exc:
            raise AuditUnavailable(f"the audit tree cannot be read: {exc.__class__.__name__}") from exc
        published, signed = self.latest_published(), self.latest_signed()
        policy = self._identity.policy
        detail = signed.detail if signed else {}
        return LogStatus(
            origin=self._identity.origin,
            tree_size=size,
            published_size=published.size if published else None,
            published_ms=published.created_ms if published else None,
            signed_size=signed.size if signed else None,
            quorum=policy.quorum,
            quorum_met=signed.published if signed else True,
            reason=detail.get("reason", "") if signed and not signed.published else "",
            witnesses=detail.get("witnesses", {}),
            now_ms=self._clock.now_ms(),
        )

    # -- signing and witnessing -------------------------------------------------------------------------------------
    def checkpoint(self) -> CheckpointRun:
        """Sign the tree head if it grew, push to the witnesses that have not cosigned the newest checkpoint, and
        publish it if the quorum is met. Witness failures are results, not errors; a store failure raises
        :class:`AuditUnavailable`."""
        with self._lock:
            start = time.perf_counter()
            try:
                run = self._checkpoint()
            except SQLAlchemyError as exc:
                raise AuditUnavailable(f"checkpoint failed: {exc.__class__.__name__}: {exc}"[:300]) from exc
            run = CheckpointRun(run.checkpoint, run.signed, run.witnesses, run.reason, time.perf_counter() - start)
        self._log(run)
        return run

    def _checkpoint(self) -> CheckpointRun:
        size, root = self._tree.head()
        last = self.latest_signed()
        if last is not None and size < last.size:
            reason = f"the tree (size {size}) is smaller than the last signed checkpoint ({last.size}): refused"
            log.critical("LOG ROLLBACK: %s", reason)
            return CheckpointRun(last, False, reason=reason)
        if last is not None and size == last.size:
            if last.published:
                return CheckpointRun(last, False, reason="no new entries since the last checkpoint")
            return self._witness(last, signed=False)
        if size == 0:
            return CheckpointRun(None, False, reason="the log is empty")
        checkpoint = Checkpoint(self._identity.origin, size, root)
        note = sign_checkpoint(checkpoint, self._identity.signer)
        stored = StoredCheckpoint(size, root, note, self._clock.now_ms(), False, {"witnesses": {}})
        with self._gov.session() as session:
            session.merge(  # merge: replaces a checkpoint of this size signed by a previous key
                AuditCheckpoint(
                    size=size,
                    root=root,
                    note=note,
                    created_ms=stored.created_ms,
                    published=False,
                    detail=json.dumps(stored.detail),
                )
            )
        return self._witness(stored, signed=True)

    def _witness(self, stored: StoredCheckpoint, *, signed: bool) -> CheckpointRun:
        policy = self._identity.policy
        results: dict[str, dict[str, Any]] = dict(stored.detail.get("witnesses", {}))
        pending = [w for w in policy.witnesses if not results.get(w.name, {}).get("cosigned")]
        with self._gov.session() as session:
            old_sizes = {s.name: s.size for s in session.scalars(select(AuditWitnessState))}
        answers = self._client.push_all(
            pending,
            signed=_log_signed(stored.note),
            size=stored.size,
            old_sizes=old_sizes,
            proof_for=self._tree.consistency_proof,
        )
        cosignatures: list[Signature] = []
        for answer in answers:
            results[answer.name] = answer.as_json()
            if answer.cosignature is not None:
                cosignatures.append(answer.cosignature)
        cosigned = [n for n, r in results.items() if r.get("cosigned")]
        published = policy.satisfied(cosigned)
        reason = "" if published else _quorum_reason(policy, results)
        note = parse_note(stored.note).with_signatures(*cosignatures).encode() if cosignatures else stored.note
        detail = {"witnesses": results, "quorum": policy.quorum, "reason": reason}
        with self._gov.session() as session:
            row = session.get_one(AuditCheckpoint, stored.size)
            row.note, row.published, row.detail = note, published, json.dumps(detail)
            for answer in answers:
                if answer.size is not None:
                    state = session.get(AuditWitnessState, answer.name)
                    if state is None:
                        session.add(AuditWitnessState(name=answer.name, size=answer.size))
                    else:
                        state.size = answer.size
        updated = StoredCheckpoint(stored.size, stored.root, note, stored.created_ms, published, detail)
        return CheckpointRun(updated, signed, answers, reason)

    def _log(self, run: CheckpointRun) -> None:
        if run.checkpoint is None or (not run.signed and not run.witnesses):
            return
        size = run.checkpoint.size
        if run.published:
            log.info("checkpoint %s published (%.3f s; cosigned by %s)", size, run.seconds,
                     ", ".join(run.checkpoint.cosigned_by()) or "no witness, quorum none")  # fmt: skip
        else:
            log.warning("checkpoint %s signed but NOT published: %s", size, run.reason)


def _log_signed(note: bytes) -> bytes:
    """The checkpoint as the log signed it (the first signature only): what witnesses are sent."""
    parsed = parse_note(note)
    return Note(parsed.text, parsed.signatures[:1]).encode()

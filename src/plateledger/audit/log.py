"""The append-only, hash-chained audit log.

Each entry's hash is SHA-256 over the canonical JSON of its fields and the previous entry's hash; the first
entry chains from 64 zeros. An entry made for an HTTP request also records the client address
(``Actor.client``); the hash covers it only when it is set, so entries made before the field existed (and CLI
entries, which have none) hash exactly as before. The ``audit_head`` row holds the newest sequence and hash, so
deleting the newest entries is detected too. Appends are serialised (a process lock, and on PostgreSQL a row lock
on the head).

Each entry also gets a leaf in the log's Merkle tree (:mod:`plateledger.audit.tree`), in the same transaction;
:meth:`AuditLog.verify` checks the leaves and the tree after the chain (:mod:`plateledger.audit.treecheck`).

``append`` commits before it returns; a failure raises :class:`AuditUnavailable` and the caller's request fails.
Inside :meth:`AuditLog.batched` (an ingest pass: the intents of all its batches, then their outcomes) a thread's
appends are committed together when the block is left, in one transaction.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import orjson
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from plateledger.audit.events import AuditEvent
from plateledger.audit.tree import Appended, LogTree
from plateledger.audit.treecheck import StoredTree, TreeCheck
from plateledger.core import timing
from plateledger.core.clock import Clock
from plateledger.core.errors import AuditUnavailable
from plateledger.store.governance import Governance
from plateledger.store.journal import is_disk_full
from plateledger.store.models import Agency, AuditEntry, AuditHead, AuditTree

GENESIS = "0" * 64
_ENTRIES = cast(Table, AuditEntry.__table__)
_HEAD = cast(Table, AuditHead.__table__)
# The append's statements, built once (an append runs on every request).
_READ_HEAD = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
_LOCK_HEAD = _READ_HEAD.with_for_update()
_INSERT_ENTRIES = insert(_ENTRIES)
_INSERT_HEAD = insert(_HEAD).values(id=1, seq=bindparam("head_seq"), hash=bindparam("head_hash"))
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """Who acts: a user of an agency, or an operator at the command line acting for an agency."""

    username: str
    agency_id: int | None
    user_id: int | None = None
    role: str | None = None
    #: The client address of the HTTP request acted on (socket peer, or X-Forwarded-For from a trusted proxy);
    #: None at the command line.
    client: str | None = None


SYSTEM = Actor(username="system", agency_id=None)


@dataclass
class _Batch:
    """The appends of one :meth:`AuditLog.batched` block: its session and the entries to write when it ends."""

    session: Session
    head_seq: int
    entries: list[tuple[Actor, AuditEvent]] = field(default_factory=list)


def entry_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()


def entry_fields(entry: AuditEntry) -> dict[str, Any]:
    """Every field of an entry the hash covers (all but the hash itself; ``client`` only when set)."""
    fields = {
        "seq": entry.seq,
        "ts_ms": entry.ts_ms,
        "action": entry.action,
        "actor_user_id": entry.actor_user_id,
        "actor_username": entry.actor_username,
        "actor_agency_id": entry.actor_agency_id,
        "purpose": entry.purpose,
        "case_number": entry.case_number,
        "outcome": entry.outcome,
        "params": entry.params,
        "counts": entry.counts,
        "prev_hash": entry.prev_hash,
    }
    if entry.client is not None:
        fields["client"] = entry.client
    return fields


@dataclass(frozen=True)
class VerifyResult:
    intact: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""


def unreadable(what: str, exc: SQLAlchemyError) -> str:
    """One line saying the log could not be read (a dropped table, a damaged file), naming the engine's error."""
    first = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
    return f"audit log cannot be read, so it cannot be {what}: {exc.__class__.__name__}: {first}"


class AuditLog:
    def __init__(self, governance: Governance, clock: Clock) -> None:
        self._gov = governance
        self._clock = clock
        self._lock = threading.Lock()
        #: The thread's open :meth:`batched` block, if any.
        self._local = threading.local()
        #: The Merkle tree over the entries, appended in each entry's transaction.
        self.tree = LogTree(governance)

    def warm_up(self) -> None:
        """Load the committed tree now (a server, before it takes traffic), not in its first append."""
        with self._lock:
            self.tree.load()

    def append(self, actor: Actor, event: AuditEvent) -> int:
        """Append one event and commit; return its sequence number. Fails closed."""
        return self.record(actor, lambda _session: (event, None))[0]

    def record(self, actor: Actor, change: Callable[[Session], tuple[AuditEvent, T]]) -> tuple[int, T]:
        """Make a governance change and audit it in one transaction: ``change`` runs in the audit append's
        session and returns the event describing what it did (and a value for the caller). Both commit, or
        neither does. Returns the entry's sequence number and the change's value."""

        def one(session: Session) -> tuple[list[AuditEvent], T]:
            event, value = change(session)
            return [event], value

        seqs, value = self.record_all(actor, one)
        return seqs[0], value

    def record_all(self, actor: Actor, change: Callable[[Session], tuple[list[AuditEvent], T]]) -> tuple[list[int], T]:
        """Like :meth:`record` for a change described by several events (a batch of alerts): every entry and
        the change commit together, in one transaction, or nothing does."""
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:  # written when the batched block ends
            events, value = change(batch.session)
            first = batch.head_seq + len(batch.entries) + 1
            batch.entries.extend((actor, event) for event in events)
            return list(range(first, first + len(events))), value
        try:
            waiting = time.perf_counter()
            with self._lock:
                timing.add("audit_wait", time.perf_counter() - waiting)
                appended: Appended | None = None
                try:
                    with self._gov.session() as session:
                        seqs, value, pending = self._append(session, actor, change)
                        committing = time.perf_counter()
                    timing.add("audit_commit", time.perf_counter() - committing)
                    appended = pending  # committed
                finally:
                    # Only the tree state of a committed transaction is kept; a failed one makes the next append
                    # reload the tree from the store (which also checks its size against the head it locked).
                    self.tree.committed(appended)
            return seqs, value
        except SQLAlchemyError as exc:
            cause = " (disk full)" if is_disk_full(exc) else ""
            raise AuditUnavailable(
                f"audit log append failed{cause}, request refused: {exc.__class__.__name__}"
            ) from exc

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Append this thread's entries made inside (``append``, ``record``, ``record_all``) in one transaction,
        committed when the block is left: each returns its sequence number at once, and is durable once the block
        has been left without an error. The append lock is held throughout (other threads' appends wait), so keep
        the block short. If the commit fails, none of its entries was written: :class:`AuditUnavailable` is raised
        on leaving; an error raised inside leaves nothing written either. Nested, the outermost block commits."""
        if getattr(self._local, "batch", None) is not None:
            yield
            return
        try:
            waiting = time.perf_counter()
            with self._lock:
                timing.add("audit_wait", time.perf_counter() - waiting)
                appended: Appended | None = None
                written = False
                try:
                    with self._gov.session() as session:
                        head_query = _LOCK_HEAD if self._gov.dialect == "postgresql" else _READ_HEAD
                        head = session.execute(head_query).one_or_none()
                        batch = _Batch(session, head.seq if head is not None else 0)
                        self._local.batch = batch
                        try:
                            yield
                        finally:
                            self._local.batch = None
                        if batch.entries:
                            written = True
                            _, appended = self._write(session, batch.entries)
                        committing = time.perf_counter()
                    timing.add("audit_commit", time.perf_counter() - committing)
                finally:
                    if written:  # as record_all: only a committed transaction's tree state is kept
                        self.tree.committed(appended)
        except SQLAlchemyError as exc:
            cause = " (disk full)" if is_disk_full(exc) else ""
            raise AuditUnavailable(
                f"audit log append failed{cause}, request refused: {exc.__class__.__name__}"
            ) from exc

    def _append(
        self, session: Session, actor: Actor, change: Callable[[Session], tuple[list[AuditEvent], T]]
    ) -> tuple[list[int], T, Appended | None]:
        events, value = change(session)
        seqs, appended = self._write(session, [(actor, event) for event in events])
        return seqs, value, appended

    def _write(self, session: Session, entries: list[tuple[Actor, AuditEvent]]) -> tuple[list[int], Appended | None]:
        """Write ``entries`` after the chain head, in ``session``: rows, leaves, tree and head."""
        # Core statements in the ORM session's transaction: the same rows as ORM objects would give,
        # without the unit of work's bookkeeping (docs/benchmarks.md, "Search path outside the engine").
        # The head's SELECT autoflushes whatever ``change`` added, as the ORM query did.
        head_query = _LOCK_HEAD if self._gov.dialect == "postgresql" else _READ_HEAD
        head = session.execute(head_query).one_or_none()
        seq, prev_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
        now = self._clock.now_ms()
        rows: list[dict[str, Any]] = []
        seqs: list[int] = []
        for actor, event in entries:
            purpose, case_number = event.purpose_case()
            seq += 1
            fields = {  # what entry_fields() gives of the stored row: the hash covers exactly these
                "seq": seq,
                "ts_ms": now,
                "action": event.action,
                "actor_user_id": actor.user_id,
                "actor_username": actor.username,
                "actor_agency_id": actor.agency_id,
                "purpose": purpose,
                "case_number": case_number,
                "outcome": event.outcome,
                "params": orjson.dumps(event.params(), option=orjson.OPT_SORT_KEYS).decode(),
                "counts": orjson.dumps(event.counts(), option=orjson.OPT_SORT_KEYS).decode(),
                "prev_hash": prev_hash,
            }
            if actor.client is not None:
                fields["client"] = actor.client
            prev_hash = entry_hash(fields)
            rows.append({**fields, "client": actor.client, "hash": prev_hash})
            seqs.append(seq)
        appended = None
        # The session's connection, in its transaction (the ORM's per-statement work is not needed below).
        connection = session.connection()
        if rows:
            connection.execute(_INSERT_ENTRIES, rows)
            # The entries' leaves, tiles and tree size, in their transaction.
            appended = self.tree.append(connection, seq - len(rows), rows)
        if head is None:
            connection.execute(_INSERT_HEAD, {"head_seq": seq, "head_hash": prev_hash})
        elif rows:
            connection.execute(_MOVE_HEAD, {"head_seq": seq, "head_hash": prev_hash})
        return seqs, appended

    def entries(
        self,
        *,
        after_seq: int = 0,
        limit: int = 1000,
        action: str | None = None,
        agency_id: int | None = None,
    ) -> list[AuditEntry]:
        query = select(AuditEntry).where(AuditEntry.seq > after_seq)
        if action:
            query = query.where(AuditEntry.action == action)
        if agency_id is not None:
            query = query.where(AuditEntry.actor_agency_id == agency_id)
        try:
            with self._gov.session() as session:
                return list(session.scalars(query.order_by(AuditEntry.seq).limit(limit)))
        except SQLAlchemyError as exc:
            raise AuditUnavailable(unreadable("listed", exc)) from exc

    def counts_since(self, user_id: int, *, since_ms: int, actions: Collection[str]) -> list[str]:
        """The ``counts`` JSON of ``user_id``'s entries of ``actions`` made at or after ``since_ms`` (the query
        budget restores a user's window from them: :mod:`plateledger.search.budget`)."""
        with self._gov.session() as session:
            query = select(AuditEntry.counts).where(
                AuditEntry.actor_user_id == user_id, AuditEntry.ts_ms >= since_ms, AuditEntry.action.in_(actions)
            )
            return list(session.scalars(query))

    def _head(self) -> tuple[int, str, StoredTree | None] | None:
        """The chain head and the tree, read in one statement (so a concurrent append is seen in both or neither)."""
        query = (
            select(AuditHead.seq, AuditHead.hash, AuditTree.size, AuditTree.compact)
            .select_from(AuditHead)
            .outerjoin(AuditTree, AuditTree.id == AuditHead.id)
            .where(AuditHead.id == 1)
        )
        with self._gov.session() as session:
            row = session.execute(query).one_or_none()
        if row is None:
            return None
        tree = StoredTree(int(row.size), bytes(row.compact)) if row.size is not None else None
        return row.seq, row.hash, tree

    def _scan(
        self, upto: int, check: TreeCheck, batch: int = 5000
    ) -> Iterator[tuple[list[AuditEntry], dict[int, tuple[bytes, bytes | None]]]]:
        """The entries up to ``upto`` in batches, each with the leaves of its sequence range."""
        after = 0
        while True:
            with self._gov.session() as session:
                # Physical order by primary key; duplicates or gaps are the verifier's job.
                query = (
                    select(AuditEntry)
                    .where(AuditEntry.seq > after, AuditEntry.seq <= upto)
                    .order_by(AuditEntry.seq)
                    .limit(batch)
                )
                rows = list(session.scalars(query))
                leaves = check.leaves(session, rows[0].seq, rows[-1].seq) if rows else {}
            if not rows:
                return
            yield rows, leaves
            after = rows[-1].seq

    def verify(self) -> VerifyResult:
        """Walk the chain up to the head read at the start (appends made meanwhile are not its concern) and report
        the first sequence number where it breaks. A missing head (the migration creates it) is a break too. A log
        that cannot be read at all (a dropped table) raises :class:`AuditUnavailable`."""
        try:
            return self._verify()
        except SQLAlchemyError as exc:
            raise AuditUnavailable(unreadable("verified", exc)) from exc

    def _verify(self) -> VerifyResult:
        head = self._head()
        if head is None:
            return VerifyResult(False, 0, 1, "chain head missing")
        head_seq, head_hash, tree = head
        with self._gov.session() as session:
            agencies = {int(i): str(s) for i, s in session.execute(select(Agency.id, Agency.slug))}
        check = TreeCheck(self._gov, tree, agencies)
        expected_prev = GENESIS
        expected_seq = 1
        count = 0
        tree_problem: tuple[int, str] | None = None
        for batch, leaves in self._scan(head_seq, check):
            good: list[AuditEntry] = []
            broken: VerifyResult | None = None
            for entry in batch:
                count += 1
                if entry.seq != expected_seq:
                    bad = min(entry.seq, expected_seq)
                    broken = VerifyResult(False, count, bad, f"sequence {expected_seq} expected, found {entry.seq}")
                elif entry.prev_hash != expected_prev:
                    broken = VerifyResult(False, count, entry.seq, "previous-hash link broken")
                elif entry_hash(entry_fields(entry)) != entry.hash:
                    broken = VerifyResult(False, count, entry.seq, "entry content does not match its hash")
                if broken is not None:
                    break
                good.append(entry)
                expected_prev = entry.hash
                expected_seq += 1
            # The leaves of the entries whose chain holds. A break of the chain is reported before a bad leaf:
            # the chain says which entry was changed or removed, the leaves then disagree with it too.
            if tree_problem is None:
                tree_problem = check.entries(good, leaves)
            if broken is not None:
                return broken
        if expected_seq - 1 < head_seq:
            return VerifyResult(
                False,
                count,
                expected_seq,
                f"sequence {expected_seq} expected, missing below the chain head ({head_seq})",
            )
        if head_seq != expected_seq - 1 or head_hash != expected_prev:
            return VerifyResult(False, count, expected_seq, "chain head does not match the last entry")
        # Entries beyond the head as it is now were not appended by the log (which moves the head with each one).
        # One statement, so a concurrent append (entry and head in one transaction) is seen whole or not at all.
        current_head = select(AuditHead.seq).where(AuditHead.id == 1).scalar_subquery()
        with self._gov.session() as session:
            beyond = session.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.seq > current_head))
        if beyond is not None:
            return VerifyResult(False, count, beyond, "entry beyond the chain head")
        tree_problem = tree_problem or check.finish(head_seq)
        if tree_problem is not None:
            return VerifyResult(False, count, *tree_problem)
        return VerifyResult(True, count)

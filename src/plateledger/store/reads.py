"""The reads store: one embedded ClickHouse (chDB) under DATA/reads.

All reads-store SQL lives in ``store/``. Queries that return reads take the owners and time windows a gate
decision allows (:class:`OwnerWindows`: in every caller the policy gate's ``Permit``, which only the gate can
construct), so there is no way to read rows out of this store without a gate decision (invariant 1). The store
states what it needs as a protocol instead of importing the gate: it sits below the domains and imports none of
them.

Locking: chDB runs one statement at a time per process, so every statement holds the engine's turn
(``store/turns.py``: fair, first come first served) for that statement only. An ingest pass (about ten
statements over shared staging tables) holds the write lock, and so does everything that needs a view of the
store that no pass changes half-way: expiry, key reconciliation, hot-list mirror updates, backup snapshots
(:meth:`ReadsStore.writing`), damage detach, per-owner counts, close. Searches take only the engine's turn, so they
run between a pass's statements.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
from chdb import session as _chdb_session

from plateledger.core import timing
from plateledger.core.crashpoints import crashpoint
from plateledger.core.errors import ConfigurationError, StoreUnavailable
from plateledger.plates import confusable_key
from plateledger.store import damage, fastpath, sql
from plateledger.store.cameras import CameraInfo
from plateledger.store.journal import Journal, is_disk_full, storage_full
from plateledger.store.matching import Match, Mirror, MirrorEntry
from plateledger.store.queries import (
    WARM_SQL,
    AreaQuery,
    PlateQuery,
    StoredRead,
    area_sql,
    ch_array,
    plate_sql,
    stored_reads,
)
from plateledger.store.turns import EngineUse, StatementLock

#: chDB ships no type information.
chdb_session: Any = _chdb_session
_log = logging.getLogger(__name__)


class OwnerWindows(Protocol):
    """What a query needs of a gate decision: the owners and windows it allows, as a ClickHouse condition on
    ``owner`` and ``ts`` (None when nothing was allowed). :class:`plateledger.policy.gate.Permit` is the one
    implementation, and ``search/`` the one caller, always with a permit the gate issued."""

    def sql_clause(self) -> str | None: ...


def _ch_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ch_pairs(pairs: Iterable[tuple[int, str]]) -> str:
    """(owner, read id) pairs as a ClickHouse Array(Tuple(UInt32, String)) literal."""
    return "[" + ",".join(f"({int(owner)},{_ch_string(rid)})" for owner, rid in pairs) + "]"


def _ch_ints(values: Iterable[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"


@dataclass
class BatchResult:
    """What one ingest batch did. ``rejected`` holds (index, reason), index counted from the batch's first read."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    #: The batch's stored reads that matched an active hot-list entry (see ``store/matching.py``).
    matches: list[Match] = field(default_factory=list)
    #: Where the batch's keys were journalled before its insert (``<intent file>/<batch>``, see
    #: ``store/journal.py``); '' when the batch had nothing to insert.
    intent: str = ""
    #: Reads sent older than the owner's retention (``ingest/expiring.py``), and that retention in days.
    past_retention: int = 0
    retention_days: int | None = None
    #: Reads of cameras the owner has not registered, held in quarantine (``--quarantine-unknown``).
    quarantined: int = 0
    #: The newest read time (epoch ms) per camera id among the batch's valid reads, duplicates included (what
    #: camera health records as each camera's last read).
    newest: dict[str, int] = field(default_factory=dict)
    #: The oldest read time (epoch ms) among the batch's valid reads, duplicates included; None without any. With
    #: no rejection it bounds every line's time, so a batch whose oldest read is within retention needs no scan
    #: of its lines for older ones (``ingest/expiring.py``).
    oldest_ms: int | None = None

    @property
    def total(self) -> int:
        return self.stored + self.duplicates + len(self.rejected)

    def add(self, other: BatchResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.matches.extend(other.matches)
        self.past_retention += other.past_retention
        self.retention_days = other.retention_days if other.retention_days is not None else self.retention_days
        self.quarantined += other.quarantined
        for camera, ts_ms in other.newest.items():
            self.newest[camera] = max(ts_ms, self.newest.get(camera, ts_ms))
        if other.oldest_ms is not None:
            self.oldest_ms = other.oldest_ms if self.oldest_ms is None else min(self.oldest_ms, other.oldest_ms)


@dataclass
class _Pending:
    """One caller's batch waiting for (or taken into) a group-commit pass."""

    block: bytes
    owner: int
    cameras: tuple[CameraInfo, ...]
    country: str
    source: str
    before_commit: Callable[[BatchResult], None] | None
    after_commit: Callable[[BatchResult, BaseException | None], None] | None
    now_ms: int
    result: BatchResult | None = None
    error: BaseException | None = None
    #: Set when an earlier batch of the pass failed before anything was inserted: written again in a new pass.
    retry: bool = False
    #: The block's lines' values, when it was made by encoding each with orjson (``fastpath.staged_rows``).
    decoded: Sequence[Any] | None = None


def _engine_failed(text: str) -> StoreUnavailable:
    """The error for a statement chDB refused or failed: the engine's text is logged and kept as a note for the
    operator (start-up errors show it), never put in the detail a client sees."""
    _log.error("reads store statement failed: %s", text[:2000])
    error = StoreUnavailable("the reads store could not answer; the operator's log has the engine's message")
    error.add_note(text)
    return error


@dataclass(frozen=True)
class Expiry:
    """One owner's limits for :meth:`ReadsStore.expire` (epoch ms): its reads older than ``cutoff_ms`` go, except
    held ones (linked to an alert or a case), which go when older than ``hit_cutoff_ms``."""

    cutoff_ms: int
    hit_cutoff_ms: int


@dataclass(frozen=True)
class ExpiryCount:
    """One owner's reads at a retention run: ``stored`` before it, ``expired`` (deleted by it), and ``held``:
    past the normal cutoff but kept by a hold until the hit cutoff."""

    stored: int
    expired: int
    held: int


@dataclass(frozen=True)
class ExpiryResult:
    """What :meth:`ReadsStore.expire` did: counts per owner id (owners with reads), and the superseded parts still
    on disk when it returned (0: every part that held a deleted read has been removed from disk)."""

    counts: dict[int, ExpiryCount]
    outdated_parts: int

    @property
    def expired(self) -> int:
        return sum(c.expired for c in self.counts.values())


def _has_setting(engine: str, name: str, value: object) -> bool:
    """Whether a table's engine clause (``system.tables.engine_full``) sets ``name`` to exactly ``value``."""
    return re.search(rf"(?<![a-z_]){name} = {re.escape(str(value))}(?![\w'])", engine) is not None


#: The Memory tables of an ingest pass (``raw`` only for the SQL validator, ``cand`` only for hot-list matching
#: with pattern entries). ``raw``, ``parsed`` and ``fresh`` outlive a pass, emptied: creating and dropping a table
#: writes and removes its metadata file (~3 ms a table, measured), emptying all of them is one ``TRUNCATE``.
STAGING_TABLES = ("raw", "parsed", "fresh", "cand")


class ReadsStore:
    #: Whether the statements of the write lock's holder (an ingest pass) go before queued searches.
    writes_first = True
    #: Wraps a pass's ``before_commit`` calls, and then its ``after_commit`` calls: the platform's audit log's
    #: ``batched``, so that each is one audit transaction for all the pass's batches; an error raised on leaving
    #: (the transaction failed) is every one of those batches' error.
    audit_group: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext

    def __init__(self, path: Path, *, key_bits: int = sql.READ_KEY_BITS) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        #: Bits of each read's key in ``read_keys`` (``sql.READ_KEY_BITS``; tests narrow it to force collisions).
        self._key_bits = key_bits
        #: Held per statement (chDB runs one at a time), in arrival order.
        self._engine_turn = StatementLock()
        #: Held across a whole ingest pass (its staging tables, the mirror, the keys) and by whatever must not
        #: see half a pass (see the module's docstring); the thread holding it is ``_writer``.
        self._write_lock = threading.RLock()
        self._writer: int | None = None
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._session = chdb_session.Session(str(path))
        self._tmp = path / "tmp-staging"
        self._tmp.mkdir(exist_ok=True)
        #: Per owner id, (reads, read_keys) found at open when the two disagreed (before the keys were rebuilt).
        self.keys_at_open: dict[int, tuple[int, int]] = {}
        self._keys_stale = False
        #: Whether staging tables may exist in an unknown state (a pass ends by emptying them; one that failed, and
        #: the first since the store opened, drop any that exist: a kill leaves their metadata, empty).
        self._staging_dirty = True
        #: The staging tables that exist, empty, and which pass kind ("typed" or "sql") made them: a table is made
        #: by a pass's first ``CREATE ... AS SELECT`` and filled by ``INSERT`` in later passes of the same kind.
        self._staged: set[str] = set()
        self._staged_kind = ""
        self.journal = Journal(path / "intents", self._query, self._rows)
        try:
            for statement in sql.SCHEMA:
                self._query(statement)
            self._apply_part_settings()
            self._upgrade()
            self._query("CREATE DATABASE IF NOT EXISTS staging")
            self._finish_expiry()
            self._reconcile_keys()
            shutil.rmtree(path / "shadow", ignore_errors=True)  # a backup's frozen parts, if one was killed
            self._mirror = Mirror(self._query, self._rows, self._tmp)
            self._mirror.load(())
        except Exception as exc:  # chDB raises its own error types for a damaged directory
            self._session.close()
            text = "\n".join(getattr(exc, "__notes__", ())) or str(exc)
            first = text.splitlines()[0][:300] if text else exc.__class__.__name__
            raise ConfigurationError(f"reads store at {path} cannot be opened: {first}") from exc

    # -- plumbing -------------------------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the write lock: no ingest pass, expiry, mirror update or snapshot runs meanwhile, and none is
        half-done; searches go on between the holder's statements."""
        with self._write_lock:
            outer, self._writer = self._writer, threading.get_ident()
            try:
                yield
            finally:
                self._writer = outer

    def engine_use(self) -> EngineUse:
        """The engine's statements, busy and waited seconds since the store opened (``store/turns.py``)."""
        return self._engine_turn.use()

    def _query(self, statement: str, params: dict[str, Any] | None = None, fmt: str = "CSV") -> Any:
        first = self.writes_first and self._writer == threading.get_ident()
        asked = time.perf_counter()
        with self._engine_turn.held(first=first):
            timing.add("store_wait", time.perf_counter() - asked)
            try:
                result = self._session.query(statement, fmt, params=params or {})
            except RuntimeError as error:  # chDB's ChdbError
                self._drain()
                if is_disk_full(error):
                    raise storage_full(self.path, str(error)) from error
                raise _engine_failed(str(error)) from error
            if result is not None and getattr(result, "has_error", lambda: False)():
                self._drain()
                text = result.error_message()
                raise storage_full(self.path, text) if is_disk_full(text) else _engine_failed(text)
        return result

    def _drain(self) -> None:
        """After a failed statement: chDB (4.4) hands out what the statement had written before it failed ahead of
        the next statement's own output (seen when a read failed on a damaged part, and the next answer began with
        the failed one's header); one throwaway statement takes it."""
        with contextlib.suppress(RuntimeError):
            self._session.query("SELECT 1", "CSV")

    def _rows(self, statement: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        result = self._query(statement, params, fmt="JSONCompact")
        raw = result.bytes() if result is not None else b""
        if not raw:
            return []
        data: list[list[Any]] = orjson.loads(raw)["data"]
        return data

    def _columns(self, statement: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        """The result's columns, one list each (JSONCompactColumns: no per-row lists to build and take apart)."""
        result = self._query(statement, params, fmt="JSONCompactColumns")
        raw = result.bytes() if result is not None else b""
        if not raw:
            return []
        columns: list[list[Any]] = orjson.loads(raw)
        return columns

    def _scalar(self, statement: str, params: dict[str, Any] | None = None) -> Any:
        rows = self._rows(statement, params)
        return rows[0][0] if rows else None

    def close(self) -> None:
        with self.writing(), self._engine_turn.held():
            self._session.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _apply_part_settings(self) -> None:
        """Give tables created before ``sql.TABLE_SETTINGS`` existed those settings (a metadata change)."""
        for table in ("reads", "read_keys"):
            engine = self._engine(table)
            missing = [
                f"{name} = {value}"
                for name, value in sql.TABLE_SETTINGS.items()
                if not _has_setting(engine, name, value)
            ]
            if missing:
                self._query(f"ALTER TABLE {table} MODIFY SETTING {', '.join(missing)}")

    def _engine(self, table: str) -> str:
        """The table's engine clause, settings included."""
        return str(
            self._scalar(
                "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
                {"t": table},
            )
        )

    def _upgrade(self) -> None:
        """Bring a reads table made by an earlier version up to date: add the source's raw time and confidence
        columns (a metadata change: existing parts read them as ''), replace an earlier area projection
        (``sql.OLD_AREA_PROJECTIONS``) by the current one, and build it for the parts already stored. The build
        is a mutation that runs in the background (and resumes after a restart); until a part has it, queries
        read that part from the plate-ordered table, so answers are the same, only slower. Columns whose codec
        differs from ``sql.READS_COLUMN_TYPES`` / ``sql.READ_KEYS_CODECS`` get it (``_upgrade_codecs``).

        A ``read_keys`` table with another granularity than ``sql.READ_KEYS_GRANULARITY`` (which cannot be changed
        in place) is dropped and made again; ``_reconcile_keys`` then rebuilds its keys from ``reads``. A crash in
        between leaves fewer keys than reads, which the next start-up repairs the same way."""
        if not _has_setting(self._engine("read_keys"), "index_granularity", sql.READ_KEYS_GRANULARITY):
            self._query("DROP TABLE read_keys SYNC")
            self._query(sql.READ_KEYS_DDL)
        # ALTER is not free even when it changes nothing (about 0.1 s each at every open): only for missing columns.
        columns = {
            str(row[0])
            for row in self._rows(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'reads'"
            )
        }
        for name, kind in sql.SOURCE_COLUMNS.items():
            if name not in columns:
                self._query(f"ALTER TABLE reads ADD COLUMN IF NOT EXISTS {name} {kind}")
        self._upgrade_codecs("reads", {name: sql.codec_of(kind) for name, kind in sql.READS_COLUMN_TYPES.items()})
        self._upgrade_codecs("read_keys", sql.READ_KEYS_CODECS)
        present = {
            str(row[0])
            for row in self._rows(
                "SELECT name FROM system.projections WHERE database = currentDatabase() AND table = 'reads'"
            )
        }
        for old in sql.OLD_AREA_PROJECTIONS:
            if old in present:
                self._query(f"ALTER TABLE reads DROP PROJECTION IF EXISTS {old}")
        if sql.AREA_PROJECTION_NAME in present:
            return
        self._query(f"ALTER TABLE reads ADD PROJECTION IF NOT EXISTS {sql.AREA_PROJECTION.removeprefix('PROJECTION ')}")
        self._query(f"ALTER TABLE reads MODIFY SETTING {sql.READS_SETTINGS}")
        self._query(f"ALTER TABLE reads MATERIALIZE PROJECTION {sql.AREA_PROJECTION_NAME}")

    def _upgrade_codecs(self, table: str, wanted: dict[str, str]) -> None:
        """Give ``table``'s columns the codecs of ``wanted`` ('' for the tables' default), in one ALTER when any
        differs. A metadata change: parts written after it, and parts made by merges, use the new codecs; the
        parts already stored keep theirs until they are merged (the answers are the same either way)."""
        stored = {
            str(name): str(codec)
            for name, codec in self._rows(
                "SELECT name, compression_codec FROM system.columns WHERE database = currentDatabase() "
                "AND table = {t:String}",
                {"t": table},
            )
        }
        changes = [
            f"MODIFY COLUMN {name} {codec}" if codec else f"MODIFY COLUMN {name} REMOVE CODEC"
            for name, codec in wanted.items()
            if name in stored and not sql.same_codec(stored[name], codec)
        ]
        if changes:
            self._query(f"ALTER TABLE {table} {', '.join(changes)}")

    def _reconcile_keys(self) -> None:
        """If a crash stopped an insert between ``reads`` and ``read_keys``, rebuild the missing keys. What the two
        held per owner before the rebuild is kept in ``keys_at_open`` (more keys than reads: reads were lost).
        Keys wider than the store's width (a store made before ``sql.READ_KEY_BITS``, or a backup of one) are
        rebuilt from ``reads`` too; the primary key answers that check without reading the keys."""
        with self.writing():
            reads = int(self._scalar("SELECT count() FROM reads"))
            keys = int(self._scalar("SELECT count() FROM read_keys"))
            self._keys_stale = False
            wide = self._key_bits < 64 and bool(
                self._rows(f"SELECT 1 FROM read_keys WHERE key > {sql.key_mask(self._key_bits)} LIMIT 1")
            )
            if reads == keys and not wide:
                return
            self.keys_at_open = {
                int(owner): (int(r), int(k))
                for owner, r, k in self._rows(
                    "SELECT owner, sum(r), sum(k) FROM (SELECT owner, 1 AS r, 0 AS k FROM reads "
                    "UNION ALL SELECT owner, 0, 1 FROM read_keys) GROUP BY owner HAVING sum(r) != sum(k) ORDER BY owner"
                )
            }
            self._query("TRUNCATE TABLE read_keys")
            self._query(f"INSERT INTO read_keys SELECT owner, {sql.narrow_key(self._key_bits)} FROM reads")

    # -- hot-list matching ----------------------------------------------------------------------------------
    def load_hot_entries(self, entries: Iterable[MirrorEntry]) -> None:
        """Replace the mirror of active hot-list entries that each batch's stored reads are matched against."""
        with self.writing():
            self._mirror.load(entries)

    def update_hot_entries(self, *, add: Iterable[MirrorEntry], remove: Collection[int]) -> None:
        """Remove the entries with ids in ``remove`` from the mirror, then add ``add``."""
        with self.writing():
            self._mirror.update(add=add, remove=remove)

    @property
    def hot_entries(self) -> int:
        """How many entries the mirror holds (0: matching costs nothing)."""
        return self._mirror.size

    # -- ingest ---------------------------------------------------------------------------------------------
    def ingest_block(
        self,
        block: bytes,
        *,
        owner: int,
        cameras: Sequence[CameraInfo],
        country: str,
        now_ms: int,
        future_tolerance_ms: int,
        max_read_bytes: int,
        source: str,
        before_commit: Callable[[BatchResult], None] | None = None,
        after_commit: Callable[[BatchResult, BaseException | None], None] | None = None,
        decoded: Sequence[Any] | None = None,
    ) -> BatchResult:
        """Validate, de-duplicate and store one batch of canonical reads: ``block`` holds one JSON object per line.
        ``decoded``: the lines' values, when ``block`` is each of them encoded by orjson (typed without decoding).

        Rejections are indexed by line, from 0. Blank lines (and a trailing ``\\r``) are skipped: they are not
        reads, but they keep their place in the numbering.

        ``before_commit`` is called with the batch's counts after validation and before anything is inserted;
        if it raises (the audit log could not be written), nothing of the batch is stored. A batch with reads to
        insert has ``intent`` set by then: its keys are journalled (``store/journal.py``). For such a batch,
        ``after_commit`` is called after the insert with the batch's counts and None, or, when the insert failed,
        with the counts of what was really stored (``stored``: the batch's reads found in the store) and the
        error, which is then raised. An error ``after_commit`` raises is raised instead of returning the result
        (the reads stay stored; the intent file is kept for the start-up reconciliation). A full disk raises
        :class:`~plateledger.core.errors.StorageFull`.

        Batches that arrive while another is being written are written together, in one pass (group commit):
        the SQL validator's fixed cost (~70 ms of query analysis) is paid once per pass, not per batch. Each
        batch still gets its own result, rejections indexed from its own first line.

        When this returns, the stored reads are on disk in a committed part: a kill -9 of the process afterwards
        loses none of them.
        """
        if not block.strip():
            return BatchResult()
        pending = _Pending(
            block, owner, tuple(cameras), country, source, before_commit, after_commit, now_ms, decoded=decoded
        )
        with self._queue_lock:
            self._queue.append(pending)
        with self.writing():
            if pending.result is None and pending.error is None:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._write_group(group, future_tolerance_ms, max_read_bytes)
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def _write_group(self, group: list[_Pending], future_tolerance_ms: int, max_read_bytes: int) -> None:
        """Stage, validate, de-duplicate and insert the batches of ``group``; set each one's result or error."""
        files: list[Path] = []
        try:
            if self._keys_stale:  # an earlier pass stored reads but could not store their keys
                self._reconcile_keys()
            staged = fastpath.staged_rows(
                [(p.block, p.owner, p.country, p.source, fastpath.camera_positions(p.cameras)) for p in group],
                now_ms=max(p.now_ms for p in group),
                future_tolerance_ms=future_tolerance_ms,
                max_bytes=max_read_bytes,
                decoded=[p.decoded for p in group],
            )
            if staged is None:  # one file of raw lines per batch, for the SQL validator
                files.extend(self._staging_file(pending.block + b"\n") for pending in group)
            else:  # the whole group's rows, typed
                files.append(self._staging_file(staged))
            results = self._ingest_staged(group, files, staged is not None, future_tolerance_ms, max_read_bytes)
            for pending, result in zip(group, results, strict=True):
                if pending.error is None and not pending.retry:
                    pending.result = result
        except BaseException as error:  # every waiting batch learns why its write failed
            for pending in group:
                pending.error = error
            if not isinstance(error, Exception):
                raise
        finally:
            for path in files:
                path.unlink(missing_ok=True)
        again = [pending for pending in group if pending.retry and pending.error is None]
        if again:  # after a batch whose audit failed: the batches behind it, de-duplicated without it
            for pending in again:
                pending.retry = False
            self._write_group(again, future_tolerance_ms, max_read_bytes)

    def _staging_file(self, data: bytes) -> Path:
        try:
            with tempfile.NamedTemporaryFile(dir=self._tmp, suffix=".jsonl", delete=False) as handle:
                handle.write(data)
        except OSError as error:
            if is_disk_full(error):
                raise storage_full(self.path, error) from error
            raise
        return Path(handle.name)

    @staticmethod
    def _file_sql(path: Path) -> str:
        return "'" + str(path).replace("\\", "\\\\").replace("'", "\\'") + "'"

    def _ingest_staged(
        self, group: list[_Pending], files: list[Path], typed: bool, future_tolerance_ms: int, max_read_bytes: int
    ) -> list[BatchResult]:
        owners = sorted({p.owner for p in group})
        cameras = {(p.owner, c.external_id): c for p in group for c in p.cameras}
        countries = {p.owner: p.country for p in group}
        params: dict[str, Any] = {
            "cam_keys": ch_array([f"{owner}/{camera}" for owner, camera in cameras]),
            "cam_lat": ch_array([c.lat if c.lat is not None else math.nan for c in cameras.values()]),
            "cam_lon": ch_array([c.lon if c.lon is not None else math.nan for c in cameras.values()]),
            "owners": "[" + ",".join(str(o) for o in owners) + "]",
            "countries": ch_array([countries[o] for o in owners]),
            "now_ms": max(p.now_ms for p in group),
            "max_future_ms": future_tolerance_ms,
            "max_bytes": max_read_bytes,
        }
        kind = "typed" if typed else "sql"
        if self._staging_dirty or kind != self._staged_kind:
            # A pass that failed, the first since the store opened, or one of the other kind (its column types
            # may differ): drop the tables, this pass makes them again.
            self._drop_staging()
            self._staged_kind = kind
        self._staging_dirty = True
        try:
            results = self._pass_statements(group, files, typed, params)
        except BaseException:
            self._drop_staging()
            raise
        # Emptied, not dropped: the next pass of this kind fills them again (one statement for all of them).
        self._query("TRUNCATE ALL TABLES FROM staging")
        self._staging_dirty = False
        return results

    def _stage(self, table: str, select: str, params: dict[str, Any]) -> None:
        """Fill staging table ``table`` with ``select``: ``CREATE ... AS`` the first time, ``INSERT`` after."""
        if table in self._staged:
            self._query(f"INSERT INTO staging.{table} {select}", params)
            return
        self._query(f"CREATE TABLE staging.{table} ENGINE = Memory AS {select}", params)
        self._staged.add(table)

    def _pass_statements(
        self, group: list[_Pending], files: list[Path], typed: bool, params: dict[str, Any]
    ) -> list[BatchResult]:
        if typed:
            # 1-2. Rows the fast path typed in Python (``fastpath.py``): all valid, only cheap conversions left.
            self._stage(
                "parsed",
                f"SELECT idx, batch, '' AS reason, {sql.TYPED_COLUMNS} FROM file({self._file_sql(files[0])}, "
                f"'JSONColumns', '{fastpath.STAGED_STRUCTURE}') SETTINGS max_threads = 1",
                params,
            )
        else:
            self._stage_and_validate(group, files, params)
        # 3. Keep the first of each read that the store does not already hold (batches in arrival order).
        self._stage("fresh", sql.fresh_select(self._key_bits), params)
        results = [BatchResult() for _ in group]
        if not typed:  # typed rows are all valid
            for batch, idx, reason in self._rows(
                "SELECT batch, idx, reason FROM staging.parsed WHERE reason != '' ORDER BY batch, idx"
            ):
                results[int(batch)].rejected.append((int(idx), str(reason)))
        # Per batch and camera its valid reads, newest and oldest time; per batch (camera NULL) its fresh reads:
        # one statement (each has a fixed cost of a few ms, most of a small pass).
        valid: dict[int, int] = {}
        candidates = 0
        for batch_v, camera, count, newest, oldest in self._rows(
            "SELECT batch, camera, count(), toUnixTimestamp64Milli(max(ts)), toUnixTimestamp64Milli(min(ts)) "
            "FROM staging.parsed WHERE reason = '' GROUP BY batch, camera UNION ALL "
            "SELECT batch, NULL, count(), countIf(hit), 0 FROM staging.fresh GROUP BY batch"
        ):
            result, batch = results[int(batch_v)], int(batch_v)
            if camera is None:  # the batch's fresh reads, and how many of them are candidate duplicates
                result.stored = int(count)
                candidates += int(newest)
                continue
            valid[batch] = valid.get(batch, 0) + int(count)
            result.newest[str(camera)] = int(newest)
            result.oldest_ms = int(oldest) if result.oldest_ms is None else min(result.oldest_ms, int(oldest))
        if candidates:
            self._verify_candidates(results, params, candidates)
        for batch, count in valid.items():
            results[batch].duplicates = count - results[batch].stored
        journal = ""
        if any(r.stored for r in results):
            journal = self.journal.write("staging.fresh")
            for number, result in enumerate(results):
                if result.stored:
                    result.intent = f"{journal}/{number}"
        committed = self._audit_intents(group, results, self.audit_group)
        failure: Exception | None = None
        if any(r.stored for r in results[:committed]):
            crashpoint("ingest.before_insert")
            try:
                self._insert(committed)
            except Exception as error:  # noqa: BLE001 - counted, audited, then handed to each batch
                failure = error
                self._count_stored(results, committed, params)
            crashpoint("ingest.after_insert")
        finished = True
        outcomes = [(p, r) for p, r in zip(group[:committed], results[:committed], strict=True) if r.intent]
        try:
            with self.audit_group():  # one audit transaction for the pass's outcomes
                for pending, result in outcomes:  # (a batch without intent: its before_commit entry was its outcome)
                    try:
                        if pending.after_commit is not None:
                            pending.after_commit(result, failure)
                    except Exception as error:  # noqa: BLE001 - this batch's outcome could not be audited
                        pending.error = error
                        finished = False
        except Exception as error:  # noqa: BLE001 - the outcomes' transaction failed: none of them is audited
            for pending, _ in outcomes:
                pending.error = pending.error or error
            finished = False
        for pending, _ in outcomes:
            if failure is not None and pending.error is None:
                pending.error = failure
        if journal and finished:
            self.journal.drop(journal)
        if failure is None and any(r.stored for r in results[:committed]):
            # 5. Hot-list matching of what was just stored (only new reads: duplicates never match twice).
            for match in self._mirror.match(committed, params["now_ms"]):
                results[match.batch].matches.append(match)
        return results

    @staticmethod
    def _audit_intents(
        group: list[_Pending], results: list[BatchResult], audit_group: Callable[[], AbstractContextManager[None]]
    ) -> int:
        """Call each batch's ``before_commit`` in arrival order, all inside one ``audit_group``; return how many
        were audited. Fail closed: the first batch whose entry could not be written gets that error and nothing of
        it is stored; the pass stores the batches before it (a batch's first copies of reads never depend on a
        later batch, so the stored prefix is exactly what was audited). The batches after it are marked ``retry``:
        their duplicates were counted against the failed batch, so they are staged and audited again in a pass of
        their own. If the group's transaction fails, every batch gets its error and nothing is stored."""
        committed = 0
        try:
            with audit_group():
                for pending, result in zip(group, results, strict=True):
                    if pending.before_commit is not None:
                        try:
                            pending.before_commit(result)
                        except Exception as error:  # noqa: BLE001 - this batch's outcome; the others go on
                            pending.error = error
                            for later in group[committed + 1 :]:
                                later.retry = True
                            break
                    committed += 1
        except Exception as error:  # noqa: BLE001 - no entry of the group was written: no batch is stored
            for pending in group:
                pending.retry = False
                pending.error = pending.error or error
            return 0
        return committed

    def _verify_candidates(self, results: list[BatchResult], params: dict[str, Any], candidates: int) -> None:
        """Remove from ``staging.fresh`` its ``candidates`` (rows whose key is in ``read_keys``) that are
        duplicates, looked up by time when the pass spans at most ``sql.TIME_LOOKUP_MS`` (``sql.CONFIRMED_BY_TIME``),
        else by plate (``sql.CONFIRMED_BY_PLATE``), then, for those not confirmed so (a key collision, or a read id
        sent again with another plate and time), by read id (``sql.CONFIRMED_BY_READ_ID``, a scan of ``read_id``,
        and ``sql.CONFIRMED_BY_GENERATED_ID`` for a sent id of the generated form); count each batch's fresh reads
        again."""
        since = min(r.oldest_ms for r in results if r.oldest_ms is not None)
        until = max(ts for r in results for ts in r.newest.values())
        if until - since <= sql.TIME_LOOKUP_MS:
            found = self._pairs(sql.CONFIRMED_BY_TIME, {**params, "since_ms": since, "until_ms": until})
        else:
            found = self._pairs(sql.CONFIRMED_BY_PLATE, params)
        if len(found) < candidates:
            left = self._rows(sql.UNCONFIRMED, {"confirmed": _ch_pairs(found)})
            ids = [(int(owner), str(rid)) for owner, _sent, rid in left]
            found.extend(self._pairs(sql.CONFIRMED_BY_READ_ID, {**params, "ids": _ch_pairs(ids)}))
            looks_generated = [(int(o), str(s)) for o, s, _rid in left if sql.GENERATED_ID.fullmatch(str(s))]
            if looks_generated:
                found.extend(self._pairs(sql.CONFIRMED_BY_GENERATED_ID, {**params, "ids": _ch_pairs(looks_generated)}))
            found = sorted(set(found))
        if not found:
            return
        if len(found) == sum(r.stored for r in results):  # every read of the pass was sent before
            self._query("TRUNCATE TABLE staging.fresh")
            for result in results:
                result.stored = 0
            return
        self._query(
            f"ALTER TABLE staging.fresh DELETE WHERE hit AND (owner, {sql.EFFECTIVE_READ_ID}) IN "
            "{found:Array(Tuple(UInt32, String))}",
            {"found": _ch_pairs(found)},
        )
        stored = {int(b): int(c) for b, c in self._rows("SELECT batch, count() FROM staging.fresh GROUP BY batch")}
        for number, result in enumerate(results):
            result.stored = stored.get(number, 0)

    def _pairs(self, statement: str, params: dict[str, Any]) -> list[tuple[int, str]]:
        return [(int(owner), str(rid)) for owner, rid in self._rows(statement, params)]

    def _insert(self, committed: int) -> None:
        """4. Reads first, then keys: a crash between the two is repaired by _reconcile_keys at start-up, and a
        failure between them by the next pass."""
        self._query(
            f"INSERT INTO reads ({sql.STORED_COLUMNS}) SELECT {sql.STORED_SELECT} FROM staging.fresh "
            "WHERE batch < {committed:UInt32}",
            {"committed": committed},
        )
        self._keys_stale = True
        crashpoint("ingest.mid_insert")
        self._query(
            f"INSERT INTO read_keys SELECT owner, {sql.narrow_key(self._key_bits, 'key')} FROM staging.fresh "
            "WHERE batch < {committed:UInt32}",
            {"committed": committed},
        )
        self._keys_stale = False

    def _count_stored(self, results: list[BatchResult], committed: int, params: dict[str, Any]) -> None:
        """After a failed insert: set each audited batch's ``stored`` to its reads that are in the store."""
        found = {
            int(batch): int(count)
            for batch, count in self._rows(
                "SELECT batch, count() FROM staging.fresh WHERE batch < {committed:UInt32} AND (owner, key) IN "
                f"(SELECT owner, {sql.READ_KEY} FROM reads WHERE owner IN {{owners:Array(UInt32)}}) GROUP BY batch",
                {**params, "committed": committed},
            )
        }
        for number, result in enumerate(results[:committed]):
            result.stored = found.get(number, 0)

    # -- damage -----------------------------------------------------------------------------------------------
    def detached_parts(self) -> list[damage.DetachedPart]:
        """Every detached part of the store's tables (``store/damage.py``)."""
        return damage.detached_parts(self._rows)

    def failed_checks(self) -> list[damage.PartFault]:
        """Attached parts whose checksums fail (reads the whole store)."""
        return damage.failed_checks(self._rows)

    def detach_damaged(self, fault: damage.PartFault) -> None:
        """Detach a part that fails its checksums, as ``broken`` (``store/damage.py``)."""
        with self.writing():
            damage.detach(self._query, self._rows, fault)

    def counts_by_owner(self) -> dict[int, int]:
        """Reads per owner id, between ingest passes (the audit log has every stored batch's outcome)."""
        with self.writing():
            return {int(o): int(c) for o, c in self._rows("SELECT owner, count() FROM reads GROUP BY owner")}

    def _stage_and_validate(self, group: list[_Pending], files: list[Path], params: dict[str, Any]) -> None:
        """The SQL validator: raw lines into ``staging.raw``, then parsed and checked into ``staging.parsed``."""
        # 1. Raw lines of each batch in file order (one stream keeps rowNumberInAllBlocks() the line index).
        if "raw" not in self._staged:
            self._query(
                "CREATE TABLE staging.raw (idx UInt64, batch UInt32, owner UInt32, source LowCardinality(String), "
                "line String) ENGINE = Memory"
            )
            self._staged.add("raw")
        for number, (pending, path) in enumerate(zip(group, files, strict=True)):
            self._query(
                "INSERT INTO staging.raw SELECT rowNumberInAllBlocks(), {batch:UInt32}, {owner:UInt32}, "
                f"{{source:String}}, trimRight(line, '\\r') FROM file({self._file_sql(path)}, 'LineAsString') "
                "SETTINGS max_threads = 1, input_format_parallel_parsing = 0",
                {"batch": number, "owner": pending.owner, "source": pending.source},
            )
        # 2. Parse and validate (in parallel).
        self._stage(
            "parsed",
            f"SELECT idx, batch, reason, {sql.STORED_COLUMNS} FROM ({sql.parse_select(sql.NON_BLANK_RAW)})",
            params,
        )

    def _drop_staging(self) -> None:
        """Drop the pass's staging tables, in one statement (each statement has a fixed cost of a few ms)."""
        self._staging_dirty = True
        self._staged.clear()
        self._query(f"DROP TABLE IF EXISTS {', '.join(f'staging.{t}' for t in STAGING_TABLES)} SYNC")
        self._staging_dirty = False

    # -- queries (through a gate decision only) --------------------------------------------------------------
    def plate_history(self, permit: OwnerWindows, query: PlateQuery) -> list[StoredRead]:
        """Reads matching ``query`` from the owners and time windows ``permit`` allows, sorted by time."""
        owner_clause = permit.sql_clause()
        if owner_clause is None:
            return []
        statement, params = plate_sql(query, owner_clause)
        return stored_reads(self._columns(statement, params))

    def area_reads(self, permit: OwnerWindows, query: AreaQuery) -> list[StoredRead]:
        """Reads inside ``query``'s circle or polygon and time window, from the owners and windows ``permit``
        allows, ordered by (time, owner, read id), at most ``query.limit``."""
        owner_clause = permit.sql_clause()
        if owner_clause is None:
            return []
        statement, params = area_sql(query, owner_clause)
        return stored_reads(self._columns(statement, params))

    def warm_up(self) -> None:
        """Load what a plate search reads of every part (marks, primary key), answering nothing."""
        self._query(WARM_SQL, fmt="Null")

    # -- statistics -------------------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._scalar("SELECT count() FROM reads"))

    def key_count(self) -> int:
        """Keys in ``read_keys`` (one per stored read while the two agree)."""
        return int(self._scalar("SELECT count() FROM read_keys"))

    def bytes_on_disk(self) -> int:
        return int(
            self._scalar(
                "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = currentDatabase() "
                "AND table IN ('reads', 'read_keys')"
            )
            or 0
        )

    # -- retention --------------------------------------------------------------------------------------------
    def expire(
        self,
        limits: Mapping[int, Expiry],
        held: Iterable[tuple[int, str]] = (),
        *,
        before_delete: Callable[[dict[int, ExpiryCount]], None] | None = None,
        settle_s: float = 60.0,
    ) -> ExpiryResult:
        """Delete, for each owner id in ``limits``, its reads past its limits; ``held`` lists (owner id, read id)
        of the reads linked to an alert or a case. Returns the counts per owner with reads among them.

        The reads are counted first; ``before_delete`` gets the counts (it audits them) and, if it raises, nothing
        is deleted. Counting, ``before_delete`` and the deletion run under the store's write lock, so no pass lands in
        between and the counts are exactly what is deleted.

        Deletion is a mutation (``ALTER TABLE ... DELETE``), which rewrites every part holding an expired read
        without it, not a lightweight ``DELETE`` (which only masks rows). One mutation serves all owners: reads are
        ordered by plate, so nearly every part holds some expired reads of every owner, and a mutation per owner
        would rewrite the table once per owner. The superseded parts are then removed from disk by the table's
        cleanup thread (``sql.PART_SETTINGS``); this waits up to ``settle_s`` seconds for them to go and reports
        how many were left.
        """
        owners = sorted(limits)
        params: dict[str, Any] = {
            "owners": _ch_ints(owners),
            "cutoffs": _ch_ints(limits[o].cutoff_ms for o in owners),
            "hit_cutoffs": _ch_ints(limits[o].hit_cutoff_ms for o in owners),
            "held": "[" + ",".join(f"({int(o)},{_ch_string(r)})" for o, r in sorted(set(held))) + "]",
        }
        mine = "owner IN {owners:Array(UInt32)}"
        with self.writing():
            rows = self._rows(
                f"SELECT owner, count(), countIf({sql.EXPIRED}), countIf({sql.KEPT_BY_HOLD}) FROM reads "
                f"WHERE {mine} GROUP BY owner ORDER BY owner",
                params,
            )
            counts = {int(r[0]): ExpiryCount(stored=int(r[1]), expired=int(r[2]), held=int(r[3])) for r in rows}
            if before_delete is not None:
                before_delete(counts)
            if any(c.expired for c in counts.values()):
                crashpoint("retention.audited")
                self._delete_expired(params)
        deadline = time.monotonic() + (settle_s if any(c.expired for c in counts.values()) else 0.0)
        while True:
            outdated = self.outdated_parts()
            if outdated == 0 or time.monotonic() >= deadline:
                return ExpiryResult(counts, outdated)
            time.sleep(0.05)

    @property
    def _expiry_journal(self) -> Path:
        return self.path / "expiry-pending.json"

    def _delete_expired(self, params: dict[str, Any]) -> None:
        """Delete the expired reads and their keys, journalled: the condition's parameters are written (and
        synced) to ``expiry-pending.json`` first and removed once both mutations are done, so a crash between
        them is completed on the next open (:meth:`_finish_expiry`) with the same condition. Both mutations are
        idempotent: run again, they delete what is left of the same set. Keys first, computed from the reads they
        stand for (the keys of reads already deleted cannot be found again)."""
        journal = self._expiry_journal
        with tempfile.NamedTemporaryFile(dir=self.path, delete=False) as handle:
            handle.write(orjson.dumps(params))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, journal)
        mine = "owner IN {owners:Array(UInt32)}"
        key = sql.narrow_key(self._key_bits)
        expired_keys = f"(SELECT owner, {key} FROM reads WHERE {mine} AND {sql.EXPIRED})"
        self._query(
            f"ALTER TABLE read_keys DELETE WHERE {mine} AND (owner, key) IN {expired_keys} SETTINGS mutations_sync = 2",
            params,
        )
        # A kept read with the same key as an expired one (keys are narrower than read ids) lost its key row too.
        self._query(
            f"INSERT INTO read_keys SELECT owner, {key} FROM reads WHERE {mine} AND NOT {sql.EXPIRED} "
            f"AND (owner, {key}) IN {expired_keys}",
            params,
        )
        crashpoint("retention.keys_deleted")
        self._query(f"ALTER TABLE reads DELETE WHERE {mine} AND {sql.EXPIRED} SETTINGS mutations_sync = 2", params)
        journal.unlink()

    def _finish_expiry(self) -> None:
        """Complete a deletion a crash interrupted (its journal is still there), before anything else runs."""
        try:
            params = orjson.loads(self._expiry_journal.read_bytes())
        except FileNotFoundError:
            return
        self._delete_expired(params)

    def outdated_parts(self) -> int:
        """Superseded parts of ``reads`` and ``read_keys`` not yet removed from disk."""
        return int(
            self._scalar(
                "SELECT count() FROM system.parts WHERE NOT active AND database = currentDatabase() "
                "AND table IN ('reads', 'read_keys')"
            )
        )

    def count_by_owner_since(self, owner: int, since_ms: int, *, until_ms: int | None = None) -> int:
        """How many reads ``owner`` took at or after ``since_ms`` (and before ``until_ms``, when given): a count
        for transparency reports; no read leaves the store, so no Permit is needed."""
        statement = (
            "SELECT count() FROM reads WHERE owner = {owner:UInt32} "
            "AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')"
        )
        params: dict[str, Any] = {"owner": owner, "since": since_ms}
        if until_ms is not None:
            statement += " AND ts < fromUnixTimestamp64Milli({until:Int64}, 'UTC')"
            params["until"] = until_ms
        return int(self._scalar(statement, params))

    # -- subject requests -------------------------------------------------------------------------------------
    def plate_months(
        self, owner: int, plate: str, regions: Collection[str], held_ids: Collection[str] = ()
    ) -> list[tuple[str, int, int]]:
        """For a subject request's letter (``plateledger.subjects``): per calendar month (``YYYY-MM``, UTC) the
        reads ``owner`` holds of exactly ``plate`` with a region in ``regions`` (``''``: none recorded), and how
        many of them are among ``held_ids`` (read ids). Counts only: no read leaves the store. The caller is the
        owner's own admin answering the registered keeper, authorised by the actions table and audited."""
        params: dict[str, Any] = {
            "owner": owner,
            "key": confusable_key(plate),
            "plate": plate,
            "regions": ch_array(sorted(regions)),
            "held": ch_array(sorted(held_ids)),
        }
        rows = self._rows(
            "SELECT formatDateTime(ts, '%Y-%m', 'UTC') AS month, count(), "
            f"countIf({sql.EFFECTIVE_READ_ID} IN {{held:Array(String)}}) FROM reads "
            "WHERE plate_key = {key:String} AND plate = {plate:String} AND owner = {owner:UInt32} "
            "AND region IN {regions:Array(String)} GROUP BY month ORDER BY month SETTINGS max_threads = 1",
            params,
        )
        return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]

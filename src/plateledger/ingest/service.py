"""Ingest service: batches of canonical reads from files (CLI) and HTTP, each batch audited with its counts.

A body an entry point received (``POST /api/v1/reads`` here, vendor payloads in ``ingest/vendor.py``) is handed
over whole with the credential's principal: the checks (a device token, the size, the shape) and the audit of a
refusal (``ingest.refused``) happen here, the same for every door.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import orjson

from plateledger.agencies.registry import Registry
from plateledger.alerts.matcher import Matcher
from plateledger.audit.events import IngestIntent, IngestRefused, ReadsIngested
from plateledger.audit.log import Actor, AuditLog
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock
from plateledger.core.errors import (
    AuditUnavailable,
    InvalidInput,
    PayloadTooLarge,
    PermissionDenied,
    PlateledgerError,
    StorageFull,
)
from plateledger.core.settings import Settings
from plateledger.core.text import UTF8_BOM
from plateledger.ingest.canonical import CsvConverter, jsonl_blocks, open_input
from plateledger.ingest.expiring import count_older
from plateledger.policy.actions import Action, allowed
from plateledger.policy.rules import DAY_MS
from plateledger.store.models import Agency
from plateledger.store.reads import BatchResult, ReadsStore

Progress = Callable[[int], None]
#: Stores one block of canonical lines for an owner, as ``Ingestor.store_block`` does (``Quarantine.store_block``
#: holds the reads of unknown cameras first): (actor, owner, block, channel, source) -> result.
BlockStore = Callable[[Actor, Agency, bytes, str, str], BatchResult]


def require_device(principal: Principal) -> None:
    """Only a device token ingests reads, as the authorisation table says (PermissionDenied otherwise). Callers
    audit the refusal as ``ingest.refused`` (:meth:`Ingestor.refusals`), the entry every ingest door writes."""
    decision = allowed(principal, Action.INGEST, principal.agency_id)
    if not decision.allowed:
        raise PermissionDenied(decision.reason)


class Ingestor:
    def __init__(
        self,
        *,
        reads: ReadsStore,
        registry: Registry,
        audit: AuditLog,
        clock: Clock,
        settings: Settings,
        matcher: Matcher | None = None,
        retention_days: Callable[[int], int] | None = None,
        saw_reads: Callable[[int, Mapping[str, int]], None] | None = None,
    ) -> None:
        #: Records the newest read time per camera of each stored batch (``Health.saw_reads``): every door's
        #: reads count as a camera's last read, not only the vendor adapters'.
        self._saw_reads = saw_reads
        #: The owner's retention in days (``Retention.limit_days``): reads older are counted as a warning.
        self._retention_days = retention_days
        self._reads = reads
        self._matcher = matcher
        self._registry = registry
        self._audit = audit
        self._clock = clock
        self._settings = settings

    def store_lines(
        self,
        actor: Actor,
        owner: Agency,
        lines: list[bytes],
        *,
        channel: str,
        source: str,
        before_alerts: Callable[[BatchResult], None] | None = None,
    ) -> BatchResult:
        """Store reads given as one JSON object per list item (no raw newlines: JSON encoders escape them);
        rejections are indexed by list position. ``before_alerts`` runs after the batch is committed and before
        its hot-list alerts are raised (the vendor door stores the reads' images there, so that an alert's image
        is stored before the alert is published)."""
        return self.store_block(
            actor, owner, b"\n".join(lines), channel=channel, source=source, before_alerts=before_alerts
        )

    def store_block(
        self,
        actor: Actor,
        owner: Agency,
        block: bytes,
        *,
        channel: str,
        source: str,
        before_alerts: Callable[[BatchResult], None] | None = None,
        decoded: Sequence[Any] | None = None,
    ) -> BatchResult:
        """Validate and store one block of JSON lines for ``owner`` (``decoded``: the lines' values, when the block
        is each of them encoded by orjson: typed without decoding them again). The audit log records outcomes: a
        batch with reads to insert gets an ``ingest.intent`` entry after validation and before the insert (if it
        cannot be written, nothing of the batch is stored) and an ``ingest.batch`` entry after it with what was
        stored (a failed insert: ``failed``, with the reads really stored); a batch with nothing to insert gets its
        ``ingest.batch`` entry alone. A batch whose process stopped in between is completed at the next start-up
        (``ingest/reconcile.py``). A full disk raises StorageFull."""
        intents: dict[str, tuple[int, int]] = {}  # batch reference -> (intent entry, reads it announced)

        def outcome(result: BatchResult, error: BaseException | None = None) -> None:
            self._audit.append(
                actor,
                ReadsIngested(
                    outcome="ok" if error is None else "failed",
                    owner=owner.slug,
                    channel=channel,
                    source=source,
                    stored=result.stored,
                    duplicates=result.duplicates,
                    rejected=len(result.rejected),
                    intent=intents[result.intent][0] if result.intent in intents else None,
                    not_stored=intents[result.intent][1] - result.stored if result.intent in intents else 0,
                    error="" if error is None else str(error)[:300],
                ),
            )

        def audit(result: BatchResult) -> None:
            if not result.stored:
                outcome(result)
                return
            intents[result.intent] = (
                self._audit.append(
                    actor,
                    IngestIntent(
                        owner=owner.slug,
                        channel=channel,
                        source=source,
                        batch=result.intent,
                        to_store=result.stored,
                        duplicates=result.duplicates,
                        rejected=len(result.rejected),
                    ),
                ),
                result.stored,
            )

        if not block.strip():  # nothing to store, but the request is still on the record
            audit(BatchResult())
            return BatchResult()
        now_ms = self._clock.now_ms()
        if self._matcher is not None:
            self._matcher.sync(now_ms)
        result = self._reads.ingest_block(
            block,
            owner=owner.id,
            cameras=self._registry.cameras_unguarded(owner.id),
            country=owner.country,
            now_ms=now_ms,
            future_tolerance_ms=self._settings.future_tolerance_s * 1000,
            max_read_bytes=self._settings.max_read_bytes,
            source=source,
            before_commit=audit,
            after_commit=outcome,
            decoded=decoded,
        )
        # Released quarantine reads are old reads of another id, not the camera's flow: not its last read.
        if self._saw_reads is not None and result.newest and channel != "quarantine":
            self._saw_reads(owner.id, result.newest)
        if before_alerts is not None:  # e.g. the reads' images: stored before any alert of them is published
            before_alerts(result)
        # Hot-list alerts of the reads just stored, inline: after the batch is committed and audited, in order.
        if result.matches and self._matcher is not None:
            self._matcher.process(result.matches)
        if self._retention_days is not None and result.stored:
            result.retention_days = self._retention_days(owner.id)
            cutoff_ms = now_ms - result.retention_days * DAY_MS
            # Without rejections the store's oldest valid time bounds every line's: no older line, no scan.
            if result.rejected or result.oldest_ms is None or result.oldest_ms < cutoff_ms:
                result.past_retention = count_older(block, cutoff_ms)
        return result

    def _store_block(self, actor: Actor, owner: Agency, block: bytes, channel: str, source: str) -> BatchResult:
        return self.store_block(actor, owner, block, channel=channel, source=source)

    def ingest_json_body(
        self, principal: Principal, body: bytes, *, declared: int | None = None, store: BlockStore | None = None
    ) -> BatchResult:
        """POST /api/v1/reads: a JSON array of canonical reads from a device of the owner agency (the owner comes
        from the credential); ``declared``: the length the request declared, where it did. A refused body (not a
        device, too large, malformed) is audited and refused whole. ``store``: how the block is stored (default
        ``store_block``; ``Quarantine.store_block`` holds reads of unknown cameras)."""
        with self.refusals(principal.actor):
            require_device(principal)
            self.check_size(body, declared)
            block, reads = self._split_body(body)
        owner = self._registry.agency_by_id(principal.agency_id)
        if store is not None:
            return store(principal.actor, owner, block, "http", "api")
        # The reads as decoded from the body go along: the store types them without decoding each line again.
        return self.store_block(principal.actor, owner, block, channel="http", source="api", decoded=reads)

    @contextmanager
    def refusals(self, actor: Actor, prefix: str = "") -> Iterator[None]:
        """Audit a refusal raised inside (``ingest.refused``, its reason after ``prefix``), then raise it on. An
        audit log that cannot be written is raised as it is: nothing was accepted."""
        try:
            yield
        except (AuditUnavailable, StorageFull):  # not a refusal of the input: nothing to audit it with
            raise
        except PlateledgerError as refusal:
            self._audit.append(actor, IngestRefused(reason=f"{prefix}{refusal.detail}"[:300]))
            raise

    def check_size(self, body: bytes, declared: int | None = None) -> None:
        """PayloadTooLarge for a body over ``max_body_bytes``, or declared so (an entry point reads at most one
        byte more than the limit, and nothing of a body declared larger)."""
        if max(len(body), declared or 0) > self._settings.max_body_bytes:
            raise PayloadTooLarge(f"body larger than {self._settings.max_body_bytes} bytes")

    def _split_body(self, body: bytes) -> tuple[bytes, list[Any]]:
        """The body's reads as JSON lines, each orjson's encoding of the read, and the reads as decoded."""
        self.check_size(body)
        try:
            data: Any = orjson.loads(body.removeprefix(UTF8_BOM))
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"body is not valid JSON: {exc.msg} at position {exc.pos}") from None
        if not isinstance(data, list):
            raise InvalidInput("body must be a JSON array of reads")
        if len(data) > self._settings.max_batch_reads:
            raise PayloadTooLarge(f"at most {self._settings.max_batch_reads} reads per request, got {len(data)}")
        lines = []
        for index, item in enumerate(data):
            try:
                lines.append(orjson.dumps(item))
            except orjson.JSONEncodeError:
                raise InvalidInput(f"read {index}: nested too deeply to be a read") from None
        return b"\n".join(lines), data

    def ingest_file(
        self,
        actor: Actor,
        owner: Agency,
        path: Path,
        *,
        fmt: Literal["jsonl", "csv"],
        mapping: dict[str, str] | None = None,
        ts_format: str | None = None,
        tz: str = "UTC",
        progress: Progress | None = None,
        store: BlockStore | None = None,
    ) -> BatchResult:
        """Ingest one JSONL or CSV file (gzip accepted) in chunks. Rejections are indexed from 0 by JSONL line
        (blank lines keep their number but are not reads) or by CSV data row. A file that cannot be opened or
        read to its end is refused (audited as ``ingest.refused``; chunks before the damage stay stored)."""
        total = BatchResult()
        with self.refusals(actor, prefix=f"{fmt}: "), open_input(path) as handle:
            blocks: Iterator[tuple[bytes, int]]
            if fmt == "csv":
                rows = CsvConverter(mapping or {}, ts_format, tz).lines(handle, self._settings.ingest_chunk_reads)
                blocks = ((b"\n".join(batch), len(batch)) for batch in rows)
            else:
                blocks = jsonl_blocks(handle, self._settings.ingest_chunk_bytes)
            offset = 0
            try:
                for block, lines in blocks:
                    result = (store or self._store_block)(actor, owner, block, "file", fmt)
                    result.rejected = [(offset + i, reason) for i, reason in result.rejected]
                    total.add(result)
                    offset += lines
                    if progress:
                        progress(lines)
            except (OSError, EOFError, zlib.error, csv.Error) as exc:
                # A damaged file: what came before the damage is stored (and audited chunk by chunk).
                raise InvalidInput(
                    f"{path}: unreadable after {offset} {'rows' if fmt == 'csv' else 'lines'} "
                    f"({exc.__class__.__name__}: {exc}); "
                    f"{total.stored} reads before it were stored, {total.duplicates} were duplicates"
                ) from None
        return total

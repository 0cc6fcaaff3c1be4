"""Ingest service: batches of canonical reads from files (CLI) and HTTP, each batch audited with its counts."""

from __future__ import annotations

import csv
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import orjson

from plateledger.agencies.registry import Registry
from plateledger.audit.events import IngestRefused, ReadsIngested
from plateledger.audit.log import Actor, AuditLog
from plateledger.core.clock import Clock
from plateledger.core.errors import InvalidInput, PayloadTooLarge, PlateledgerError
from plateledger.core.settings import Settings
from plateledger.core.text import UTF8_BOM
from plateledger.hotlists.matcher import Matcher
from plateledger.ingest.canonical import CsvConverter, jsonl_blocks, open_input
from plateledger.ingest.expiring import count_older
from plateledger.policy.rules import DAY_MS
from plateledger.store.models import Agency
from plateledger.store.reads import BatchResult, ReadsStore

Progress = Callable[[int], None]
#: Stores one block of canonical lines for an owner, as ``Ingestor.store_block`` does (``Quarantine.store_block``
#: holds the reads of unknown cameras first): (actor, owner, block, channel, source) -> result.
BlockStore = Callable[[Actor, Agency, bytes, str, str], BatchResult]


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
    ) -> None:
        #: The owner's retention in days (``Retention.limit_days``): reads older are counted as a warning.
        self._retention_days = retention_days
        self._reads = reads
        self._matcher = matcher
        self._registry = registry
        self._audit = audit
        self._clock = clock
        self._settings = settings

    def store_lines(self, actor: Actor, owner: Agency, lines: list[bytes], *, channel: str, source: str) -> BatchResult:
        """Store reads given as one JSON object per list item (no raw newlines: JSON encoders escape them);
        rejections are indexed by list position."""
        return self.store_block(actor, owner, b"\n".join(lines), channel=channel, source=source)

    def store_block(self, actor: Actor, owner: Agency, block: bytes, *, channel: str, source: str) -> BatchResult:
        """Validate and store one block of JSON lines for ``owner``. The batch's audit entry is committed after
        validation and before the insert: if the audit log cannot be written, nothing of the batch is stored."""

        def audit(result: BatchResult) -> None:
            self._audit.append(
                actor,
                ReadsIngested(
                    owner=owner.slug,
                    channel=channel,
                    source=source,
                    stored=result.stored,
                    duplicates=result.duplicates,
                    rejected=len(result.rejected),
                ),
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
            cameras=self._registry.cameras(owner.id),
            country=owner.country,
            now_ms=now_ms,
            future_tolerance_ms=self._settings.future_tolerance_s * 1000,
            max_read_bytes=self._settings.max_read_bytes,
            source=source,
            before_commit=audit,
        )
        # Hot-list alerts of the reads just stored, inline: after the batch is committed and audited, in order.
        if result.matches and self._matcher is not None:
            self._matcher.process(result.matches)
        if self._retention_days is not None and result.stored:
            result.retention_days = self._retention_days(owner.id)
            result.past_retention = count_older(block, now_ms - result.retention_days * DAY_MS)
        return result

    def _store_block(self, actor: Actor, owner: Agency, block: bytes, channel: str, source: str) -> BatchResult:
        return self.store_block(actor, owner, block, channel=channel, source=source)

    def ingest_json_body(
        self, actor: Actor, owner: Agency, body: bytes, *, store: BlockStore | None = None
    ) -> BatchResult:
        """POST /api/v1/reads: a JSON array of canonical reads. A malformed body is refused whole (audited).
        ``store``: how the block is stored (default ``store_block``)."""
        try:
            block = self._split_body(body)
        except PlateledgerError as refusal:
            self._audit.append(actor, IngestRefused(reason=refusal.detail[:300]))
            raise
        return (store or self._store_block)(actor, owner, block, "http", "api")

    def _split_body(self, body: bytes) -> bytes:
        if len(body) > self._settings.max_body_bytes:
            raise PayloadTooLarge(f"body larger than {self._settings.max_body_bytes} bytes")
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
        return b"\n".join(lines)

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
        (blank lines keep their number but are not reads) or by CSV data row."""
        total = BatchResult()
        with open_input(path) as handle:
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

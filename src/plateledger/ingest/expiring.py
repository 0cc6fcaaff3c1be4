"""Reads older than their owner's retention, counted at ingest so that whoever imports them is told.

A historic import (another system's export, a camera's backlog) may hold reads older than the owner's retention
limit. They are stored like any read, and the next retention run deletes them; ingest says so in its answer (the
CLI's output, the API's ``warnings``) instead of letting them vanish without a word. Counted among the batch's
lines as sent (a line the store rejects is counted too; de-duplicated re-sends are not told apart), from ``ts``
as the canonical read gives it: epoch milliseconds or ISO 8601 with a zone.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from plateledger.core.clock import parse_iso_ms
from plateledger.store.reads import BatchResult
from plateledger.store.sql import EARLIEST_MS


@dataclass(frozen=True)
class Expiring:
    """Reads of a batch older than the owner's retention: how many, and the limit they are past."""

    count: int
    retention_days: int
    code: str = "older_than_retention"

    def message(self) -> str:
        return (
            f"{self.count} read(s) are older than the owner's retention of {self.retention_days} days: "
            "the next retention run deletes them (unless an alert or case holds them)"
        )


def warnings(result: BatchResult) -> list[Expiring]:
    """What the importer of ``result`` should be told: the reads the next retention run deletes."""
    if not result.past_retention or result.retention_days is None:
        return []
    return [Expiring(result.past_retention, result.retention_days)]


def _ts_ms(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return parse_iso_ms(value.strip())
        except ValueError:
            return None
    return None


def count_older(block: bytes, cutoff_ms: int) -> int:
    """Lines of ``block`` (canonical reads, one JSON object per line) whose ``ts`` is before ``cutoff_ms``."""
    count = 0
    for line in block.split(b"\n"):
        if b'"ts"' not in line:
            continue
        try:
            read = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        ts = _ts_ms(read.get("ts")) if isinstance(read, dict) else None
        if ts is not None and EARLIEST_MS <= ts < cutoff_ms:
            count += 1
    return count

"""Readiness: whether this instance can take writes and answer truthfully now (``GET /readyz``).

Liveness (``/healthz``) only says the process answers. Readiness runs named checks, each cheap except the
checksum verification, which runs at most every ``integrity_check_interval_s`` seconds (its last result is
reused in between):

* ``reads_store``: the reads store answers and its directory takes a file;
* ``audit_appendable``: the governance database takes a write lock on the audit log's head (rolled back);
* ``parts``: no part detached as broken, no part failing its checksums, no owner with reads missing;
* ``disk``: the data directory's disk has at least ``ready_min_free_bytes`` free;
* ``checkpoint``: every audit entry older than ``checkpoint_stale_s`` is in a published (witnessed) checkpoint:
  a log whose checkpoints stop being signed or cosigned is one outsiders can no longer verify.

A damage finding is an alarm: logged at ERROR (once per distinct finding) and counted in the metrics.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from plateledger.core.clock import Clock
from plateledger.core.settings import Settings
from plateledger.ops.damage import Damage, inspect
from plateledger.store.damage import PartFault
from plateledger.store.governance import Governance
from plateledger.store.models import AuditEntry, AuditHead
from plateledger.store.reads import ReadsStore

log = logging.getLogger("plateledger.integrity")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class Readiness:
    checks: list[Check]
    damage: Damage

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not ready",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail, "seconds": round(c.seconds, 6)} for c in self.checks},
        }


@dataclass
class Integrity:
    """Damage inspection and readiness of one opened platform."""

    reads: ReadsStore
    governance: Governance
    settings: Settings
    clock: Clock
    #: The audit tree's size and the size of its latest published checkpoint (None: none yet); set by the platform
    #: once its checkpointer exists. Unset: the ``checkpoint`` check fails (nothing says the log is witnessed).
    log_sizes: Callable[[], tuple[int, int | None]] | None = None
    _deep: Damage | None = None
    _deep_at_ms: int = 0
    _alarmed: set[str] = field(default_factory=set)

    def inspect(self, *, deep: bool) -> Damage:
        """What is damaged now (``ops/damage.py``); findings not alarmed before are logged at ERROR."""
        damage = inspect(self.reads, self.governance, deep=deep)
        if deep:
            self._deep, self._deep_at_ms = damage, self.clock.now_ms()
        self.alarm(damage)
        return damage

    def detach_damaged(self) -> list[PartFault]:
        """Detach every part failing its checksums, as broken (searches then stop failing on it; the part and
        the reads it held are reported as a broken part and missing reads). Returns the parts detached."""
        faults = self.reads.failed_checks()
        for fault in faults:
            self.reads.detach_damaged(fault)
            log.error("DAMAGE: detached %s/%s as broken (it failed its checksums)", fault.table, fault.part)
        return faults

    def alarm(self, damage: Damage) -> None:
        for line in damage.lines():
            if line not in self._alarmed:
                self._alarmed.add(line)
                log.error("DAMAGE: %s (run `plateledger doctor` for what to do)", line)

    def _damage(self) -> Damage:
        """The last deep inspection when recent enough, with the detached parts looked for again."""
        interval_ms = self.settings.integrity_check_interval_s * 1000
        if self._deep is None or self.clock.now_ms() - self._deep_at_ms >= interval_ms:
            return self.inspect(deep=True)
        damage = inspect(self.reads, self.governance, deep=False)
        damage.faults, damage.gaps, damage.deep = self._deep.faults, self._deep.gaps, True
        self.alarm(damage)
        return damage

    def readiness(self) -> Readiness:
        checks: list[Check] = []
        damage = Damage()

        def run(name: str, probe: Any) -> None:
            start = time.perf_counter()
            try:
                ok, detail = probe()
            except Exception as error:  # noqa: BLE001 - a failing probe is the answer, named
                ok, detail = (
                    False,
                    f"{error.__class__.__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}",
                )
            checks.append(Check(name, ok, detail, time.perf_counter() - start))

        def reads_store() -> tuple[bool, str]:
            self.reads.count()
            probe = self.reads.path / ".ready-probe"
            with open(probe, "wb") as handle:
                handle.write(b"ok")
                handle.flush()
                os.fsync(handle.fileno())
            probe.unlink()
            return True, "answers and writable"

        def audit_appendable() -> tuple[bool, str]:
            try:
                with self.governance.engine.connect() as connection:
                    connection.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
                    connection.rollback()
            except SQLAlchemyError as error:
                first = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
                return False, f"governance database refuses a write: {first}"
            return True, "governance database takes writes"

        def parts() -> tuple[bool, str]:
            nonlocal damage
            damage = self._damage()
            if not damage.found:
                return True, "no broken or damaged part; counts agree with the audit log"
            return False, "; ".join(damage.lines())[:1000]

        def disk() -> tuple[bool, str]:
            free = shutil.disk_usage(self.settings.data).free
            need = self.settings.ready_min_free_bytes
            return free >= need, f"{free} bytes free (at least {need} required)"

        def checkpoint() -> tuple[bool, str]:
            if self.log_sizes is None:
                return False, "no checkpointer"
            size, published = self.log_sizes()
            covered = published or 0
            if size <= covered:
                return True, f"the published checkpoint covers every entry ({size})"
            with self.governance.engine.connect() as connection:
                oldest = connection.scalar(select(AuditEntry.ts_ms).where(AuditEntry.seq == covered + 1))
            age_s = max(0, self.clock.now_ms() - (oldest if oldest is not None else self.clock.now_ms())) // 1000
            limit = self.settings.checkpoint_stale_s
            return age_s <= limit, (
                f"{size - covered} entries not yet in a published checkpoint, the oldest {age_s} s old "
                f"(at most {limit} s)"
            )

        run("reads_store", reads_store)
        run("audit_appendable", audit_appendable)
        run("parts", parts)
        run("disk", disk)
        run("checkpoint", checkpoint)
        return Readiness(checks, damage)

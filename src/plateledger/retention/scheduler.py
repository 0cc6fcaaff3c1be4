"""The retention job of ``plateledger serve``: a background thread that runs retention every interval.

It runs once when started, then every ``interval_s`` seconds, audited as ``SYSTEM``. A failed run (the audit log
unavailable, the store refusing) is logged and retried at the next interval; it never stops the server.
:meth:`RetentionJob.stop` wakes the thread and waits for it, letting a run in progress finish first, so the
stores are never closed under a deletion.
"""

from __future__ import annotations

import logging

from plateledger.audit.log import SYSTEM
from plateledger.core.jobs import PeriodicJob
from plateledger.retention.service import Retention, RetentionReport

log = logging.getLogger(__name__)


class RetentionJob(PeriodicJob):
    thread_name = "plateledger-retention"

    def __init__(self, retention: Retention, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive (0 disables the job: do not start one)")
        super().__init__(interval_s)
        self._retention = retention
        self._interval_s = interval_s
        #: Runs completed and failed since start (for tests and diagnostics).
        self.runs = 0
        self.failures = 0
        self.last: RetentionReport | None = None

    def tick(self) -> None:
        self.run_once()

    def run_once(self) -> None:
        """One run; errors are logged, not raised (the server keeps serving)."""
        try:
            report = self._retention.run(SYSTEM)
        except Exception:  # any failure is logged and retried at the next interval
            self.failures += 1
            log.exception("retention run failed; retrying in %s s", self._interval_s)
            return
        self.runs += 1
        self.last = report
        log.info("retention run: %s reads deleted (audit entry %s)", report.deleted, report.audit_seq)
        if report.outdated_parts:
            log.warning("retention run: %s superseded parts still on disk", report.outdated_parts)

"""The oversight job of ``plateledger serve``: a background thread that runs the live oversight rules.

Every ``poll_s`` seconds it reads the audit entries appended since its cursor (:meth:`LiveRules.step`, a batch at a
time until none is left) and stores the flags they raise. Requests never wait for it and never fail because of
it; a failed step is logged and tried again at the next poll (the cursor moves only with the flags it wrote).
"""

from __future__ import annotations

import logging

from plateledger.core.jobs import PeriodicJob
from plateledger.review.live import LiveRules

log = logging.getLogger("plateledger.review")


class OversightJob(PeriodicJob):
    thread_name = "plateledger-oversight"

    def __init__(self, live: LiveRules, *, poll_s: float = 1.0) -> None:
        super().__init__(poll_s)
        self._live = live
        self._poll_s = poll_s
        #: Entries read and failed steps since start (for tests and diagnostics).
        self.read = 0
        self.failures = 0

    def tick(self) -> None:
        self.run_once()

    def run_once(self) -> None:
        """Read every entry appended since the cursor; errors are logged, not raised (the server keeps serving)."""
        try:
            while not self.stopping and (read := self._live.step()):
                self.read += read
        except Exception:  # any failure is logged and tried again at the next poll
            self.failures += 1
            log.exception("oversight rules: step failed; trying again in %s s", self._poll_s)

"""The checkpoint job of ``plateledger serve``: a background thread that signs and witnesses checkpoints.

It looks at the tree head every second (one row read) and runs :meth:`Checkpointer.checkpoint` when
``checkpoint_every_entries`` entries were added since the last signed checkpoint, or when
``checkpoint_interval_s`` seconds passed since its last run and entries were added meanwhile or the last
checkpoint is still unpublished (its witnesses are retried). The first look is when it starts. A failed run is
logged and retried at the next interval: requests never wait for it and never fail because of it.
"""

from __future__ import annotations

import logging
import time

from plateledger.audit.checkpoints import Checkpointer, CheckpointRun
from plateledger.core.jobs import PeriodicJob

log = logging.getLogger("plateledger.audit.checkpoints")


class CheckpointJob(PeriodicJob):
    thread_name = "plateledger-checkpoints"

    def __init__(
        self, checkpointer: Checkpointer, *, every_entries: int, interval_s: float, poll_s: float = 1.0
    ) -> None:
        super().__init__(poll_s)
        self._checkpointer = checkpointer
        self._every = every_entries
        self._interval_s = interval_s
        self._last_run = -float("inf")
        #: Runs completed and failed since start (for tests and diagnostics).
        self.runs = 0
        self.failures = 0
        self.last: CheckpointRun | None = None

    def tick(self) -> None:
        try:
            if self._is_due():
                self.run_once()
        except Exception:  # the head could not be read: logged, looked at again later
            log.exception("checkpoint job: cannot read the tree head")
            self._last_run = time.monotonic()

    def _is_due(self) -> bool:
        added, unpublished = self._checkpointer.due()
        if added >= self._every:
            return True
        timed = self._interval_s > 0 and time.monotonic() - self._last_run >= self._interval_s
        return timed and (added > 0 or unpublished)

    def run_once(self) -> None:
        """One checkpoint run; errors are logged, not raised (the server keeps serving)."""
        self._last_run = time.monotonic()
        try:
            self.last = self._checkpointer.checkpoint()
        except Exception:  # any failure is logged and retried at the next interval
            self.failures += 1
            log.exception("checkpoint failed; retrying in %s s", self._interval_s)
            return
        self.runs += 1

"""The background jobs of ``plateledger serve`` (retention, checkpoints, oversight): a daemon thread each that
calls the job's :meth:`PeriodicJob.tick` at once and then every ``period_s`` seconds until stopped."""

from __future__ import annotations

import threading


class PeriodicJob:
    """Subclasses say what a tick does (and log its failures themselves: a tick must not raise, the server keeps
    serving). ``start`` twice is an error; ``stop`` returns once the thread has ended, after the tick in progress."""

    #: The thread's name (shown in logs and thread dumps).
    thread_name = "plateledger-job"

    def __init__(self, period_s: float) -> None:
        self._period_s = period_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.thread_name} already started")
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the tick in progress, if any; returns when the thread has ended."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def tick(self) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.tick()
            self._stopping.wait(self._period_s)

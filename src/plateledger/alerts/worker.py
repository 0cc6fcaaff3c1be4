"""The background thread shared by the alert senders (webhooks, e-mail and push): a queue that never blocks the
ingest thread that raises alerts, and a schedule of attempts retried with exponential backoff.

A subclass turns each offered alert (or notice) into jobs (:meth:`DeliveryWorker._expand`, which calls
:meth:`DeliveryWorker.schedule`) and makes one attempt of a job (:meth:`DeliveryWorker._attempt`, which may
schedule it again). Retries pending when the server stops are not resumed by the next one.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
JobT = TypeVar("JobT")
#: ``listener(agency_id, body)``: how ``Alerts`` (and ``Approvals``) hand over what they raised.
Listener = Callable[[int, dict[str, Any]], None]
Source = Callable[[Listener], None]


class DeliveryWorker(Generic[JobT]):
    #: The thread's name (also in log lines).
    name = "plateledger-delivery"

    def __init__(self, sources: list[Source]) -> None:
        self._sources = sources
        self._incoming: queue.Queue[tuple[int, dict[str, Any]] | None] = queue.Queue()
        self._jobs: list[tuple[float, int, JobT]] = []
        self._seq = itertools.count()
        self._busy = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribed = False

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} already started")
        if not self._subscribed:
            for source in self._sources:
                source(self.offer)
            self._subscribed = True
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the attempt in progress; pending retries are dropped."""
        self._stopping.set()
        self._incoming.put(None)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close()

    def _close(self) -> None:
        """Release what the subclass holds (after the thread has stopped)."""

    def offer(self, agency_id: int, body: dict[str, Any]) -> None:
        """The listener: queue the alert or notice (never blocks)."""
        if not self._stopping.is_set():
            self._incoming.put((agency_id, body))

    def idle(self) -> bool:
        """Nothing queued, scheduled or being sent (for tests and shutdown)."""
        return self._incoming.unfinished_tasks == 0 and not self._jobs and not self._busy

    def wait_idle(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.01)
        return self.idle()

    def schedule(self, job: JobT, delay_s: float = 0.0) -> None:
        """Attempt ``job`` after ``delay_s`` seconds (from the worker's thread)."""
        heapq.heappush(self._jobs, (time.monotonic() + delay_s, next(self._seq), job))

    def _expand(self, agency_id: int, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def _attempt(self, job: JobT) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stopping.is_set():
            wait = max(0.0, self._jobs[0][0] - time.monotonic()) if self._jobs else None
            got = True
            try:
                item = self._incoming.get(timeout=wait)
            except queue.Empty:
                item, got = None, False
            self._busy = True
            try:
                if item is not None:
                    self._expand(*item)
                while self._jobs and self._jobs[0][0] <= time.monotonic() and not self._stopping.is_set():
                    self._attempt(heapq.heappop(self._jobs)[2])
            except Exception:  # a store failure: logged; the server keeps serving
                log.exception("%s: delivery failed", self.name)
            finally:
                self._busy = False
                if got:
                    self._incoming.task_done()

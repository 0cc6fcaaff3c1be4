"""Turns at the reads store's engine: chDB runs one statement at a time per process.

:class:`StatementLock` is held for one statement. It is fair: callers get the engine in the order they asked
for it (a queue of waiters, each woken alone when its turn comes), so a search that arrives while an ingest
pass is running waits for the statement in progress and those queued before it, never for the rest of the
pass. A caller that asks with ``first=True`` joins a second queue that is served before the ordinary one (the
store gives it to the statements of the caller holding its write lock, when ``ReadsStore.writes_first`` says
so). It also counts the engine's statements, the time they held it and the time callers waited for it, for the
``/metrics`` endpoint and the mixed-load benchmark.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class EngineUse:
    """Totals since the store opened: statements run, seconds the engine was held, seconds callers waited."""

    statements: int
    busy_s: float
    waited_s: float


class StatementLock:
    """A FIFO lock with a priority lane; not reentrant (a statement never runs another)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._holder: threading.Condition | None = None
        self._first: deque[threading.Condition] = deque()
        self._queue: deque[threading.Condition] = deque()
        self._statements = 0
        self._busy_s = 0.0
        self._waited_s = 0.0

    @contextmanager
    def held(self, *, first: bool = False) -> Iterator[None]:
        turn = threading.Condition(self._mutex)
        asked = time.perf_counter()
        with self._mutex:
            if self._holder is None:  # free, so nobody waits either: a release hands over to the next waiter
                self._holder = turn
            else:
                lane = self._first if first else self._queue
                lane.append(turn)
                try:
                    while self._holder is not turn:
                        turn.wait()
                except BaseException:  # interrupted while waiting (KeyboardInterrupt): leave the line, never hold
                    if self._holder is turn:
                        self._hand_over()
                    else:
                        lane.remove(turn)
                    raise
            got = time.perf_counter()
            self._waited_s += got - asked
        try:
            yield
        finally:
            with self._mutex:
                self._statements += 1
                self._busy_s += time.perf_counter() - got
                self._hand_over()

    def _hand_over(self) -> None:
        """Give the engine to the next waiter, or free it (called holding ``_mutex``)."""
        waiting = self._first or self._queue
        self._holder = waiting.popleft() if waiting else None
        if self._holder is not None:
            self._holder.notify()

    def use(self) -> EngineUse:
        with self._mutex:
            return EngineUse(self._statements, self._busy_s, self._waited_s)

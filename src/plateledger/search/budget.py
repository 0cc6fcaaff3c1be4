"""The per-user query budget: how many searches, and how many reads returned, one user may have per window.

The numbers come from the requesting agency's policy (:class:`~plateledger.policy.rules.QueryBudget`); the
counting is the ``limits`` library's sliding-window counter (the last window's searches and reads, weighted
across two fixed buckets: no burst at a bucket boundary, constant memory and time per user however many reads
are counted). :class:`~plateledger.search.engine.SearchEngine` asks before a search is run (:meth:`Budgets.check`)
and records its reads after (:meth:`Budgets.spend`); a spent budget raises
:class:`~plateledger.core.errors.TooManyRequests`, which the engine audits as ``search.refused``.

The counters live in the memory of the process (``limits``' memory storage), and are made durable by the audit
log: the first time a process sees a user under a budget, it counts the user's answered searches (and the reads
they returned) of the last window from the audit log into the window. So a restart, or a CLI command (one
process per command), starts from what the user already had, not from zero. The restored searches count as
recent (they all go into the current bucket), which errs on the side of refusing. Two processes serving one
instance at the same time would each count their own searches on top of the restored ones; the embedded reads
store is held by one process at a time, so an instance has one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from plateledger.core.errors import TooManyRequests
from plateledger.policy.rules import QueryBudget

PREFIX = "plateledger-query-budget"
#: A user's answered searches and the reads they returned over the last ``seconds`` (from the audit log).
History = Callable[[int], tuple[int, int]]


class _Storage(MemoryStorage):
    """``limits``' memory storage, sweeping expired counters at most once a minute. The library starts a timer
    thread for a sweep 10 ms after any count when none is running, so each search (two counts) started a thread:
    7% of an exact search's server time in a profile (docs/benchmarks.md, "Performance II"). A counter's expiry
    is also checked whenever it is read, so the sweep only frees the memory of users who stopped searching."""

    SWEEP_S = 60.0

    def __init__(self) -> None:
        self._next_sweep = 0.0
        super().__init__()

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's private hook, called by every count
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_S
            super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]


class Budgets:
    """Every user's searches and reads of the current window, in this process."""

    def __init__(self) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(_Storage())
        self._restored: set[tuple[str, QueryBudget]] = set()
        self._lock = threading.Lock()

    @staticmethod
    def _items(budget: QueryBudget) -> tuple[RateLimitItemPerSecond, RateLimitItemPerSecond]:
        window = budget.window_seconds
        return (
            RateLimitItemPerSecond(budget.max_queries, window, namespace=f"{PREFIX}-queries"),
            RateLimitItemPerSecond(budget.max_reads, window, namespace=f"{PREFIX}-reads"),
        )

    def _spent(self, rule: str, item: RateLimitItemPerSecond, user: str) -> TooManyRequests:
        reset = self._limiter.get_window_stats(item, user).reset_time
        seconds = max(1, math.ceil(reset - time.time()))
        return TooManyRequests(f"query budget exceeded: {rule}; try again in {seconds} s", seconds)

    def _restore(self, budget: QueryBudget, user: str, history: History) -> None:
        """Count the user's searches of the last window made before this process saw it (once per budget)."""
        with self._lock:
            if (user, budget) in self._restored:
                return
            self._restored.add((user, budget))
            searches, reads = history(budget.window_seconds)
            for item, cost in zip(self._items(budget), (searches, reads), strict=True):
                if cost > 0:
                    self._limiter.hit(item, user, cost=min(cost, item.amount))

    def check(self, budget: QueryBudget, user_id: int, history: History) -> int:
        """Count one search of ``user_id`` and return how many reads it may still receive; TooManyRequests
        (nothing counted) when the window's searches or reads are spent. ``history`` is asked once per process
        and budget for what the user had before."""
        queries, reads = self._items(budget)
        user = str(user_id)
        self._restore(budget, user, history)
        per = f"per {budget.window_seconds} s"
        reads_left = self._limiter.get_window_stats(reads, user).remaining
        if reads_left <= 0:
            raise self._spent(f"{budget.max_reads} reads {per} for each user", reads, user)
        if not self._limiter.hit(queries, user):
            raise self._spent(f"{budget.max_queries} searches {per} for each user", queries, user)
        return reads_left

    def spend(self, budget: QueryBudget, user_id: int, reads: int) -> None:
        """Record ``reads`` returned to ``user_id`` (never more than :meth:`check` said were left)."""
        item, user = self._items(budget)[1], str(user_id)
        if reads > 0 and not self._limiter.hit(item, user, cost=reads):
            # A concurrent search of the same user spent part of it meanwhile: what is left is spent.
            left = self._limiter.get_window_stats(item, user).remaining
            if left > 0:
                self._limiter.hit(item, user, cost=left)

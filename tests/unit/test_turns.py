"""The reads store's engine turns (``store/turns.py``): first come, first served, with the write lock holder's
statements first when asked; statements and waits counted."""

from __future__ import annotations

import threading
import time

from plateledger.store.turns import StatementLock


def queued(lock: StatementLock) -> int:
    return len(lock._first) + len(lock._queue)


def test_turns_go_in_arrival_order_with_the_priority_lane_first() -> None:
    lock = StatementLock()
    order: list[str] = []
    threads: list[threading.Thread] = []

    def take(name: str, first: bool) -> None:
        with lock.held(first=first):
            order.append(name)

    with lock.held():
        for name, first in (("search 1", False), ("search 2", False), ("pass", True), ("search 3", False)):
            threads.append(threading.Thread(target=take, args=(name, first)))
            threads[-1].start()
            deadline = time.monotonic() + 30
            while queued(lock) < len(threads):  # each one queued before the next asks
                assert time.monotonic() < deadline, f"{name} did not queue"
                time.sleep(0.001)
    for thread in threads:
        thread.join(30)
    assert order == ["pass", "search 1", "search 2", "search 3"]
    use = lock.use()
    assert use.statements == 5
    assert use.waited_s > 0
    assert use.busy_s > 0


def test_a_free_lock_is_taken_at_once_and_released_on_error() -> None:
    lock = StatementLock()
    try:
        with lock.held():
            raise ValueError("a failed statement")
    except ValueError:
        pass
    with lock.held(first=True):
        assert lock._holder is not None
    assert lock._holder is None
    assert lock.use().statements == 2

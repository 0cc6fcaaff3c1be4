"""The reads store's engine turns (``store/turns.py``): first come, first served, with the write lock holder's
statements first when asked; statements and waits counted."""

from __future__ import annotations

import signal
import threading
import time

import pytest

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


class Interrupted(Exception):
    pass


def test_a_waiter_interrupted_in_line_never_keeps_the_engine() -> None:
    """A waiting caller interrupted by an asynchronous exception (here a signal handler, as KeyboardInterrupt
    arrives) leaves the line: the holder's release must not hand it a turn that nobody would ever release."""
    lock = StatementLock()
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock.held():
            holding.set()
            release.wait(30)

    first = threading.Thread(target=holder)
    first.start()
    assert holding.wait(30)

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Interrupted), lock.held():  # waits for the holder; the signal interrupts the wait
            pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert queued(lock) == 0
    release.set()
    first.join(30)
    got = threading.Event()

    def later() -> None:
        with lock.held():
            got.set()

    threading.Thread(target=later, daemon=True).start()
    assert got.wait(5), "the engine was left held by the interrupted waiter"

"""Where a request's time goes: named stages, timed in the library, collected per HTTP request.

The HTTP app's middleware opens a collection for each request (:func:`collect`); library code times its stages
with :func:`stage` (a no-op outside a request: the CLI and the jobs pay nothing). A search records ``auth`` (the
bearer token), ``gate`` (the policy decision), ``budget`` (the query budget), ``store`` (the reads store's SQL and
the answer's rows; ``store_wait`` of which the wait for the engine's turn while another statement held it: a
background job's or an ingest pass's), ``audit`` (the audit append, its commit included), ``audit_wait`` (of which
the wait for the append lock that another append holds) and ``audit_commit`` (of which the commit), and the route
``answer`` (the JSON body). ``gc`` is the time the garbage collector paused the request's thread
(:func:`watch_gc`); it overlaps whichever stage it interrupted.

The middleware turns the stages into the ``plateledger_request_stage_seconds`` histogram of ``/metrics`` and,
when the ``server_timing`` setting is on, a ``Server-Timing`` response header (what ``benchmarks/search_path.py``
reads: the server's stages of each request, so that a slow request can be told apart by stage).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

#: Stages timed inside others (not added up with them).
OVERLAPPING = frozenset({"store_wait", "audit_wait", "audit_commit", "gc"})
#: The current request's stages: seconds by name (None outside a collection).
_STAGES: ContextVar[dict[str, float] | None] = ContextVar("plateledger_stages", default=None)


@contextmanager
def collect() -> Iterator[dict[str, float]]:
    """Collect the stages timed in this context (and in the threads it hands work to: they run in a copy of the
    context, which shares the dictionary)."""
    stages: dict[str, float] = {}
    token = _STAGES.set(stages)
    try:
        yield stages
    finally:
        _STAGES.reset(token)


def add(name: str, seconds: float) -> None:
    """Add ``seconds`` to stage ``name`` of the current collection, if any."""
    stages = _STAGES.get()
    if stages is not None:
        stages[name] = stages.get(name, 0.0) + seconds


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as stage ``name`` (added to what the stage already has: a stage may run twice)."""
    if _STAGES.get() is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - start)


def snapshot(stages: dict[str, float], start: float | None = None) -> dict[str, float]:
    """A copy of ``stages`` to read: the collection may still grow while it is read (the garbage collector's
    callback adds ``gc`` in whatever thread it interrupts, and worker threads share the dictionary), and iterating
    the live dictionary then fails. ``dict()`` copies in one step of the interpreter. With ``start``, the copy also
    has ``total``: the seconds since ``start``."""
    copied = dict(stages)
    if start is not None:
        copied["total"] = time.perf_counter() - start
    return copied


def server_timing(stages: dict[str, float]) -> bytes:
    """The ``Server-Timing`` header value of ``stages`` (W3C Server Timing: ``name;dur=milliseconds``)."""
    return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in stages.items()).encode("ascii")


_gc_started: dict[int, float] = {}


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    elif (start := _gc_started.pop(0, None)) is not None:
        add("gc", time.perf_counter() - start)


def watch_gc() -> None:
    """Count the garbage collector's pauses as stage ``gc`` of the request whose thread it ran in (once per
    process; a collection runs under the interpreter's lock, so one start and stop pair is open at a time)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)

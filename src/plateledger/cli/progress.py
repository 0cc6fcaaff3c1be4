"""Progress of long CLI work (an ingest, the demo's seeding): on a terminal, a bar with the total, the rate and
the time left; otherwise (a pipe, a log file, a service manager) a plain line on stderr every
``progress_interval_s`` seconds while the work goes on, so a long step is never silent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from plateledger.cli.output import err, shown

Advance = Callable[[int], None]


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Lines:
    """A plain progress line every ``every_s`` seconds until stopped (from a thread of its own, so a line comes
    even while one step of the work takes long)."""

    def __init__(self, label: str, total: int | None, unit: str, console: Console, every_s: float) -> None:
        self.label, self.total, self.unit, self.console, self.every_s = label, total, unit, console, every_s
        self.done = 0
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress-lines", daemon=True)

    def advance(self, count: int) -> None:
        self.done += count

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        text = f"{self.label}: {self.done:,}"
        if self.total:
            done = min(self.done, self.total)
            text += f"/{self.total:,} {self.unit} ({100 * done // self.total}%)"
            left = f"{_duration(elapsed * (self.total - done) / done)} left" if done else "time left unknown"
            text += f", {_duration(elapsed)} elapsed, {left}"
        else:
            text += f" {self.unit}, {_duration(elapsed)} elapsed"
        return text

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.console.print(self.line())

    def __enter__(self) -> _Lines:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def progress(
    label: str, total: int | None, *, unit: str, every_s: float, bar: bool = True, console: Console = err
) -> Iterator[Advance]:
    """Yield the function to call with each step's count. ``bar=False`` (``--json``): plain lines even on a
    terminal."""
    label = shown(label)
    if bar and console.is_terminal:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as shown_bar:
            task = shown_bar.add_task(label, total=total)
            yield partial(shown_bar.advance, task)
    else:
        with _Lines(label, total, unit, console, every_s) as lines:
            yield lines.advance

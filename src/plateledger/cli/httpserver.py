"""The HTTP server of `plateledger serve`: uvicorn, logging through our formatter, with a bounded shutdown.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections and gives the requests in flight
``shutdown_timeout_s`` to finish; then `serve` stops its workers and closes the stores. A request or a store can be
stuck where Python cannot interrupt it (a thread waiting on a governance database another process holds locked):
so the signal also starts a :class:`Deadline`, and a process still running ``2 × shutdown_timeout_s`` after the
signal logs why and exits at once with status 1. That is a crash as far as the stores are concerned, and they
recover from one (a committed audit entry and an acknowledged read survive kill -9).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

import uvicorn
from fastapi import FastAPI

from plateledger.core.settings import Settings

log = logging.getLogger("plateledger.serve")

#: Exit status of a shutdown that did not finish in time.
STUCK_EXIT = 1


class Deadline:
    """Once started, the process has ``seconds`` left; then it exits with :data:`STUCK_EXIT`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._wait, name="shutdown-deadline", daemon=True)
            self._thread.start()

    def _wait(self) -> None:
        log.info("shutting down: at most %.0f s", self.seconds)
        threading.Event().wait(self.seconds)
        log.error(
            "shutdown not finished after %.0f s (a request or a store is stuck): exiting now",
            self.seconds,
            extra={"exit_status": STUCK_EXIT},
        )
        os._exit(STUCK_EXIT)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, deadline: Deadline) -> None:
        super().__init__(config)
        self.deadline = deadline

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.deadline.start()
        super().handle_exit(sig, frame)


def _stopped(sig: int, frame: FrameType | None) -> None:
    """SIGTERM or Ctrl-C after uvicorn has stopped (uvicorn raises the signal it caught again when it returns): the
    caller goes on to close the stores and exits 0, a clean stop either way."""


def run_http(app: FastAPI, settings: Settings) -> None:
    """Serve ``app`` until SIGTERM or Ctrl-C; uvicorn's own records go through the root logger's handler."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,  # api/request_log.py writes the access log, with the request id and no URL token
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
    )
    signal.signal(signal.SIGTERM, _stopped)
    signal.signal(signal.SIGINT, _stopped)
    _Server(config, Deadline(2 * settings.shutdown_timeout_s)).run()

"""Log records as single lines: JSON objects (``log_format = "json"``) or readable text, with the request id.

:func:`configure_logging` installs one handler on the root logger, so the library's loggers, uvicorn's and the
access log (``api/request_log.py``) all share one formatter. In JSON each record is one object on one line:

```
{"ts": "2026-12-07T04:05:41.123Z", "level": "info", "logger": "plateledger.access", "message": "GET /healthz 200",
 "request_id": "5f0c...", "method": "GET", "path": "/healthz", "status": 200, "duration_ms": 1.2}
```

A traceback is the ``exc_info`` field (a string with escaped newlines), never extra lines. Fields passed with
``extra={...}`` become fields of the object. The request id of the request being answered (a context variable set
by the HTTP middleware) is added to every record logged while it is answered, whichever logger writes it.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from contextvars import ContextVar
from types import TracebackType
from typing import IO, Any, Literal

import orjson

LogFormat = Literal["auto", "json", "text"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]

#: The id of the HTTP request being answered in this context (None outside a request).
REQUEST_ID: ContextVar[str | None] = ContextVar("plateledger_request_id", default=None)

#: Attributes every LogRecord has; anything else on a record came from ``extra=`` and is written as a field
#: (except uvicorn's ``color_message``, the message again with terminal colour codes).
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        entry.update((k, v) for k, v in _extras(record).items() if k != "request_id")
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER [REQUEST-ID] MESSAGE key=value ...`` (a traceback follows on its own lines)."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        parts = [_timestamp(record), f"{record.levelname:<7}", record.name]
        if request_id:
            parts.append(f"[{request_id}]")
        parts.append(record.getMessage())
        parts += [f"{k}={v}" for k, v in _extras(record).items() if k != "request_id"]
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``stream``, or to whatever ``sys.stderr`` is at the time of each record (so a handler installed
    while a test runner had replaced stderr does not keep writing to its closed stand-in)."""

    def __init__(self, stream: IO[str] | None) -> None:
        super().__init__(stream)
        self._fixed = stream

    @property
    def stream(self) -> IO[str]:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:  # StreamHandler.__init__ assigns it
        pass


def resolve_format(fmt: LogFormat, stream: IO[str] | None = None) -> Literal["json", "text"]:
    """``auto``: text on a terminal, JSON otherwise (a service manager, a container, a file)."""
    if fmt != "auto":
        return fmt
    target = stream if stream is not None else sys.stderr
    return "text" if target.isatty() else "json"


def configure_logging(level: LogLevel, fmt: LogFormat, stream: IO[str] | None = None) -> None:
    """Send every logger's records through one handler on the root logger (replacing the one an earlier call
    installed; other handlers, such as a test runner's, stay), at ``level``, on ``stream`` (default: stderr)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler = _Handler(stream)
    handler.setFormatter(JsonFormatter() if resolve_format(fmt, stream) == "json" else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The HTTP client's INFO record of each request holds the whole URL, and a webhook's URL can hold its secret.
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, root.level))
    # uvicorn's own loggers through the same handler (its default logging config gives them handlers of their own
    # and stops them propagating).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True


def _uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    logging.getLogger("plateledger").critical("uncaught %s: %s", kind.__name__, error, exc_info=(kind, error, trace))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:  # SystemExit without a value: the thread just ended
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("plateledger").error(
        "uncaught %s in thread %s: %s",
        args.exc_type.__name__,
        name,
        args.exc_value,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def log_uncaught() -> None:
    """In a long-running process: an uncaught exception (main thread or another) and a Python warning become log
    records too, one line each in JSON, instead of a bare traceback on stderr."""
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread
    logging.captureWarnings(True)

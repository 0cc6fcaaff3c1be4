"""One process per data directory: the embedded ClickHouse must never be opened twice.

The holder writes its pid (and, for ``serve``, its URL) into DATA/.lock under an exclusive ``flock``; the
lock vanishes with the process, even after kill -9. A second process gets DataDirectoryBusy naming the holder,
so the CLI can tell the user to talk to the running server instead.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from plateledger.core.errors import DataDirectoryBusy


@dataclass(frozen=True)
class Holder:
    pid: int
    url: str | None


def read_holder(data: Path) -> Holder | None:
    try:
        info = orjson.loads((data / ".lock").read_bytes() or b"{}")
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(info, dict) or "pid" not in info:
        return None
    return Holder(pid=int(info["pid"]), url=info.get("url"))


class DataLock:
    def __init__(self, data: Path, *, url: str | None = None) -> None:
        data.mkdir(parents=True, exist_ok=True)
        self._path = data / ".lock"
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            holder = read_holder(data)
            where = f" (pid {holder.pid}{', serving ' + holder.url if holder and holder.url else ''})" if holder else ""
            raise DataDirectoryBusy(
                f"data directory {data} is in use by another Plateledger process{where}; "
                "use the running server's HTTP API, or stop it first"
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, orjson.dumps({"pid": os.getpid(), "url": url}))

    def release(self) -> None:
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

"""One process per data directory: the embedded ClickHouse must never be opened twice."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plateledger.core.clock import FixedClock
from plateledger.core.errors import ConfigurationError, DataDirectoryBusy
from plateledger.core.settings import Settings, load_settings
from plateledger.platform import Platform
from plateledger.store.lock import DataLock, read_holder

HOLD_LOCK = """
import sys
from pathlib import Path
from plateledger.store.lock import DataLock
lock = DataLock(Path(sys.argv[1]), url="http://127.0.0.1:8123")
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the data directory's lock (as `plateledger serve` would)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "locked"
        yield child
    finally:
        child.kill()
        child.wait(timeout=30)
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()


def test_a_second_open_in_the_same_process_is_refused(settings: Settings, clock: FixedClock) -> None:
    first = Platform.open(settings, clock=clock)
    try:
        with pytest.raises(DataDirectoryBusy, match=f"pid {os.getpid()}"):
            Platform.open(settings, clock=clock)
        assert first.reads.count() == 0  # the refused open did not disturb the holder
    finally:
        first.close()
    Platform.open(settings, clock=clock).close()  # released on close


@pytest.mark.slow
def test_another_process_holding_the_directory_is_named(
    settings: Settings, clock: FixedClock, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(DataDirectoryBusy) as caught:
        Platform.open(settings, clock=clock)
    message = str(caught.value)
    assert f"pid {holder.pid}" in message
    assert "serving http://127.0.0.1:8123" in message
    assert read_holder(settings.data) is not None

    holder.kill()  # kill -9: the lock goes with the process
    holder.wait(timeout=30)
    Platform.open(settings, clock=clock).close()


def open_files_under(directory: Path) -> list[str]:
    """Paths under ``directory`` this process holds open (Linux /proc)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_a_failed_open_closes_what_it_opened(settings: Settings, clock: FixedClock) -> None:
    settings.data.mkdir(parents=True)
    (settings.data / "reads").write_text("a file where the reads store's directory belongs")
    with pytest.raises(FileExistsError):
        Platform.open(settings, clock=clock)  # fails after the governance store was opened
    assert open_files_under(settings.data) == []
    DataLock(settings.data).release()


def test_an_unreachable_governance_database_releases_the_lock(data_dir: Path, clock: FixedClock) -> None:
    unreachable = load_settings(data=data_dir, database_url="postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(ConfigurationError, match=r"governance store postgresql://nobody@127\.0\.0\.1:1/none unusable"):
        Platform.open(unreachable, clock=clock)
    DataLock(data_dir).release()


def test_holder_is_unknown_for_an_empty_or_garbled_lock_file(tmp_path: Path) -> None:
    assert read_holder(tmp_path) is None
    (tmp_path / ".lock").write_bytes(b"not json")
    assert read_holder(tmp_path) is None
    (tmp_path / ".lock").write_bytes(b'{"pid": 12, "url": null}')
    holder = read_holder(tmp_path)
    assert holder is not None
    assert (holder.pid, holder.url) == (12, None)

"""Test-only crash points: named places in multi-step operations where a test kills the process (kill -9).

A test sets ``PLATELEDGER_TEST_CRASHPOINT`` to a point's name and ``PLATELEDGER_TEST_CRASHPOINT_FILE`` to a path;
when the process reaches that point it writes its pid to the file and waits there, so the test can kill it at
exactly that step (no sleeps, no races) and then check that a rerun completes what was interrupted. Unset (always,
outside tests) a crash point costs one dictionary lookup.

Points: ``retention.audited`` (the run's entry is committed, nothing deleted yet), ``retention.keys_deleted``
(``read_keys`` rows of the expired reads deleted, the reads not yet), ``retention.reads_deleted`` (the reads
store done; images, quarantine and alert hits not yet), ``retention.images_deleted`` (images done; quarantine,
alert hits and the completion entry not yet).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

POINT_ENV = "PLATELEDGER_TEST_CRASHPOINT"
FILE_ENV = "PLATELEDGER_TEST_CRASHPOINT_FILE"


def crashpoint(name: str) -> None:
    """Stop here for good if the test environment names this point (see the module docstring)."""
    if os.environ.get(POINT_ENV) != name:
        return
    Path(os.environ[FILE_ENV]).write_text(str(os.getpid()))
    threading.Event().wait()  # until the test's kill -9

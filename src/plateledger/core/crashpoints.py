"""Test-only crash points: named places in multi-step operations where a test kills the process (kill -9).

A test sets ``PLATELEDGER_TEST_CRASHPOINT`` to a point's name. With ``PLATELEDGER_TEST_CRASHPOINT_FILE`` set to a
path, the process that reaches the point writes its pid to the file and waits there, so the test can kill it at
exactly that step (no sleeps, no races); without it, the process kills itself there (SIGKILL, as ``kill -9``).
Either way the test then checks that a restart or a rerun completes what was interrupted. Unset (always, outside
tests) a crash point costs one dictionary lookup; settings refuse ``environment = "production"`` while it is set.

Points: ``retention.audited`` (the run's entry is committed, nothing deleted yet), ``retention.keys_deleted``
(``read_keys`` rows of the expired reads deleted, the reads not yet), ``retention.reads_deleted`` (the reads
store done; images, quarantine and alert hits not yet), ``retention.images_deleted`` (images done; quarantine,
alert hits and the completion entry not yet); ``ingest.before_insert`` (a batch's intent entry committed, no
read stored), ``ingest.mid_insert`` (its reads stored, their ``read_keys`` not yet), ``ingest.after_insert``
(both stored, the outcome entry not yet written).
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

POINT_ENV = "PLATELEDGER_TEST_CRASHPOINT"
FILE_ENV = "PLATELEDGER_TEST_CRASHPOINT_FILE"


def crashpoint(name: str) -> None:
    """Stop here for good if the test environment names this point (see the module docstring)."""
    if os.environ.get(POINT_ENV) != name:
        return
    if not os.environ.get(FILE_ENV):
        os.kill(os.getpid(), signal.SIGKILL)
    Path(os.environ[FILE_ENV]).write_text(str(os.getpid()))
    threading.Event().wait()  # until the test's kill -9

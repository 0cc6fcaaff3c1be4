"""Shapes of short text fields shared by several services. Use with ``fullmatch`` (``$`` in ``match`` would
accept a trailing newline)."""

from __future__ import annotations

import re

#: Case numbers, warrant and source-record references: 1-64 printable ASCII characters, spaces allowed.
PRINTABLE_64 = re.compile(r"[\x20-\x7e]{1,64}")
#: Identifiers such as camera ids: 1-64 printable ASCII characters, no spaces.
VISIBLE_64 = re.compile(r"[\x21-\x7e]{1,64}")
#: A region as stored: ISO 3166-2 style, e.g. US-CA.
REGION = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")

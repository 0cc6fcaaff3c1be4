"""Shapes of short text fields shared by several services. Use with ``fullmatch`` (``$`` in ``match`` would
accept a trailing newline)."""

from __future__ import annotations

import re

#: Case numbers, warrant and source-record references: 1-64 printable ASCII characters, spaces allowed.
PRINTABLE_64 = re.compile(r"[\x20-\x7e]{1,64}")
#: Identifiers such as camera ids: 1-64 printable ASCII characters, no spaces.
VISIBLE_64 = re.compile(r"[\x21-\x7e]{1,64}")
#: A warrant or court-order reference once stripped: 1-64 printable ASCII characters, beginning and ending with a
#: letter or digit (so never blank, never only punctuation); inside, letters, digits, spaces and ``-/.:#_()``.
WARRANT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ./:#_()-]{0,62}[A-Za-z0-9])?")
#: A region as stored: ISO 3166-2 style, e.g. US-CA.
REGION = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")

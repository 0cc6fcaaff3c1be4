"""Shapes of short text fields shared by several services. Use with ``fullmatch`` (``$`` in ``match`` would
accept a trailing newline)."""

from __future__ import annotations

import re

from plateledger.core.errors import FieldInvalid

#: Case numbers, warrant and source-record references: 1-64 printable ASCII characters, spaces allowed.
PRINTABLE_64 = re.compile(r"[\x20-\x7e]{1,64}")
#: Identifiers such as read ids: 1-64 printable ASCII characters, no spaces (camera ids: ``camera_id_problem``).
VISIBLE_64 = re.compile(r"[\x21-\x7e]{1,64}")
#: A warrant or court-order reference once stripped: 1-64 printable ASCII characters, beginning and ending with a
#: letter or digit (so never blank, never only punctuation); inside, letters, digits, spaces and ``-/.:#_()``.
WARRANT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ./:#_()-]{0,62}[A-Za-z0-9])?")
#: A region as stored: ISO 3166-2 style, e.g. US-CA.
REGION = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")

#: The UTF-8 byte-order mark some equipment and Windows tools put before JSON and CSV; every ingest path skips it.
UTF8_BOM = b"\xef\xbb\xbf"

#: Longest camera id, in characters (what the equipment calls itself; the reads store holds the same limit).
MAX_CAMERA_ID = 64


def camera_id_problem(text: str) -> str | None:
    """Why ``text`` cannot be a camera id, or None when it can.

    A camera id is what the equipment calls itself: 1-``MAX_CAMERA_ID`` printable Unicode characters, spaces
    included (a mobile unit is ``BXH9904 SPD2020627MDC``), without leading or trailing whitespace. Printable is
    Python's ``str.isprintable``: no control or format characters (tabs, newlines, zero-width or bidirectional
    marks), no line or paragraph separators and no spaces other than U+0020, so an id looks the same on every
    page and in every log line as it does on the equipment.
    """
    if not text:
        return "must not be empty"
    if len(text) > MAX_CAMERA_ID:
        return f"longer than {MAX_CAMERA_ID} characters"
    if text != text.strip():
        return "must not begin or end with whitespace"
    bad = next((ch for ch in text if not ch.isprintable()), None)
    if bad is not None:
        return f"must be printable: U+{ord(bad):04X} is a control, format or separator character"
    return None


def check_camera_id(text: str, field: str = "camera") -> str:
    """``text`` when it is a valid camera id (see ``camera_id_problem``), else FieldInvalid naming ``field``."""
    problem = camera_id_problem(text)
    if problem is not None:
        raise FieldInvalid(field, problem)
    return text

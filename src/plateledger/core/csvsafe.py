"""CSV for spreadsheets: text cells that a spreadsheet would run as a formula are escaped (OWASP, "CSV Injection").

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (``=HYPERLINK(...)`` in a case number exfiltrates the sheet when clicked). Such text
gets a leading ``'``, which the spreadsheet shows as text and hides. Only text is escaped: numbers written as
numbers (a read's ``lat``/``lon``, confidence) stay numbers, so a negative longitude is still ``-122.4194``.
Every CSV the platform writes goes through :class:`SafeWriter`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def safe_cell(value: object) -> object:
    """``value`` as a CSV cell: ``None`` as empty, text that starts a formula prefixed with ``'``, else as is."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose every cell goes through :func:`safe_cell`."""

    def __init__(self, stream: _Writable) -> None:
        # RFC 4180 line ends: a cell holding a lone CR or LF is then quoted (with "\n" alone, a CR is not).
        self._writer = csv.writer(stream, lineterminator="\r\n")

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])

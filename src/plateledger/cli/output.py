"""Human (non-``--json``) CLI output: stored text is shown, never obeyed by the terminal.

Case numbers, notes, camera and hot-list names, usernames, rejection reasons are written by other people (another
agency, a camera vendor's payload). Printed raw, a newline in a note forges a line of the audit listing and an
ESC sequence recolours, moves the cursor or retitles the operator's terminal. Every human renderer passes the
values it prints through :func:`printable` (or one string through :func:`shown`); ``--json`` output stays exact,
since JSON escapes control characters itself. The consoles print without Rich markup, so ``[link=...]`` or
``[bold]`` in a stored value is shown as typed too.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from rich.console import Console

T = TypeVar("T")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shown(text: str) -> str:
    """``text`` with control characters and every other non-printable character (line and paragraph separators,
    bidirectional overrides, zero-width characters) written as escapes such as ``\\n`` or ``\\x1b``."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def printable(value: T) -> T:
    """``value`` (a string, or a JSON-like dict/list/tuple of them) with every string, keys included, passed
    through :func:`shown`; other values unchanged."""
    result: Any
    if isinstance(value, str):
        result = shown(value)
    elif isinstance(value, dict):
        result = {printable(k): printable(v) for k, v in value.items()}
    elif isinstance(value, list):
        result = [printable(v) for v in value]
    elif isinstance(value, tuple):
        result = tuple(printable(v) for v in value)
    else:
        result = value
    return cast(T, result)

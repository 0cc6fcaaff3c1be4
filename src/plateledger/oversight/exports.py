"""Other vendors' audit exports, read into search records: what oversight bodies hold today.

* ``flock``: a Flock network search audit, ``ID,Org_Name,Total_Networks_Searched,Total_Devices_Searched,
  Time_Frame_Start,Time_Frame_End,Reason,Search_Time,Search_Type,Moderation`` (``Reason`` and ``Search_Time``
  required; the others read where present, in any order). No user column: searches are counted per organisation.
* ``reason-datetime``: ``Reason,DateTime``, local times, as some agencies answer records requests. Searches are
  counted together (no user, no organisation).

Headers match whatever their case, spaces or underscores; a byte-order mark, CRLF line ends, quoted commas and
blank lines are read; a file that is not UTF-8 is read as Windows-1252. Numbers may carry thousands separators.
A reason holding something shaped like a case number (``21-16030``) gives the record that case number. The
first row that cannot be read refuses the whole file with its line number (:class:`InvalidInput`, exit 2).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo
from enum import StrEnum
from pathlib import Path

from plateledger.core.errors import InvalidInput
from plateledger.oversight.records import Field, SearchRecord
from plateledger.oversight.terms import CASE_IN_TEXT
from plateledger.oversight.timetext import TimeTextError, parse_ms

#: The largest field accepted (a reason is a line of text; anything larger is not an export).
MAX_FIELD = 100_000


class Format(StrEnum):
    FLOCK = "flock"
    REASON_DATETIME = "reason-datetime"


@dataclass(frozen=True)
class _Layout:
    required: tuple[str, ...]
    optional: tuple[str, ...]
    fields: frozenset[Field]
    example: str


LAYOUTS = {
    Format.FLOCK: _Layout(
        required=("Reason", "Search_Time"),
        optional=(
            "ID",
            "Org_Name",
            "Total_Networks_Searched",
            "Total_Devices_Searched",
            "Time_Frame_Start",
            "Time_Frame_End",
            "Search_Type",
            "Moderation",
        ),
        fields=frozenset(
            {Field.AGENCY, Field.REASON, Field.CASE_NUMBER, Field.NETWORKS, Field.LOOKBACK, Field.OUTCOME}
        ),
        example="ID,Org_Name,Total_Networks_Searched,Total_Devices_Searched,Time_Frame_Start,Time_Frame_End,"
        "Reason,Search_Time,Search_Type,Moderation",
    ),
    Format.REASON_DATETIME: _Layout(
        required=("Reason", "DateTime"),
        optional=(),
        fields=frozenset({Field.REASON, Field.CASE_NUMBER}),
        example="Reason,DateTime",
    ),
}


@dataclass(frozen=True)
class Export:
    """The records of an export (in file order), what they carry, and how the file was read."""

    format: Format
    records: list[SearchRecord]
    fields: frozenset[Field]
    encoding: str
    rows: int


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _count(text: str) -> int | None:
    cleaned = text.replace(",", "").replace("_", "").replace(" ", "")
    if not cleaned:
        return None
    if not cleaned.isdigit():
        raise ValueError(f"{text.strip()[:40]!r} is not a whole number")
    return int(cleaned)


def _rows(text: Iterator[str], path: Path) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(text, strict=True)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, row
    except csv.Error as exc:
        raise InvalidInput(f"{path.name} line {reader.line_num + 1}: not CSV: {exc}") from None


def _text(path: Path) -> tuple[str, str]:
    """The file's text and its encoding: UTF-8 (a byte-order mark dropped), else Windows-1252."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(f"{path.name} line {line}: not text (neither UTF-8 nor Windows-1252)") from None


def read_export(path: Path, format: Format, *, zone: tzinfo) -> Export:
    """Read ``path`` as an export of ``format``; times without a zone are in ``zone``. Refuses the file with the
    first bad line's number."""
    text, encoding = _text(path)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InvalidInput(f"{path.name} line {line}: not text (a NUL byte)")
    previous = csv.field_size_limit(MAX_FIELD)
    try:
        records, rows = _read(path, io.StringIO(text, newline=""), format, zone)
    finally:
        csv.field_size_limit(previous)
    return Export(format, records, LAYOUTS[format].fields, encoding, rows)


def _read(path: Path, text: Iterator[str], format: Format, zone: tzinfo) -> tuple[list[SearchRecord], int]:
    layout = LAYOUTS[format]
    rows = _rows(text, path)
    first = next(rows, None)
    if first is None:
        raise InvalidInput(f"{path.name} line 1: empty file; expected a header like {layout.example}")
    header_line, header = first
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    columns = {_key(name): i for i, name in reversed(list(enumerate(header)))}
    for name in layout.required:
        if _key(name) not in columns:
            raise InvalidInput(
                f"{path.name} line {header_line}: no {name} column in the header; a {format.value} export starts "
                f"with {layout.example}"
            )
    width = len(header)
    build = _flock_row if format is Format.FLOCK else _reason_row
    records: list[SearchRecord] = []
    count = 0
    for line, row in rows:
        if len(row) < width or any(cell.strip() for cell in row[width:]):
            raise InvalidInput(f"{path.name} line {line}: {len(row)} fields, the header has {width}")
        cells = {key: row[i].strip() for key, i in columns.items()}
        try:
            records.append(build(line, cells, zone))
        except (ValueError, TimeTextError) as exc:
            raise InvalidInput(f"{path.name} line {line}: {exc}") from None
        count += 1
    return records, count


def _case_in(reason: str) -> str | None:
    match = CASE_IN_TEXT.search(reason)
    return match.group(0).upper() if match else None


def _time(cells: dict[str, str], column: str, zone: tzinfo, *, required: bool) -> int | None:
    text = cells.get(_key(column), "")
    if not text:
        if required:
            raise ValueError(f"{column} is blank")
        return None
    try:
        return parse_ms(text, zone)
    except TimeTextError as exc:
        raise ValueError(f"{column}: {exc}") from None


def _flock_row(line: int, cells: dict[str, str], zone: tzinfo) -> SearchRecord:
    when = _time(cells, "Search_Time", zone, required=True)
    assert when is not None
    reason = cells.get("reason", "")
    try:
        networks = _count(cells.get("totalnetworkssearched", ""))
        _count(cells.get("totaldevicessearched", ""))
    except ValueError as exc:
        raise ValueError(f"Total_Networks_Searched/Total_Devices_Searched: {exc}") from None
    return SearchRecord(
        ref=line,
        ts_ms=when,
        agency=cells.get("orgname") or None,
        kind=(cells.get("searchtype") or "search").lower(),
        refused=cells.get("moderation", "").lower() == "block",
        case_number=_case_in(reason),
        reason=reason or None,
        networks=networks,
        window_start_ms=_time(cells, "Time_Frame_Start", zone, required=False),
    )


def _reason_row(line: int, cells: dict[str, str], zone: tzinfo) -> SearchRecord:
    when = _time(cells, "DateTime", zone, required=True)
    assert when is not None
    reason = cells.get("reason", "")
    return SearchRecord(ref=line, ts_ms=when, case_number=_case_in(reason), reason=reason or None)

"""Turning input files into canonical-read lines for the reads store.

JSONL lines pass through untouched (the store validates them in SQL). CSV rows are mapped to canonical field
names (``--map plate=PLATE_COL,ts=TIME_COL``), typed (numbers for lat/lon/confidence/direction, epoch-ms
integers or a ``--ts-format`` for time) and re-encoded as JSON lines, so both formats share one validator.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from plateledger.core.errors import FieldInvalid, InvalidInput
from plateledger.core.text import UTF8_BOM

CANONICAL_FIELDS = ("read_id", "plate", "region", "ts", "camera", "lat", "lon", "confidence")
VEHICLE_FIELDS = ("make", "model", "color", "type", "direction")
_NUMERIC = {"lat", "lon", "confidence", "direction"}
_ZONELESS_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?$")
NOT_UTF8 = b'{"plate": "\xff"}'


def open_input(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, transparently gunzipping ``.gz`` (or gzip magic)."""
    try:
        handle: IO[bytes] = path.open("rb")
        magic = handle.peek(2)[:2] if isinstance(handle, io.BufferedReader) else b""
        if magic == b"\x1f\x8b":
            handle.close()
            # gzip.open owns and closes its file; GzipFile(fileobj=...) would leave ours open.
            return gzip.open(path, "rb")  # type: ignore[return-value]
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot open ({exc.strerror})") from None
    return handle


def parse_mapping(text: str | None) -> dict[str, str]:
    """``plate=PLATE_COL,ts=TIME_COL`` → {canonical field: CSV column}."""
    if not text:
        return {}
    mapping: dict[str, str] = {}
    allowed = set(CANONICAL_FIELDS) | {f"vehicle.{f}" for f in VEHICLE_FIELDS} | set(VEHICLE_FIELDS)
    for part in text.split(","):
        field, sep, column = part.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not field or not column:
            raise FieldInvalid("map", f"{part!r} is not FIELD=COLUMN")
        if field not in allowed:
            raise FieldInvalid("map", f"unknown canonical field {field!r}")
        mapping[field.removeprefix("vehicle.")] = column
    return mapping


def jsonl_blocks(handle: IO[bytes], target_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Yield (block, number of lines) of about ``target_bytes`` each, cut at line ends, lines untouched.

    A leading UTF-8 byte-order mark is skipped. The reads store splits and validates the lines itself, so a file
    goes through Python as a few large blocks, not millions of small objects. A single line longer than the block
    size is refused (no read is that long).
    """
    first = handle.read(len(UTF8_BOM)).removeprefix(UTF8_BOM)  # a byte-order mark before the first line
    rest = b""
    while True:
        data = first + handle.read(target_bytes)
        first = b""
        if not data:
            break
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > target_bytes:
                raise InvalidInput(f"a line longer than {target_bytes} bytes: not a JSON lines file of reads")
            rest = data
            continue
        block, rest = data[:cut], data[cut + 1 :]
        yield block, block.count(b"\n") + 1
    if rest:
        yield rest, rest.count(b"\n") + 1


class CsvConverter:
    """Maps CSV rows (by header) onto canonical reads encoded as JSON lines."""

    def __init__(self, mapping: dict[str, str], ts_format: str | None, tz: str) -> None:
        self.mapping = mapping
        self.ts_format = ts_format
        try:
            self.zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise FieldInvalid("tz", f"unknown time zone {tz!r}") from None

    def _ts(self, text: str) -> Any:
        text = text.strip()
        if self.ts_format:
            try:
                value = datetime.strptime(text, self.ts_format)
            except ValueError:
                return text  # rejected by the validator with the ts rule
            if value.tzinfo is None:
                value = value.replace(tzinfo=self.zone)
            return int(value.astimezone(UTC).timestamp() * 1000)
        if text.isdigit():
            return int(text)
        if _ZONELESS_ISO.match(text):  # a local time: give it the --tz zone, keep it ISO for the validator
            try:
                return datetime.fromisoformat(text).replace(tzinfo=self.zone).isoformat()
            except ValueError:
                return text
        return text

    def row(self, record: dict[str, str]) -> bytes:
        read: dict[str, Any] = {}
        vehicle: dict[str, Any] = {}
        for field in (*CANONICAL_FIELDS, *VEHICLE_FIELDS):
            column = self.mapping.get(field, field)
            value = record.get(column)
            if value is None or value == "":
                continue
            typed: Any = value
            if field == "ts":
                typed = self._ts(value)
            elif field in _NUMERIC:
                try:
                    typed = float(value)
                except ValueError:
                    typed = value  # the validator names the field and the rule
            (vehicle if field in VEHICLE_FIELDS else read)[field] = typed
        if vehicle:
            read["vehicle"] = vehicle
        try:
            return orjson.dumps(read)
        except orjson.JSONEncodeError:
            # Undecodable bytes (kept as surrogates): hand the validator a line it rejects as not UTF-8.
            return NOT_UTF8

    def lines(self, handle: IO[bytes], chunk: int) -> Iterator[list[bytes]]:
        # utf-8-sig: a leading byte-order mark is skipped, not read as part of the first column's name.
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
        try:
            yield from self._records(text, chunk)
        finally:
            # Hand the caller's handle back unclosed: a wrapper left to the garbage collector would close
            # it (and warn) whenever it is collected.
            text.detach()

    def _records(self, text: io.TextIOWrapper, chunk: int) -> Iterator[list[bytes]]:
        reader = csv.DictReader(text)
        if reader.fieldnames is None:
            return
        missing = [f for f in ("plate", "ts", "camera") if self.mapping.get(f, f) not in reader.fieldnames]
        if missing:
            raise InvalidInput("CSV header lacks column(s) for " + ", ".join(missing) + " (use --map FIELD=COLUMN)")
        batch: list[bytes] = []
        for record in reader:
            batch.append(self.row(record))
            if len(batch) >= chunk:
                yield batch
                batch = []
        if batch:
            yield batch

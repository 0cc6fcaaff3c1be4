"""Hot-list import parsers: a file's bytes in, one :class:`Parsed` line out per record (an entry, or an error
naming the line and the field). Pure functions: no store, no clock (the caller passes ``now_ms``).

Formats (layouts and the purpose mapping are documented in ``docs/hotlists.md``):

* ``csv``     the canonical CSV: a header naming ``plate`` and any of ``region``, ``purpose``, ``reference``,
              ``reason``, ``expires``, ``action`` (``add`` or ``remove``).
* ``ncic``    an NCIC-style fixed-width vehicle extract (parse code, NIC number, ORI, date, plate, state ...).
* ``ca-doj``  a California DOJ CLEW table (``svs.tbl``, ``sfr.tbl``, ``slr.tbl``), fixed width.
* ``genetec`` a Genetec AutoVu-style delimited file with configurable column positions.

A line's own values come first; the options (``purpose``, ``reference``, ``reason``, ``expires_ms``) fill what
a line lacks; then the format's defaults. An entry without an expiry expires ``expiry_days`` after ``now_ms``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from plateledger.core.clock import parse_iso_ms
from plateledger.core.errors import InvalidInput
from plateledger.hotlists.service import EntryIn
from plateledger.policy.rules import DAY_MS
from plateledger.vocab import Purpose

#: A line longer than this is refused (no hot-list record comes near it).
MAX_LINE = 4096


class Format(StrEnum):
    CSV = "csv"
    NCIC = "ncic"
    CA_DOJ = "ca-doj"
    GENETEC = "genetec"


#: NCIC parse code -> (purpose, label); ``None``: not imported (no purpose of the taxonomy fits).
NCIC_CODES: dict[str, tuple[Purpose | None, str]] = {
    "V": (Purpose.STOLEN_VEHICLE, "stolen vehicle"),
    "R": (Purpose.STOLEN_VEHICLE, "stolen Canadian vehicle"),
    "P": (Purpose.STOLEN_PLATE, "stolen plate"),
    "W": (Purpose.WANTED_PERSON, "wanted person"),
    "F": (Purpose.VIOLENT_CRIME, "felony vehicle"),
    "L": (Purpose.VIOLENT_CRIME, "violent person"),
    "M": (Purpose.MISSING_PERSON, "missing person"),
    "A": (Purpose.MISSING_PERSON, "AMBER alert"),
    "T": (Purpose.TERRORISM, "gang or terrorist member"),
    "X": (None, "sex offender"),
    "C": (None, "supervised release"),
    "H": (None, "protection order"),
    "K": (None, "protective interest"),
}

#: California DOJ CLEW table kinds -> (purpose, label).
CA_DOJ_KINDS: dict[str, tuple[Purpose, str]] = {
    "svs": (Purpose.STOLEN_VEHICLE, "stolen vehicle"),
    "sfr": (Purpose.VIOLENT_CRIME, "felony vehicle"),
    "slr": (Purpose.STOLEN_PLATE, "stolen plate"),
}

#: Genetec attribute -> default 1-based column.
GENETEC_COLUMNS: dict[str, int] = {
    "Category": 1,
    "PlateState": 2,
    "PlateNumber": 3,
    "EffectiveDate": 4,
    "ExpiryDate": 5,
}
GENETEC_ATTRIBUTES = frozenset({*GENETEC_COLUMNS, "Reference", "Reason"})
GENETEC_DELIMITERS = {";": ";", ",": ",", ":": ":", "tab": "\t", "\t": "\t"}

CSV_COLUMNS = ("plate", "region", "purpose", "reference", "reason", "expires", "action")
_STATE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class Options:
    """What a line may lack, and how to read a format. ``now_ms`` is the import time."""

    now_ms: int
    expiry_days: int = 7
    country: str = "US"
    purpose: str | None = None
    reference: str | None = None
    reason: str | None = None
    expires_ms: int | None = None
    delimiter: str = ";"
    columns: dict[str, int] = field(default_factory=dict)
    kind: str | None = None


@dataclass(frozen=True)
class Parsed:
    """One record of the file: an entry to add (or, with ``remove``, a plate to remove), an error, or a line
    deliberately not imported (``skipped`` says why)."""

    line: int
    entry: EntryIn | None = None
    remove: bool = False
    field: str | None = None
    error: str | None = None
    skipped: str | None = None


def decode(data: bytes) -> str:
    """The file as text: UTF-8 (a BOM is dropped); binary content or another encoding refused clearly."""
    if b"\x00" in data[:65536]:
        raise InvalidInput("file: binary content (NUL bytes); expected a text hot-list file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(f"file: not UTF-8 text (line {line}, byte {exc.start}); re-save it as UTF-8") from None


def parse(data: bytes, fmt: str, options: Options) -> list[Parsed]:
    """Every record of ``data`` in format ``fmt`` (InvalidInput for a file that cannot be read at all)."""
    try:
        chosen = Format(fmt)
    except ValueError:
        raise InvalidInput(f"format: one of {', '.join(Format)} (not {fmt[:32]!r})") from None
    text = decode(data)
    if chosen is Format.CSV:
        return list(_csv(text, options))
    if chosen is Format.NCIC:
        return list(_ncic(text, options))
    if chosen is Format.CA_DOJ:
        return list(_ca_doj(text, options))
    return list(_genetec(text, options))


def region_of(state: str, country: str) -> str | None:
    """A two-letter state as ``<country>-<state>``; blank is no region; anything else is kept for validation."""
    state = state.strip().upper().replace("0", "O")
    if not state:
        return None
    return f"{country.upper()}-{state}" if _STATE.match(state) else state


def _expiry(text: str) -> int:
    """An ISO date (the last day, UTC), an ISO time with zone, or MM/DD/YYYY; ValueError otherwise."""
    text = text.strip()
    if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
        day = datetime.strptime(text, "%m/%d/%Y").date()
    elif re.fullmatch(r"\d{8}", text):
        day = datetime.strptime(text, "%Y%m%d").date()
    elif len(text) == 10:
        day = date.fromisoformat(text)
    else:
        return parse_iso_ms(text)
    return int(datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC).timestamp() * 1000)


def _entry(options: Options, *, plate: str, purpose: str | None, reference: str | None, reason: str | None,
           region: str | None, expires_ms: int | None = None) -> EntryIn:  # fmt: skip
    default_expiry = options.expires_ms or options.now_ms + options.expiry_days * DAY_MS
    return EntryIn(
        plate=plate,
        purpose=purpose or options.purpose,
        reference=reference or options.reference,
        reason=reason or options.reason,
        expires_ms=expires_ms or default_expiry,
        region=region,
    )


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        yield number, line.rstrip("\r\n")


def _too_long(number: int, line: str) -> Parsed | None:
    if len(line) > MAX_LINE:
        return Parsed(number, field="line", error=f"longer than {MAX_LINE} characters")
    return None


# -- canonical CSV ---------------------------------------------------------------------------------------------
def _csv(text: str, options: Options) -> Iterator[Parsed]:
    if any(len(line) > MAX_LINE for line in text.splitlines()):
        number = next(n for n, line in enumerate(text.splitlines(), 1) if len(line) > MAX_LINE)
        raise InvalidInput(f"file: line {number} is longer than {MAX_LINE} characters")
    reader = csv.reader(text.splitlines())
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise InvalidInput(f"file: line 1: {exc}") from None
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if "plate" not in header or unknown or len(set(header)) != len(header):
        raise InvalidInput(
            "file: line 1 must be a header naming plate and any of " + ", ".join(CSV_COLUMNS[1:])
            + (f" (unknown: {', '.join(u[:32] for u in unknown)})" if unknown else "")
        )  # fmt: skip
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Parsed(reader.line_num, field="line", error=str(exc))
            continue
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield Parsed(number, field="line", error=f"{len(row)} columns, the header has {len(header)}")
            continue
        values = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
        action = (values.get("action") or "add").lower()
        if action not in ("add", "remove"):
            yield Parsed(number, field="action", error="add or remove")
            continue
        expires_ms = None
        if values.get("expires"):
            try:
                expires_ms = _expiry(values["expires"])
            except ValueError:
                yield Parsed(number, field="expires", error="an ISO date like 2027-06-30, or a time with a zone")
                continue
        entry = _entry(
            options,
            plate=values["plate"],
            purpose=values.get("purpose") or None,
            reference=values.get("reference") or None,
            reason=values.get("reason") or None,
            region=region_of(values["region"], options.country) if values.get("region") else None,
            expires_ms=expires_ms,
        )
        yield Parsed(number, entry=entry, remove=action == "remove")


# -- NCIC fixed-width extract ----------------------------------------------------------------------------------
def _ncic(text: str, options: Options) -> Iterator[Parsed]:
    for number, line in _lines(text):
        if not line.strip():
            continue
        if (refused := _too_long(number, line)) is not None:
            yield refused
            continue
        code, nic, when, plate, state = line[:1], line[1:10].strip(), line[19:27], line[27:37], line[37:39]
        if number == 1 and (code not in NCIC_CODES or not when.isdigit()):
            continue  # the extract's header line
        if len(line) < 39:
            yield Parsed(number, field="line", error=f"{len(line)} characters; an NCIC record has at least 39")
            continue
        if code not in NCIC_CODES:
            yield Parsed(number, field="parse_code", error=f"unknown NCIC parse code {code!r}")
            continue
        purpose, label = NCIC_CODES[code]
        if purpose is None:
            yield Parsed(number, skipped=f"NCIC {code} record ({label}): no purpose of the taxonomy; not imported")
            continue
        if not _is_date(when, "%Y%m%d"):
            yield Parsed(number, field="date", error=f"{when.strip()!r} is not a date YYYYMMDD (columns 20-27)")
            continue
        entry = _entry(
            options,
            plate=plate.strip(),
            purpose=purpose.value,
            reference=nic or None,
            reason=f"NCIC {code} record ({label}) of {when}",
            region=region_of(state, options.country),
        )
        yield Parsed(number, entry=entry)


def _is_date(text: str, pattern: str) -> bool:
    try:
        datetime.strptime(text, pattern)
    except ValueError:
        return False
    return True


# -- California DOJ CLEW tables --------------------------------------------------------------------------------
def _ca_doj(text: str, options: Options) -> Iterator[Parsed]:
    kind = (options.kind or "").lower()
    if kind not in CA_DOJ_KINDS:
        raise InvalidInput("kind: the CA DOJ table, one of svs, sfr or slr (from the file name svs.tbl ...)")
    purpose, label = CA_DOJ_KINDS[kind]
    for number, line in _lines(text):
        if not line.strip() or line.startswith("DATE") or line.startswith("TOTAL RECORD"):
            continue
        if (refused := _too_long(number, line)) is not None:
            yield refused
            continue
        if len(line) < 20:
            yield Parsed(number, field="line", error=f"{len(line)} characters; a CLEW record has 20")
            continue
        plate, state, county, when = line[0:8], line[8:10], line[10:12], line[12:20]
        if not _is_date(when, "%Y%m%d"):
            yield Parsed(number, field="date", error=f"{when!r} is not a date YYYYMMDD (columns 13-20)")
            continue
        entry = _entry(
            options,
            plate=plate.strip(),
            purpose=purpose.value,
            reference=f"CADOJ-{kind.upper()}-{county.strip() or '00'}-{when}",
            reason=f"CA DOJ {kind}.tbl ({label}), date of loss {when}",
            region=region_of(state, options.country),
        )
        yield Parsed(number, entry=entry)


def kind_from_filename(name: str | None) -> str | None:
    """``svs.tbl`` -> ``svs`` (the CLEW table kind), else None."""
    stem = (name or "").rsplit("/", 1)[-1].split(".", 1)[0].lower()
    return stem if stem in CA_DOJ_KINDS else None


# -- Genetec-style delimited -----------------------------------------------------------------------------------
def parse_columns(text: str | None) -> dict[str, int]:
    """``PlateNumber=1,PlateState=2`` -> positions (1-based); InvalidInput naming what is wrong."""
    columns: dict[str, int] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, position = part.partition("=")
        name = name.strip()
        if name not in GENETEC_ATTRIBUTES:
            known = ", ".join(sorted(GENETEC_ATTRIBUTES))
            raise InvalidInput(f"columns: unknown attribute {name[:32]!r}; one of {known}")
        if not position.strip().isdigit() or not 1 <= int(position) <= 64:
            raise InvalidInput(f"columns: {name} needs a column number 1-64")
        columns[name] = int(position)
    return columns


def _genetec(text: str, options: Options) -> Iterator[Parsed]:
    delimiter = GENETEC_DELIMITERS.get(options.delimiter)
    if delimiter is None:
        raise InvalidInput("delimiter: one of ; , : or tab")
    columns = options.columns or GENETEC_COLUMNS
    if "PlateNumber" not in columns:
        raise InvalidInput("columns: PlateNumber is required")
    if len(set(columns.values())) != len(columns):
        raise InvalidInput("columns: two attributes share a column")
    for number, line in _lines(text):
        if not line.strip():
            continue
        if (refused := _too_long(number, line)) is not None:
            yield refused
            continue
        cells = line.split(delimiter)

        def cell(name: str, cells: list[str] = cells) -> str:
            position = columns.get(name)
            return cells[position - 1].strip() if position and position <= len(cells) else ""

        if number == 1 and cell("PlateNumber").lower() == "platenumber":
            continue  # a header line
        if columns["PlateNumber"] > len(cells):
            missing = f"no column {columns['PlateNumber']} (the line has {len(cells)})"
            yield Parsed(number, field="PlateNumber", error=missing)
            continue
        expires_ms = None
        if expiry := cell("ExpiryDate"):
            try:
                expires_ms = _expiry(expiry)
            except ValueError:
                yield Parsed(number, field="ExpiryDate", error="a date like 2027-06-30 or 06/30/2027")
                continue
        if (effective := cell("EffectiveDate")) and not _is_any_date(effective):
            yield Parsed(number, field="EffectiveDate", error="a date like 2027-06-30 or 06/30/2027")
            continue
        category = cell("Category")
        known = {p.value for p in Purpose}
        entry = _entry(
            options,
            plate=cell("PlateNumber"),
            purpose=category.lower() if category.lower() in known else None,
            reference=cell("Reference") or None,
            reason=cell("Reason") or (f"Genetec hot list, category {category[:64]}" if category else None),
            region=region_of(cell("PlateState"), options.country),
            expires_ms=expires_ms,
        )
        yield Parsed(number, entry=entry)


def _is_any_date(text: str) -> bool:
    try:
        _expiry(text)
    except ValueError:
        return False
    return True

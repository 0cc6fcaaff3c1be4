"""The hot-list import parsers on hand-written lines built from the documented layouts (docs/hotlists.md)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plateledger.core.errors import InvalidInput
from plateledger.hotlists.imports import MAX_LINE, Options, kind_from_filename, parse, parse_columns, region_of
from tests.support import DAY_MS, NOW_MS

OPTIONS = Options(now_ms=NOW_MS, expiry_days=7)


def ncic(code: str, nic: str, plate: str, state: str, when: str = "20250520", ori: str = "CA0123400") -> str:
    """One NCIC-style record: [0] code, [1:10] NIC, [10:19] ORI, [19:27] date, [27:37] plate, [37:39] state."""
    return f"{code}{nic:<9}{ori:<9}{when}{plate:<10}{state}2026  2019HONDCIV  BLK"


def test_ncic_layout_purposes_and_defaults() -> None:
    text = "\n".join(
        [
            "NCIC VEHICLE EXTRACT 20250601",
            ncic("V", "V12345678", "7ABC123", "CA"),
            ncic("P", "P00000001", "XYZ99", "0R"),
            ncic("X", "X00000002", "SEX1", "CA"),
            ncic("F", "F00000003", "FEL123", "NV"),
        ]
    )
    parsed = parse(text.encode(), "ncic", OPTIONS)
    assert [p.line for p in parsed] == [2, 3, 4, 5]
    first = parsed[0].entry
    assert first is not None
    assert (first.plate, first.region, first.purpose, first.reference) == (
        "7ABC123",
        "US-CA",
        "stolen_vehicle",
        "V12345678",
    )
    assert first.reason == "NCIC V record (stolen vehicle) of 20250520"
    assert first.expires_ms == NOW_MS + 7 * DAY_MS
    assert parsed[1].entry is not None
    assert parsed[1].entry.region == "US-OR"
    assert parsed[1].entry.purpose == "stolen_plate"
    assert parsed[2].entry is None
    assert parsed[2].skipped
    assert "sex offender" in parsed[2].skipped
    assert parsed[3].entry is not None
    assert parsed[3].entry.purpose == "violent_crime"


def test_ncic_errors_name_line_and_field() -> None:
    text = "\n".join(
        [
            ncic("V", "V1", "AAA111", "CA"),
            "V123",
            ncic("Q", "Q1", "BBB222", "CA"),
            ncic("V", "V2", "C", "CA", "2025XX01"),
        ]
    )
    parsed = parse(text.encode(), "ncic", OPTIONS)
    assert [(p.line, p.field) for p in parsed] == [(1, None), (2, "line"), (3, "parse_code"), (4, "date")]


def test_ca_doj_layout_header_footer_and_kind() -> None:
    text = "DATE06/01/2025 04:00\nABC1234 CA1220190515\nXYZ999  CA0220180430\nTOTAL RECORD 0000002\n"
    parsed = parse(text.encode(), "ca-doj", Options(now_ms=NOW_MS, kind="slr"))
    assert [p.line for p in parsed] == [2, 3]
    entry = parsed[0].entry
    assert entry is not None
    assert (entry.plate, entry.region, entry.purpose) == ("ABC1234", "US-CA", "stolen_plate")
    assert entry.reference == "CADOJ-SLR-12-20190515"
    assert kind_from_filename("/exports/svs.tbl") == "svs"
    assert kind_from_filename("list.txt") is None
    with pytest.raises(InvalidInput, match="kind"):
        parse(text.encode(), "ca-doj", OPTIONS)
    bad = parse(b"ABC1234 CA12201913XX\nSHORT\n", "ca-doj", Options(now_ms=NOW_MS, kind="svs"))
    assert [(p.line, p.field) for p in bad] == [(1, "date"), (2, "line")]


def test_genetec_default_and_custom_columns() -> None:
    text = "Category;PlateState;PlateNumber;EffectiveDate;ExpiryDate\nstolen_vehicle;QC;DEF228;2025-01-31;2025-06-30\n"
    parsed = parse(text.encode(), "genetec", OPTIONS)
    assert len(parsed) == 1
    entry = parsed[0].entry
    assert entry is not None
    assert (entry.plate, entry.region, entry.purpose) == ("DEF228", "US-QC", "stolen_vehicle")
    assert entry.expires_ms == NOW_MS + 29 * DAY_MS + 12 * 3_600_000  # end of 2025-06-30, UTC
    custom = Options(now_ms=NOW_MS, delimiter="tab", columns=parse_columns("PlateNumber=1,PlateState=2,Reference=3"))
    parsed = parse(b"ABC123\tNY\tCASE-9\n", "genetec", custom)
    assert parsed[0].entry is not None
    assert parsed[0].entry.reference == "CASE-9"
    assert parsed[0].entry.region == "US-NY"
    bad = parse(b"Stolen;CA;ABC;2025-01-01;31/31/2025\nStolen;CA\n", "genetec", OPTIONS)
    assert [(p.line, p.field) for p in bad] == [(1, "ExpiryDate"), (2, "PlateNumber")]
    with pytest.raises(InvalidInput, match="columns"):
        parse_columns("Plate=1")
    with pytest.raises(InvalidInput, match="delimiter"):
        parse(b"x", "genetec", Options(now_ms=NOW_MS, delimiter="|"))


def test_canonical_csv() -> None:
    text = (
        "plate,region,purpose,reference,reason,expires,action\n"
        "7abc 123,us-ca,stolen_vehicle,CASE-1,stolen,2025-06-30,\n"
        "\n"
        "ABC*,,,,pattern,,add\n"
        "XYZ1,,,,,,remove\n"
        "BAD1,,,,,not-a-date,\n"
        "A,B\n"
    )
    parsed = parse(text.encode(), "csv", Options(now_ms=NOW_MS, reference="DEFAULT-REF"))
    assert [p.line for p in parsed] == [2, 4, 5, 6, 7]
    first = parsed[0].entry
    assert first is not None
    assert (first.plate, first.region, first.reference) == ("7abc 123", "US-CA", "CASE-1")
    assert parsed[1].entry is not None
    assert parsed[1].entry.reference == "DEFAULT-REF"
    assert parsed[2].remove
    assert (parsed[3].field, parsed[4].field) == ("expires", "line")
    with pytest.raises(InvalidInput, match="header"):
        parse(b"7ABC123,CA\n", "csv", OPTIONS)
    with pytest.raises(InvalidInput, match="unknown: colour"):
        parse(b"plate,colour\n", "csv", OPTIONS)


def test_hostile_input_is_refused_clearly() -> None:
    with pytest.raises(InvalidInput, match="binary"):
        parse(b"\x00\x01\x02PK", "csv", OPTIONS)
    with pytest.raises(InvalidInput, match="not UTF-8 text \\(line 2"):
        parse(b"plate\n\xff\xfeABC\n", "csv", OPTIONS)
    with pytest.raises(InvalidInput, match="format"):
        parse(b"plate\n", "xml", OPTIONS)
    with pytest.raises(InvalidInput, match="longer than"):
        parse(b"plate\n" + b"A" * (MAX_LINE + 1), "csv", OPTIONS)
    long_line = parse(b"V" * (MAX_LINE + 1), "ncic", OPTIONS)
    assert [(p.line, p.field) for p in long_line] == [(1, "line")]


def test_region_of() -> None:
    assert region_of("ca", "US") == "US-CA"
    assert region_of("ON", "CA") == "CA-ON"
    assert region_of("  ", "US") is None
    assert region_of("US-TX", "US") == "US-TX"


@given(st.binary(max_size=2000), st.sampled_from(["csv", "ncic", "ca-doj", "genetec"]))
def test_any_bytes_give_lines_or_a_clear_error(data: bytes, fmt: str) -> None:
    try:
        parsed = parse(data, fmt, Options(now_ms=NOW_MS, kind="svs"))
    except InvalidInput as refused:
        detail = refused.detail
        assert detail
        return
    for line in parsed:
        assert line.line >= 1
        assert (line.entry is not None) + (line.error is not None) + (line.skipped is not None) == 1

"""`plateledger oversight analyse` on generated Flock network-audit and Reason,DateTime exports: the report is
written (JSON and self-contained HTML) with the seeded patterns flagged, and malformed files are refused with a
line number and exit 2, never a traceback. The command needs no data directory and writes none."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plateledger.cli.main import main
from plateledger.oversight.timetext import parse_ms

START = datetime(2025, 11, 1, tzinfo=UTC)
FLOCK_HEADER = (
    "ID,Org_Name,Total_Networks_Searched,Total_Devices_Searched,Time_Frame_Start,Time_Frame_End,Reason,"
    "Search_Time,Search_Type,Moderation"
)
HONEST_REASONS = ("{} stolen veh", "459", "{}", "hit and run {}", "missing person {}")


def honest_reason(rng: random.Random) -> str:
    """A reason citing one of many cases (each case a few searches), or a penal-code number."""
    return rng.choice(HONEST_REASONS).format(f"25-{rng.randrange(10_000, 10_700):05d}")


def flock_time(when: datetime, zone: str = "UTC") -> str:
    return when.strftime("%m/%d/%Y, %I:%M:%S %p ") + zone


def quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def write_flock(path: Path, *, seed: int = 1) -> None:
    """A network search audit, newest first, CRLF, a byte-order mark, quoted network counts with commas; seeded:
    an org's burst of 60 searches two seconds apart, vague reasons, immigration reasons, a blank reason."""
    rng = random.Random(seed)
    rows = []
    orgs = [f"{name} PD" for name in ("Lakeside IL", "Rivertown TX", "Oak Hill GA", "Pine County SO", "Westfield")]
    for _i in range(3000):
        when = START + timedelta(seconds=rng.randrange(30 * 86400))
        reason = honest_reason(rng)
        rows.append((rng.choice(orgs), when, reason, rng.choice(("lookup", "Search", "freeform", "multiGeo"))))
    burst_start = START + timedelta(days=12, hours=3)
    rows += [("Machine Pace SO", burst_start + timedelta(seconds=2 * i), "bolo", "lookup") for i in range(60)]
    rows += [("Side Door PD", START + timedelta(days=d, hours=5), "ICE+ERO", "lookup") for d in range(5)]
    rows += [("Side Door PD", START + timedelta(days=20, hours=1), "immigration protest", "freeform")]
    rows += [("Vague PD", START + timedelta(days=3, minutes=m), r, "search") for m, r in enumerate(("inv", "", "INV"))]
    rows.sort(key=lambda r: r[1], reverse=True)
    lines = [FLOCK_HEADER]
    for number, (org, when, reason, kind) in enumerate(rows, start=1):
        networks = quote(f"{rng.choice((1, 12, 6809)):,}")
        start = flock_time(when - timedelta(days=30))
        moderation = rng.choice(("allow", "warn", "block")) if kind == "freeform" else ""
        zone = "UTC" if number % 7 else "Coordinated Universal Time"
        lines.append(
            ",".join(
                [
                    str(number),
                    org,
                    networks,
                    "83345",
                    quote(start),
                    quote(flock_time(when)),
                    quote(reason),
                    quote(flock_time(when, zone)),
                    kind,
                    moderation,
                ]
            )
        )
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())


def write_reason_datetime(path: Path) -> None:
    """Local times, reasons mostly case numbers; seeded: a case cited on 40 days, a burst, a test search."""
    rng = random.Random(2)
    rows = [(honest_reason(rng), START + timedelta(seconds=rng.randrange(90 * 86400))) for _ in range(2000)]
    rows += [("19-00042", START + timedelta(days=d * 2, hours=9)) for d in range(40)]
    rows += [("22-333", START + timedelta(days=50, hours=10, seconds=5 * i)) for i in range(40)]
    rows += [("test", START + timedelta(days=51, hours=11))]
    lines = ["Reason,DateTime"] + [f"{quote(r)},{w.strftime('%Y-%m-%d %H:%M:%S')}" for r, w in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["plateledger", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), captured.out, captured.err


@pytest.fixture(autouse=True)
def _no_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLATELEDGER_DATA", str(tmp_path / "must-not-exist"))


def test_flock_export_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "flock.csv"
    write_flock(export)
    code, out, err = run(monkeypatch, capsys, "oversight", "analyse", str(export), "--format", "flock", "--out", "rep")
    assert code == 0, err
    assert "wrote" in out
    report = orjson.loads((tmp_path / "rep" / "report.json").read_bytes())
    assert report["source"]["searches"] == 3069
    assert report["source"]["refs"] == "line numbers"
    rules = {r["id"]: r for r in report["rules"]}
    assert not rules["volume.peers"]["ran"]
    assert "user" in rules["volume.peers"]["why_not"]
    assert rules["volume.burst"]["ran"]
    bursts = [f for f in report["flags"] if f["rule"] == "volume.burst"]
    assert [f["actor"] for f in bursts] == ["Machine Pace SO"]
    assert bursts[0]["numbers"]["searches"] == 60
    prohibited = [f for f in report["flags"] if f["rule"] == "text.prohibited" and f["actor"] == "Side Door PD"]
    assert sum(f["numbers"]["searches"] for f in prohibited if f["numbers"]["category"] == "immigration") == 6
    assert sum(f["numbers"]["searches"] for f in prohibited if f["numbers"]["category"] == "protest") == 1
    assert {f["rule"] for f in report["flags"]} <= {"volume.burst", "text.prohibited", "reason.content_free"}
    vague = [f for f in report["flags"] if f["rule"] == "reason.content_free" and f["actor"] == "Vague PD"]
    assert sum(f["numbers"]["searches"] for f in vague) == 3
    assert not [f for f in report["flags"] if f["rule"] == "reason.content_free" and f["actor"].startswith("Lake")]
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "<svg" in html
    assert "<script" not in html
    assert "http://" not in html
    assert "https://" not in html
    assert "Machine Pace SO" in html
    assert "could not" in html
    assert not (tmp_path / "must-not-exist").exists()
    assert not (tmp_path / "plateledger-data").exists()


def test_reason_datetime_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "reasons.csv"
    write_reason_datetime(export)
    args = ["oversight", "analyse", str(export), "--format", "reason-datetime", "--timezone", "America/Chicago"]
    code, out, err = run(monkeypatch, capsys, *args, "--case-pattern", r"\d{2}-\d{5}", "--json")
    assert code == 0, err
    summary = orjson.loads(out)
    assert {r["id"] for r in summary["rules"] if r["ran"]} >= {"case.spread", "volume.burst", "search.test"}
    report = orjson.loads((tmp_path / "oversight-report" / "report.json").read_bytes())
    spread = [f for f in report["flags"] if f["rule"] == "case.spread"]
    assert [f["cases"] for f in spread] == [["19-00042"]]
    assert spread[0]["numbers"]["days"] == 40
    off_pattern = {c for f in report["flags"] if f["rule"] == "case.pattern" for c in f["cases"]}
    assert off_pattern == {"22-333"}  # the searches citing "459" carry no case number at all
    assert any(f["rule"] == "search.test" for f in report["flags"])
    assert spread[0]["first"] == "2025-11-01T14:00:00Z"  # 09:00 in Chicago (daylight time)


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (b"", 1, "empty file"),
        (b"Reason,When\n", 1, "no DateTime column"),
        (b"Reason,DateTime\n21-1,2021-12-14 08:49:47\n459,yesterday\n", 3, "not a date and time"),
        (b"Reason,DateTime\n21-1,2021-13-14 08:49:47\n", 2, "month must be in 1..12"),
        (b"Reason,DateTime\n21-1,2021-12-14 08:49:47,extra\n", 2, "3 fields"),
        (b'Reason,DateTime\n"open quote,2021-12-14 08:49:47\n', 3, "not CSV"),
        (b"Reason,DateTime\n21-1,12/14/2021 08:49 PM Mars Time\n", 2, "unknown time zone"),
        (b"Reason,DateTime\n21-1,\n", 2, "DateTime is blank"),
        (b"Reason,DateTime\n\x00\x01\x02,\n", 2, "NUL"),
    ],
)
def test_malformed_reason_datetime_refused_with_the_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    line: int,
    words: str,
) -> None:
    export = tmp_path / "bad.csv"
    export.write_bytes(content)
    code, _out, err = run(monkeypatch, capsys, "oversight", "analyse", str(export), "--format", "reason-datetime")
    assert code == 2, err
    assert f"bad.csv line {line}:" in err, err
    assert words in err, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "oversight-report").exists()


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ('1,X,"6,809x",1,,,bolo,"11/14/2025, 09:53:36 AM UTC",lookup,', "not a whole number"),
        ('1,X,1,1,,,bolo,"11/14/2025, 13:53:36 PM UTC",lookup,', "hour 13 with AM/PM"),
        ("1,X,1,1,,,bolo,,lookup,", "Search_Time is blank"),
    ],
)
def test_malformed_flock_refused_with_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], row: str, words: str
) -> None:
    export = tmp_path / "bad.csv"
    export.write_text(f"{FLOCK_HEADER}\n{row}\n")
    code, _, err = run(monkeypatch, capsys, "oversight", "analyse", str(export), "--format", "flock")
    assert code == 2, err
    assert "bad.csv line 2:" in err, err
    assert words in err, err


def test_wrong_format_name_and_missing_file_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(monkeypatch, capsys, "oversight", "analyse", "nope.csv", "--format", "pdf")
    assert code == 2
    assert "format" in err
    code, _, err = run(monkeypatch, capsys, "oversight", "analyse", "nope.csv", "--format", "flock")
    assert code == 2
    assert "cannot be read" in err
    assert "Traceback" not in err


def test_windows_1252_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "latin.csv"
    export.write_bytes("Reason,DateTime\r\nCaf\u00e9 burglary 25-00001,2025-01-02 03:04:05\r\n".encode("cp1252"))
    code, _, err = run(monkeypatch, capsys, "oversight", "analyse", str(export), "--format", "reason-datetime")
    assert code == 0, err
    assert orjson.loads((tmp_path / "oversight-report" / "report.json").read_bytes())["source"]["encoding"] == "cp1252"


@settings(max_examples=200, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
        lambda d: d.replace(microsecond=0, tzinfo=UTC)
    )
)
def test_flock_times_round_trip(when: datetime) -> None:
    assert parse_ms(flock_time(when), UTC) == int(when.timestamp() * 1000)
    assert parse_ms(when.strftime("%Y-%m-%d %H:%M:%S"), UTC) == int(when.timestamp() * 1000)
    eastern = when.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert parse_ms(flock_time(eastern, "America/New_York"), UTC) == int(when.timestamp() * 1000)

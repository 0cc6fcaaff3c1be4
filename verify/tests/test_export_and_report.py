"""plateledger-verify check-export and report against a real log served over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plateledger_verify.cli import main
from plateledger_verify.leaf import Owners
from tlog_server import HOUR_MS, NOV_MS, TestLog, policy_text, serving

DEC_MS = NOV_MS + 30 * 24 * HOUR_MS
FIRST_CAMERA_HOUR = NOV_MS // HOUR_MS + 5
DENY = "no sharing agreement with this owner (default deny)"
PROHIBITED = "purpose prohibited by the owner's policy"


def _history(log: TestLog) -> None:
    """October noise, a November of searches, alerts and exports touching alpha in every way, then December."""
    for i in range(20):
        log.add(ts_ms=NOV_MS - (20 - i) * HOUR_MS, agency="beta", owners=Owners({"alpha": 1}, {}))
    at = NOV_MS
    for i in range(400):
        at += HOUR_MS + 1_000  # past the first camera's hour after a few
        kind = i % 8
        if kind == 0:  # alpha's own search of its reads
            log.add(ts_ms=at, agency="alpha", owners=Owners({"alpha": 3, "beta": 0}, {}))
        elif kind == 1:  # beta searches; alpha permits
            log.add(ts_ms=at, agency="beta", purpose="wanted_person", owners=Owners({"alpha": 2}, {}))
        elif kind == 2:  # gamma searches; alpha withholds by name
            log.add(
                ts_ms=at, agency="gamma", purpose="immigration_enforcement", owners=Owners({}, {"alpha": PROHIBITED})
            )
        elif kind == 3:  # fed searches; everyone else withheld (alpha included once it has a camera)
            log.add(ts_ms=at, agency="fed", owners=Owners({"beta": 1}, {}, DENY))
        elif kind == 4:
            log.add(ts_ms=at, action="alert.raised", agency=None, purpose=None, owners=Owners({"alpha": 1}, {}))
        elif kind == 5:
            log.add(ts_ms=at, action="alert.withheld", agency=None, purpose=None, owners=Owners({}, {"alpha": DENY}))
        elif kind == 6:
            log.add(ts_ms=at, action="search.exported", agency="beta", purpose=None, owners=Owners({"alpha": 2}, {}))
        else:  # not a search at all
            log.add(ts_ms=at, action="user.login", agency="alpha", purpose=None, outcome="ok", counts={})
    for i in range(30):
        log.add(ts_ms=DEC_MS + i * HOUR_MS, agency="alpha", owners=Owners({"alpha": 1}, {}))


def _published(log: TestLog) -> dict[str, Any]:
    """alpha's figures for November as the server computes them (written independently of the recount)."""
    s: dict[str, Any] = {"total": 0, "permitted": 0, "withheld": 0, "reads_returned": 0}
    purposes: dict[str, dict[str, int]] = {}
    requesters: dict[str, dict[str, int]] = {}
    rules: dict[str, int] = {}
    alerts = {"raised": 0, "withheld": 0}
    alert_rules: dict[str, int] = {}
    for e in log.entries:
        if not NOV_MS <= e.ts_ms < DEC_MS:
            continue
        if e.action == "alert.raised":
            alerts["raised"] += 1
            continue
        if e.action == "alert.withheld":
            alerts["withheld"] += 1
            alert_rules[DENY] = alert_rules.get(DENY, 0) + 1
            continue
        if e.action == "user.login":
            continue
        if "alpha" in e.owners.per_owner:
            outcome, rows, rule = "permitted", e.owners.per_owner["alpha"], None
        elif "alpha" in e.owners.withheld:
            outcome, rows, rule = "withheld", None, e.owners.withheld["alpha"]
        elif e.owners.withheld_others and e.ts_ms // HOUR_MS >= FIRST_CAMERA_HOUR:
            outcome, rows, rule = "withheld", None, e.owners.withheld_others
        else:
            continue
        s["total"] += 1
        s[outcome] += 1
        s["reads_returned"] += rows or 0
        purpose, requester = e.purpose or "none", e.agency or "unknown"
        purposes.setdefault(purpose, {"permitted": 0, "withheld": 0})[outcome] += 1
        requesters.setdefault(requester, {"permitted": 0, "withheld": 0})[outcome] += 1
        if rule:
            rules[rule] = rules.get(rule, 0) + 1
    s["by_purpose"] = [{"purpose": p, **c} for p, c in sorted(purposes.items())]
    s["by_requester"] = [{"agency": a, "name": a, "own": a == "alpha", **c} for a, c in sorted(requesters.items())]
    s["refusals_by_rule"] = [{"rule": r, "count": n} for r, n in rules.items()]
    s["alerts"] = {**alerts, "withheld_by_rule": [{"rule": r, "count": n} for r, n in alert_rules.items()]}
    return {
        "agency": {"slug": "alpha", "name": "Alpha PD"},
        "period": {"days": 30, "month": "2026-11", "since": "2026-11-01T00:00:00.000Z"},
        "cameras": {"total": 2, "fixed": 1, "mobile": 1, "first_added_hour": FIRST_CAMERA_HOUR},
        "searches": s,
    }


@pytest.fixture
def log(tmp_path: Path) -> TestLog:
    built = TestLog(tmp_path / "served")
    _history(built)
    built.publish()
    built.serve_json("transparency/alpha.json", _published(built))
    return built


@pytest.fixture
def state(tmp_path: Path, log: TestLog) -> Iterator[Path]:
    with serving(log.root) as url:
        policy = tmp_path / "policy"
        policy.write_text(policy_text())
        path = tmp_path / "state"
        assert main(["init", "--policy", str(policy), "--url", url, "--state", str(path)]) == 0
        assert main(["update", "--state", str(path)]) == 0
        yield path


def _export(tmp_path: Path, log: TestLog, change: Any = None) -> Path:
    export = log.export("alpha", NOV_MS, DEC_MS)
    if change is not None:
        change(export)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    return path


def test_check_export_proves_every_entry(
    tmp_path: Path, log: TestLog, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = _export(tmp_path, log)
    assert main(["check-export", str(export), "--state", str(state)]) == 0
    out = capsys.readouterr().out
    count = len(json.loads(export.read_text())["entries"])
    assert count == 100
    assert (
        f"OK: {count} entries of alpha for 2026-11 are in audit.example.org/log at tree size 450, none left out" in out
    )

    # Past audit retention: the salt deleted, the entry proven by its public part alone.
    def expire(e: dict[str, Any]) -> None:
        for entry in e["entries"][:3]:
            entry["private"] = entry["salt"] = None

    assert main(["check-export", str(_export(tmp_path, log, expire)), "--state", str(state)]) == 0


def test_an_altered_private_part_names_its_entry(
    tmp_path: Path, log: TestLog, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def alter(e: dict[str, Any]) -> None:
        e["entries"][7]["private"]["case_number"] = "CASE-OTHER"

    seq = log.export("alpha", NOV_MS, DEC_MS)["entries"][7]["seq"]
    assert main(["check-export", str(_export(tmp_path, log, alter)), "--state", str(state)]) == 7
    assert f"entry {seq} is not as logged" in capsys.readouterr().err


def test_an_entry_removed_from_the_served_log_is_named(
    tmp_path: Path, log: TestLog, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = _export(tmp_path, log)
    victim = json.loads(export.read_text())["entries"][60]["seq"]
    del log.entries[victim - 1]  # the operator deletes it, renumbers, re-hashes and re-signs; the log grows on
    for i in range(5):
        log.add(ts_ms=DEC_MS + (40 + i) * HOUR_MS)
    log.publish()
    # Against the checkpoint this verifier kept: the served tiles no longer prove; the entry is named.
    assert main(["check-export", str(export), "--state", str(state)]) == 7
    assert f"entry {victim} is not in the log" in capsys.readouterr().err
    # A fresh verifier trusting the rewritten log on first use: the tree proves, but not that entry.
    fresh = tmp_path / "fresh"
    url = json.loads((state / "config.json").read_text())["url"]
    assert main(["init", "--policy", str(tmp_path / "policy"), "--url", url, "--state", str(fresh)]) == 0
    assert main(["update", "--state", str(fresh)]) == 0
    assert main(["check-export", str(export), "--state", str(fresh)]) == 7
    assert f"entry {victim} is not in the log" in capsys.readouterr().err


def test_an_entry_altered_in_the_served_log_is_named(
    tmp_path: Path, log: TestLog, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = _export(tmp_path, log)
    victim = json.loads(export.read_text())["entries"][99]["seq"]
    log.entries[victim - 1].purpose = "other"
    log.publish()
    assert main(["check-export", str(export), "--state", str(state)]) == 7
    assert f"entry {victim} is not in the log" in capsys.readouterr().err


def test_an_export_that_leaves_an_entry_out_fails(
    tmp_path: Path, log: TestLog, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left_out: list[int] = []

    def drop(e: dict[str, Any]) -> None:
        left_out.append(e["entries"].pop(0)["seq"])  # the month's first: found only by reading the tree
        e["entries"].pop(40)

    assert main(["check-export", str(_export(tmp_path, log, drop)), "--state", str(state)]) == 7
    assert f"the export leaves out entry {left_out[0]} of alpha in 2026-11 (and 1 more)" in capsys.readouterr().err


def test_report_recounts_the_published_figures(
    tmp_path: Path, log: TestLog, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--agency", "alpha", "--period", "2026-11", "--state", str(state)]) == 0
    published = _published(log)["searches"]
    assert f"all equal ({published['total']} searches)" in capsys.readouterr().out
    assert published["withheld"] > 0
    assert published["alerts"]["raised"] > 0


def test_report_names_each_figure_that_differs(
    tmp_path: Path, log: TestLog, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _published(log)
    report["searches"]["withheld"] -= 1  # one refusal left out of the published figures
    report["searches"]["refusals_by_rule"] = [r for r in report["searches"]["refusals_by_rule"] if r["rule"] != DENY]
    report["searches"]["alerts"]["raised"] += 2
    log.serve_json("transparency/alpha.json", report)
    assert main(["report", "--agency", "alpha", "--period", "2026-11", "--state", str(state)]) == 8
    err = capsys.readouterr().err
    assert "CountMismatchError: 3 figure(s) of alpha for 2026-11 differ" in err
    assert "searches.withheld: published" in err
    assert f"searches.refusals_by_rule[{DENY}]: published 0, recounted" in err
    assert "searches.alerts.raised: published" in err


def test_report_needs_the_month_to_be_over_in_the_tree(
    tmp_path: Path, log: TestLog, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--agency", "alpha", "--period", "2026-12", "--state", str(state)]) == 2
    assert "not for the month 2026-12" in capsys.readouterr().err
    december = _published(log) | {"period": {"month": "2026-12"}}
    log.serve_json("transparency/alpha.json", december)
    assert main(["report", "--agency", "alpha", "--period", "2026-12", "--state", str(state)]) == 1
    assert "does not reach past the end of 2026-12" in capsys.readouterr().err
    assert main(["report", "--agency", "alpha", "--period", "2026-13", "--state", str(state)]) == 2

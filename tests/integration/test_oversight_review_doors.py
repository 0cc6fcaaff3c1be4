"""The review queue and the case register through the CLI (on the data directory) and the API: the same library
operations, so the same answers, refusals and audit entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.cli.main import app
from plateledger.core.clock import FixedClock, SystemClock, iso_ms
from plateledger.core.errors import FieldInvalid, InvalidInput, PermissionDenied
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.review.register import make_case
from tests.integration.review_kit import configure, seed
from tests.support import DAY_MS, HOUR_MS, seed_agency

#: The CLI runs on the system clock (tokens must not have expired): the searches are made over the last hours.
START_MS = SystemClock().now_ms() - 6 * HOUR_MS


@pytest.fixture
def tokens(settings: Settings) -> dict[str, str]:
    """An agency with the seeded searches (appended, not yet read by any rule)."""
    platform = Platform.open(settings, clock=FixedClock(START_MS))
    try:
        kit = seed_agency(platform, "city")
        configure(platform, kit)
        seed(platform, platform.clock, kit)  # type: ignore[arg-type]
        return kit.tokens
    finally:
        platform.close()


def cli(settings: Settings, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--data", str(settings.data), "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_cli_run_queue_show_decide_and_cases(settings: Settings, tokens: dict[str, str], tmp_path: Path) -> None:
    auditor, admin = tokens["auditor"], tokens["admin"]
    since, until = iso_ms(START_MS - DAY_MS), iso_ms(START_MS + DAY_MS)
    ran = cli(settings, "oversight", "run", "--agency", "city", "--since", since, "--until", until)
    assert ran["raised"] >= 6
    queue = cli(settings, "oversight", "queue", "--agency", "city", "--token", auditor)
    groups = {(g["actor"], g["rule"]): g["flags"] for g in queue["groups"]}
    (burst,) = groups[("city/city-burst", "volume.burst")]
    shown = cli(settings, "oversight", "show", str(burst["id"]), "--agency", "city", "--token", auditor)
    assert len(shown["entries"]) == 30
    assert shown["threshold"] == {"burst_count": 30, "burst_minutes": 10}
    decided = cli(
        settings, "oversight", "decide", str(burst["id"]), "escalated", "--note", "ask the lieutenant",
        "--agency", "city", "--token", auditor,
    )  # fmt: skip
    assert decided["status"] == "escalated"
    with pytest.raises(PermissionDenied):
        cli(settings, "oversight", "queue", "--agency", "city", "--token", tokens["investigator"])
    register = tmp_path / "cases.csv"
    register.write_text("case_number,opened,closed,unit\n25-70001,2025-06-01,,Narcotics\n")
    assert cli(settings, "cases", "import", str(register), "--agency", "city", "--token", admin) == {
        "added": 1,
        "updated": 0,
    }
    assert cli(settings, "cases", "unit", "city-burst", "Narcotics", "--agency", "city", "--token", admin)["unit"]
    listed = cli(settings, "cases", "list", "--agency", "city", "--token", auditor)
    assert "25-70001" in {c["case_number"] for c in listed}
    register.write_text("case_number,opened\n25-1,2025-06-01\n25-2,June\n")
    with pytest.raises(InvalidInput, match="line 3"):
        cli(settings, "cases", "import", str(register), "--agency", "city", "--token", admin)


def test_api_queue_decision_and_cases(settings: Settings, tokens: dict[str, str]) -> None:
    platform = Platform.open(settings, clock=SystemClock())
    try:
        platform.oversight.catch_up()
        with TestClient(create_app(platform=platform)) as client:
            auditor = {"Authorization": f"Bearer {tokens['auditor']}"}
            queue = client.get("/api/v1/agencies/city/oversight/flags", headers=auditor).json()
            flag = next(g["flags"][0] for g in queue["groups"] if g["actor"] == "city/city-stale")
            evidence = client.get(f"/api/v1/agencies/city/oversight/flags/{flag['id']}", headers=auditor).json()
            assert evidence["entries"][0]["case_number"] == "19-00042"
            path = f"/api/v1/agencies/city/oversight/flags/{flag['id']}/decision"
            refused = client.post(path, json={"decision": "closed", "note": "x"}, headers=auditor)
            assert refused.status_code == 422
            answer = client.post(path, json={"decision": "confirmed", "note": "old case reused"}, headers=auditor)
            assert answer.json()["status"] == "confirmed"
            again = client.post(path, json={"decision": "dismissed", "note": "changed my mind"}, headers=auditor)
            assert again.status_code == 409
            admin = {"Authorization": f"Bearer {tokens['admin']}", "Content-Type": "text/csv"}
            imported = client.post(
                "/api/v1/agencies/city/cases/import", content=b"number,opened\n25-55555,2025-05-30\n", headers=admin
            )
            assert imported.json() == {"added": 1, "updated": 0}
            report = client.get("/transparency/city.json").json()
            stale = next(r for r in report["oversight"]["flags"] if r["rule"] == "case.stale")
            assert stale["confirmed"] == 1
    finally:
        platform.close()
    with pytest.raises(FieldInvalid):
        make_case("25-1", "2025-06-02", closed="2025-06-01")

"""Alert lifecycle through the HTTP API and the CLI: listing with filters, the audited view, confirm and dismiss
with a required note, each step on the audit log; verify-first on every answer; other agencies see nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from plateledger.alerts.service import VERIFY_FIRST
from plateledger.app import create_app
from plateledger.cli.main import app as cli_app
from plateledger.core.clock import SystemClock
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from tests.integration.alert_kit import VEHICLE, hot_list, raise_alert
from tests.support import AgencyKit, seed_agency


def auth(kit: AgencyKit, role: str = "investigator") -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.tokens[role]}"}


def last_entry(platform: Platform) -> tuple[str, dict[str, Any]]:
    entry = platform.audit.entries(after_seq=0, limit=100_000)[-1]
    return entry.action, orjson.loads(entry.params)


def test_lifecycle_through_the_api(platform: Platform) -> None:
    kit = seed_agency(platform, "lister-pd")
    other = seed_agency(platform, "other-pd")
    client = TestClient(create_app(platform=platform))
    entry = hot_list(platform, kit, "stolen", "7ABC123")
    first, second = (raise_alert(platform, kit, entry, f"r{n}") for n in (1, 2))

    listed = client.get("/api/v1/alerts", headers=auth(kit)).json()
    assert listed["verify_first"] == VERIFY_FIRST
    assert [a["id"] for a in listed["alerts"]] == [first, second]
    assert [a["id"] for a in client.get(f"/api/v1/alerts?after_id={first}", headers=auth(kit)).json()["alerts"]] == [
        second
    ]
    assert client.get("/api/v1/alerts?state=bogus", headers=auth(kit)).status_code == 422
    assert client.get("/api/v1/alerts", headers=auth(other)).json()["alerts"] == []
    assert client.get("/api/v1/alerts", headers=auth(kit, "auditor")).status_code == 403

    viewed = client.get(f"/api/v1/alerts/{first}", headers=auth(kit))
    assert viewed.status_code == 200
    assert viewed.json()["verify_first"] == VERIFY_FIRST
    assert last_entry(platform) == ("alert.decided", {"alert_id": first, "state": "viewed", "note": ""})
    assert client.get(f"/api/v1/alerts/{first}", headers=auth(other)).status_code == 404

    missing = client.post(f"/api/v1/alerts/{first}/confirm", json={}, headers=auth(kit))
    assert missing.status_code == 422
    blank = client.post(f"/api/v1/alerts/{first}/confirm", json={"note": "   "}, headers=auth(kit))
    assert (blank.status_code, blank.json()["field"]) == (422, "note")

    note = "plate and state verified against the image"
    confirmed = client.post(f"/api/v1/alerts/{first}/confirm", json={"note": note}, headers=auth(kit)).json()
    assert (confirmed["state"], confirmed["note"], confirmed["decided_by"]) == (
        "confirmed",
        note,
        "lister-pd-investigator",
    )
    assert confirmed["verify_first"] == VERIFY_FIRST
    assert last_entry(platform) == ("alert.decided", {"alert_id": first, "state": "confirmed", "note": note})
    again = client.post(f"/api/v1/alerts/{first}/dismiss", json={"note": "x"}, headers=auth(kit))
    assert again.status_code == 409
    assert client.post(f"/api/v1/alerts/{second}/dismiss", json={"note": "x"}, headers=auth(other)).status_code == 404

    dismissed = client.post(f"/api/v1/alerts/{second}/dismiss", json={"note": "misread 8 as B"}, headers=auth(kit))
    assert dismissed.json()["state"] == "dismissed"
    assert last_entry(platform)[1]["state"] == "dismissed"
    states = client.get("/api/v1/alerts?state=new", headers=auth(kit)).json()["alerts"]
    assert states == []


def cli(settings: Settings, *args: str) -> Any:
    result = CliRunner().invoke(cli_app, [*args, "--data", str(settings.data), "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_lifecycle_through_the_cli(settings: Settings, tmp_path: Path) -> None:
    platform = Platform.open(settings, clock=SystemClock())
    try:
        kit = seed_agency(platform, "lister-pd")
        alert_id = raise_alert(platform, kit, hot_list(platform, kit, "stolen", "7ABC123"), "r1", **VEHICLE)
    finally:
        platform.close()
    token = kit.tokens["investigator"]
    listed = cli(settings, "alerts", "list", "--state", "new", "--token", token)
    assert [a["id"] for a in listed["alerts"]] == [alert_id]
    assert listed["verify_first"] == VERIFY_FIRST
    assert cli(settings, "alerts", "show", str(alert_id), "--token", token)["state"] == "new"
    shown = CliRunner().invoke(
        cli_app, ["alerts", "show", str(alert_id), "--token", token, "--data", str(settings.data)]
    )
    assert "vehicle: red Toyota Corolla (sedan)" in shown.stdout
    confirmed = cli(settings, "alerts", "confirm", str(alert_id), "--note", "verified on the image", "--token", token)
    assert confirmed["state"] == "confirmed"
    result = CliRunner().invoke(
        cli_app, ["alerts", "dismiss", str(alert_id), "--note", "late", "--token", token, "--data", str(settings.data)]
    )
    assert result.exit_code != 0

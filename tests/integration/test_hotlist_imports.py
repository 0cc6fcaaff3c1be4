"""Hot lists through the HTTP API and the CLI on real stores: imports of each layout, all-or-nothing refusal with
a per-line report, complete vs incremental re-import, size limits, expiry rules, covert lists."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.cli.main import app as cli_app
from plateledger.core.clock import SystemClock
from plateledger.core.errors import ImportRefused, NotFound
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from tests.support import AgencyKit, free_port, seed_agency, wait_for_health

CSV_HEADER = "plate,region,purpose,reference,reason,expires\n"


def ncic(code: str, nic: str, plate: str, state: str, when: str = "20250520") -> str:
    return f"{code}{nic:<9}{'CA0123400':<9}{when}{plate:<10}{state}2026  2019HONDCIV  BLK"


@pytest.fixture
def kit(platform: Platform) -> AgencyKit:
    return seed_agency(platform, "bay-pd")


@pytest.fixture
def client(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform))


def auth(kit: AgencyKit, role: str = "investigator") -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.tokens[role]}"}


def new_list(client: TestClient, kit: AgencyKit, name: str = "stolen", **extra: Any) -> int:
    body = {"name": name, "default_purpose": "stolen_vehicle", **extra}
    response = client.post("/api/v1/hotlists", json=body, headers=auth(kit))
    assert response.status_code == 201, response.text
    list_id: int = response.json()["id"]
    return list_id


def upload(client: TestClient, kit: AgencyKit, list_id: int, data: bytes, **params: Any) -> Any:
    return client.post(f"/api/v1/hotlists/{list_id}/import", content=data, params=params, headers=auth(kit))


def live(client: TestClient, kit: AgencyKit, list_id: int) -> list[str]:
    rows = client.get(f"/api/v1/hotlists/{list_id}/entries", headers=auth(kit)).json()
    return sorted(row["plate"] for row in rows)


def test_each_layout_imports(client: TestClient, kit: AgencyKit) -> None:
    csv_list = new_list(client, kit, "csv")
    body = CSV_HEADER + "7abc123,us-ca,,CASE-1,seen leaving,2025-06-30\nABC*,,,CASE-2,partial plate,2025-06-10\n"
    report = upload(client, kit, csv_list, body.encode(), format="csv", mode="complete").json()
    assert (report["applied"], report["added"], report["errors"]) == (True, 2, [])
    rows = client.get(f"/api/v1/hotlists/{csv_list}/entries", headers=auth(kit)).json()
    assert [(r["plate"], r["pattern"], r["region"]) for r in rows] == [
        ("7ABC123", False, "US-CA"),
        ("ABC*", True, None),
    ]

    ncic_list = new_list(client, kit, "ncic")
    text = "\n".join(["HEADER 20250601", ncic("V", "V12345678", "7ABC123", "CA"), ncic("H", "H1", "PROT1", "CA")])
    report = upload(client, kit, ncic_list, text.encode(), format="ncic", mode="complete").json()
    assert (report["added"], len(report["skipped"])) == (1, 1)
    row = client.get(f"/api/v1/hotlists/{ncic_list}/entries", headers=auth(kit)).json()[0]
    assert (row["reference"], row["purpose"], row["expires"]) == (
        "V12345678",
        "stolen_vehicle",
        "2025-06-08T12:00:00.000Z",
    )

    ca_list = new_list(client, kit, "ca")
    table = b"DATE06/01/2025 04:00\nABC123  CA0120180627\nTOTAL RECORD 0000001\n"
    report = upload(client, kit, ca_list, table, format="ca-doj", mode="complete", filename="sfr.tbl").json()
    assert report["added"] == 1
    assert client.get(f"/api/v1/hotlists/{ca_list}/entries", headers=auth(kit)).json()[0]["purpose"] == "violent_crime"

    gen_list = new_list(client, kit, "genetec")
    rows_text = b"Stolen,CA,GEN123,2025-05-01,2025-06-20\n"
    report = upload(
        client, kit, gen_list, rows_text, format="genetec", mode="incremental", delimiter=",", reference="CASE-G"
    ).json()
    assert report["added"] == 1
    entry = client.get(f"/api/v1/hotlists/{gen_list}/entries", headers=auth(kit)).json()[0]
    assert (entry["expires"], entry["reference"], entry["reason"]) == (
        "2025-06-21T00:00:00.000Z",
        "CASE-G",
        "Genetec hot list, category Stolen",
    )


def test_malformed_lines_refuse_the_whole_file(client: TestClient, kit: AgencyKit, platform: Platform) -> None:
    list_id = new_list(client, kit)
    body = CSV_HEADER + "GOOD1,,,CASE-1,ok,2025-06-30\n!!,,,CASE-1,bad plate,2025-06-30\nGOOD2,,,,no ref,2025-06-30\n"
    before = len(platform.audit.entries(after_seq=0, limit=100_000))
    response = upload(client, kit, list_id, body.encode(), format="csv", mode="incremental")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/import-refused")
    assert [(e["line"], e["field"]) for e in problem["report"]["errors"]] == [(3, "plate"), (4, "reference")]
    assert "line 3 plate" in problem["detail"]
    assert "nothing applied" in problem["detail"]
    assert live(client, kit, list_id) == []
    assert len(platform.audit.entries(after_seq=0, limit=100_000)) == before  # nothing changed, nothing audited
    report = upload(client, kit, list_id, body.encode(), format="csv", mode="incremental", skip_invalid=True).json()
    assert (report["applied"], report["added"], report["rejected"]) == (True, 1, 2)
    assert live(client, kit, list_id) == ["GOOD1"]
    last = platform.audit.entries(after_seq=0, limit=100_000)[-1]
    assert last.action == "hotlist.changed"


def test_complete_and_incremental_reimport(client: TestClient, kit: AgencyKit) -> None:
    list_id = new_list(client, kit)
    first = CSV_HEADER + "AAA111,,,C-1,r,2025-06-30\nBBB222,,,C-1,r,2025-06-30\n"
    assert upload(client, kit, list_id, first.encode(), format="csv", mode="complete").json()["added"] == 2
    again = upload(client, kit, list_id, first.encode(), format="csv", mode="incremental").json()
    assert (again["added"], again["removed"]) == (2, 2)  # updated by plate, not doubled
    assert live(client, kit, list_id) == ["AAA111", "BBB222"]
    more = (CSV_HEADER.strip() + ",action\n") + "CCC333,,,C-2,r,2025-06-30,add\nAAA111,,,,,,remove\n"
    assert upload(client, kit, list_id, more.encode(), format="csv", mode="incremental").json()["removed"] == 1
    assert live(client, kit, list_id) == ["BBB222", "CCC333"]
    # A failed complete import leaves the old list intact.
    broken = CSV_HEADER + "DDD444,,,C-3,r,2025-06-30\nEEE555,,,C-3,r,1999-01-01\n"
    refused = upload(client, kit, list_id, broken.encode(), format="csv", mode="complete")
    assert refused.status_code == 422
    assert refused.json()["report"]["errors"] == [{"line": 3, "field": "expires", "reason": "must be in the future"}]
    assert live(client, kit, list_id) == ["BBB222", "CCC333"]
    replaced = upload(client, kit, list_id, broken.encode(), format="csv", mode="complete", skip_invalid=True).json()
    assert (replaced["added"], replaced["removed"]) == (1, 2)
    assert live(client, kit, list_id) == ["DDD444"]
    empty = upload(client, kit, list_id, CSV_HEADER.encode(), format="csv", mode="complete")
    assert empty.status_code == 422
    assert "empty the list" in empty.json()["detail"]
    assert live(client, kit, list_id) == ["DDD444"]


def test_oversize_hostile_and_bad_options(platform_factory: Any) -> None:
    platform = platform_factory(hotlist_import_max_bytes=2048)
    kit = seed_agency(platform, "bay-pd")
    client = TestClient(create_app(platform=platform))
    list_id = new_list(client, kit)
    big = upload(client, kit, list_id, CSV_HEADER.encode() + b"A" * 4096, format="csv", mode="complete")
    assert big.status_code == 413
    assert big.json()["type"].endswith("/payload-too-large")
    for data, fragment in [(b"\x00\x01binary", "binary"), (b"plate\n\xff\xfe\n", "not UTF-8")]:
        response = upload(client, kit, list_id, data, format="csv", mode="complete")
        assert response.status_code == 400
        assert fragment in response.json()["detail"]
    assert upload(client, kit, list_id, b"plate\n", format="xls", mode="complete").status_code == 400
    assert upload(client, kit, list_id, b"plate\n", format="csv", mode="sometimes").json()["field"] == "mode"
    assert upload(client, kit, list_id, b"x", format="genetec", mode="complete", columns="Nope=1").status_code == 400
    assert live(client, kit, list_id) == []


def test_entries_by_hand_wildcards_and_expiry(client: TestClient, kit: AgencyKit) -> None:
    list_id = new_list(client, kit)
    entry = {"plate": "7AB?12*", "reference": "CASE-7", "reason": "partial plate from witness", "expires": "2025-06-05"}
    added = client.post(f"/api/v1/hotlists/{list_id}/entries", json={"entries": [entry]}, headers=auth(kit))
    assert added.status_code == 201
    assert added.json()["added"] == 1
    row = client.get(f"/api/v1/hotlists/{list_id}/entries", headers=auth(kit)).json()[0]
    assert (row["plate"], row["pattern"], row["expires"]) == ("7AB?12*", True, "2025-06-06T00:00:00.000Z")
    too_wild = client.post(
        f"/api/v1/hotlists/{list_id}/entries", json={"entries": [{**entry, "plate": "A*"}]}, headers=auth(kit)
    )
    assert too_wild.status_code == 422
    assert too_wild.json()["field"] == "plate"
    too_far = client.post(
        f"/api/v1/hotlists/{list_id}/entries",
        json={"entries": [entry, {**entry, "expires": "2030-01-01"}]},
        headers=auth(kit),
    )
    assert too_far.json()["field"] == "entries[1].expires"
    assert "at most 365 days" in too_far.json()["detail"]
    bad_date = client.post(
        f"/api/v1/hotlists/{list_id}/entries", json={"entries": [{**entry, "expires": "soon"}]}, headers=auth(kit)
    )
    assert bad_date.json()["field"] == "expires"
    assert client.get(f"/api/v1/hotlists/{list_id}", headers=auth(kit)).json()["active_entries"] == 1
    # An import's default expiry is hotlist_import_expiry_days (7), capped by hotlist_max_entry_days.
    report = upload(client, kit, list_id, b"plate,reference,reason\nNEW1,C,r\n", format="csv", mode="incremental")
    assert report.json()["added"] == 1
    rows = {r["plate"]: r for r in client.get(f"/api/v1/hotlists/{list_id}/entries", headers=auth(kit)).json()}
    assert rows["NEW1"]["expires"] == "2025-06-08T12:00:00.000Z"
    removed = client.delete(f"/api/v1/hotlists/{list_id}/entries/7AB%3F12*", headers=auth(kit))
    assert removed.status_code == 200
    assert removed.json()["removed"] == 1
    assert client.delete(f"/api/v1/hotlists/{list_id}/entries/NOPE1", headers=auth(kit)).status_code == 404
    gone = client.post(f"/api/v1/hotlists/{list_id}/entries/remove", json={"plates": ["new1"]}, headers=auth(kit))
    assert gone.json()["removed"] == 1
    assert live(client, kit, list_id) == []


def test_covert_list_is_404_to_others(client: TestClient, kit: AgencyKit, platform: Platform) -> None:
    list_id = new_list(client, kit, "covert", covert=True)
    other = seed_agency(platform, "far-pd")
    for who, headers in [("admin of the agency", auth(kit, "admin")), ("another agency", auth(other))]:
        for response in [
            client.get(f"/api/v1/hotlists/{list_id}", headers=headers),
            client.get(f"/api/v1/hotlists/{list_id}/entries", headers=headers),
            client.post(
                f"/api/v1/hotlists/{list_id}/import?format=csv&mode=complete", content=b"plate\n", headers=headers
            ),
            client.delete(f"/api/v1/hotlists/{list_id}/entries/ABC123", headers=headers),
        ]:
            assert response.status_code == 404, (who, response.text)
            assert response.json()["detail"] == "no such hot list"
    assert [v["id"] for v in client.get("/api/v1/hotlists", headers=auth(kit, "admin")).json()] == []
    assert [v["id"] for v in client.get("/api/v1/hotlists", headers=auth(kit)).json()] == [list_id]
    assert client.get("/api/v1/hotlists", headers=auth(kit, "auditor")).status_code == 403


# -- CLI ------------------------------------------------------------------------------------------------------
@pytest.fixture
def tokens(settings: Settings) -> dict[str, str]:
    platform = Platform.open(settings, clock=SystemClock())
    try:
        return seed_agency(platform, "bay-pd").tokens
    finally:
        platform.close()


def cli(settings: Settings, *args: str) -> Any:
    result = CliRunner().invoke(cli_app, [*args, "--data", str(settings.data), "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_cli_round_trip(settings: Settings, tokens: dict[str, str], tmp_path: Path) -> None:
    token = tokens["investigator"]
    made = cli(settings, "hotlist", "create", "stolen", "--purpose", "stolen_vehicle", "--token", token)
    list_id = str(made["id"])
    assert [v["name"] for v in cli(settings, "hotlist", "list", "--token", token)] == ["stolen"]
    expires = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 5 * 86_400))
    args = ["--reference", "C-1", "--reason", "witness", "--expires", expires, "--token", token]
    assert cli(settings, "hotlist", "add", list_id, "7abc123", *args)["added"] == 1
    file = tmp_path / "svs.tbl"
    file.write_text("DATE06/01/2025 04:00\nXYZ999  CA0220180430\nTOTAL RECORD 0000001\n")
    report = cli(settings, "hotlist", "import", list_id, str(file), "--format", "ca-doj", "--token", token)
    assert (report["added"], report["mode"]) == (1, "incremental")
    shown = cli(settings, "hotlist", "show", list_id, "--entries", "--token", token)
    assert sorted(e["plate"] for e in shown["entries"]) == ["7ABC123", "XYZ999"]
    assert cli(settings, "hotlist", "remove", list_id, "7ABC123", "--token", token)["removed"] == 1
    file.write_text("DATE\nXYZ999  CA0220180430\nBAD\n")
    with pytest.raises(ImportRefused, match="line 3 line"):
        cli(
            settings,
            "hotlist",
            "import",
            list_id,
            str(file),
            "--format",
            "ca-doj",
            "--mode",
            "complete",
            "--token",
            token,
        )
    with pytest.raises(NotFound):
        cli(settings, "hotlist", "show", "999", "--token", token)
    runner = CliRunner().invoke(
        cli_app,
        ["hotlist", "import", list_id, str(file), "--format", "ca-doj", "--token", token, "--data", str(settings.data)],
    )
    assert isinstance(runner.exception, ImportRefused)


def test_cli_import_through_a_running_server(settings: Settings, tokens: dict[str, str], tmp_path: Path) -> None:
    """While a server holds the data directory the CLI sends the file to it: same report, same refusals."""
    command = [sys.executable, "-m", "plateledger.cli.main"]
    port = free_port()
    proc = subprocess.Popen(
        [*command, "serve", "--data", str(settings.data), "--port", str(port)], stdout=subprocess.DEVNULL
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}")
        token = tokens["investigator"]
        base = [*command, "hotlist"]
        data = ["--token", token, "--data", str(settings.data)]
        made = subprocess.run(
            [*base, "create", "fwd", "--purpose", "stolen_vehicle", *data, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        list_id = str(orjson.loads(made.stdout)["id"])
        file = tmp_path / "list.csv"
        file.write_text("plate,reference,reason\nFWD123,C-1,r\n!!,C-1,r\n")
        run = [*base, "import", list_id, str(file), "--format", "csv", "--token", token, "--data", str(settings.data)]
        refused = subprocess.run([*run, "--json"], capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode == 2
        assert "line 3: plate:" in refused.stderr
        assert "nothing applied" in refused.stderr
        done = subprocess.run(
            [*run, "--skip-invalid", "--json"], capture_output=True, text=True, timeout=60, check=True
        )
        assert orjson.loads(done.stdout)["added"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_import_expiry_is_capped(platform_factory: Any) -> None:
    platform = platform_factory(hotlist_max_entry_days=3)
    kit = seed_agency(platform, "bay-pd")
    client = TestClient(create_app(platform=platform))
    list_id = new_list(client, kit)
    text = ncic("W", "W1", "WANT1", "CA")
    assert (
        upload(client, kit, list_id, text.encode(), format="ncic", mode="complete", expiry_days=30).json()["added"] == 1
    )
    row = client.get(f"/api/v1/hotlists/{list_id}/entries", headers=auth(kit)).json()[0]
    assert row["expires"] == "2025-06-04T12:00:00.000Z"

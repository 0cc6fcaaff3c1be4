"""`plateledger policy ...` and `plateledger sharing ...` on a real data directory (the CLI opens it itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from plateledger.cli.main import app
from plateledger.core.clock import FixedClock, SystemClock
from plateledger.core.errors import Conflict, FieldInvalid, PermissionDenied
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.policy.rules import Terms
from plateledger.vocab import Purpose, QueryKind
from tests.support import DAY_MS, seed_agency


@pytest.fixture
def tokens(settings: Settings) -> dict[str, dict[str, str]]:
    platform = Platform.open(settings, clock=SystemClock())
    try:
        return {slug: seed_agency(platform, slug).tokens for slug in ("owner-pd", "asker-pd")}
    finally:
        platform.close()


def cli(settings: Settings, *args: str) -> Any:
    data = [] if args[:2] == ("policy", "presets") else ["--data", str(settings.data)]
    result = CliRunner().invoke(app, [*args, *data, "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_policy_commands(settings: Settings, tokens: dict[str, dict[str, str]], tmp_path: Path) -> None:
    owner_admin = tokens["owner-pd"]["admin"]
    presets = cli(settings, "policy", "presets")
    assert [p["name"] for p in presets] == ["california", "illinois", "strict", "open"]
    shown = cli(settings, "policy", "show", "owner-pd", "--token", tokens["asker-pd"]["investigator"])
    assert (shown["version"], shown["preset"]) == (0, None)
    changed = cli(settings, "policy", "set", "owner-pd", "--preset", "california", "--token", owner_admin)
    assert (changed["version"], changed["preset"]) == (1, "california")
    assert any("immigration enforcement" in line for line in changed["text"])
    custom = tmp_path / "policy.json"
    custom.write_bytes(orjson.dumps({**presets[2]["policy"], "retention_days": 14}))
    changed = cli(settings, "policy", "set", "owner-pd", "--file", str(custom), "--token", owner_admin)
    assert (changed["version"], changed["policy"]["retention_days"]) == (2, 14)
    history = cli(settings, "policy", "history", "owner-pd", "--token", owner_admin)
    assert [v["version"] for v in history] == [1, 2]
    with pytest.raises(PermissionDenied):
        cli(settings, "policy", "set", "owner-pd", "--preset", "open", "--token", tokens["owner-pd"]["investigator"])
    custom.write_text("{not json")
    with pytest.raises(FieldInvalid, match="policy: not valid JSON"):
        cli(settings, "policy", "set", "owner-pd", "--file", str(custom), "--token", owner_admin)
    custom.write_bytes(orjson.dumps({"retention_days": 30, "hit_retention_days": 10}))
    with pytest.raises(FieldInvalid, match="hit_retention_days must be at least retention_days"):
        cli(settings, "policy", "set", "owner-pd", "--file", str(custom), "--token", owner_admin)
    with pytest.raises(FieldInvalid, match="preset"):
        cli(settings, "policy", "set", "owner-pd", "--preset", "lenient", "--token", owner_admin)


def test_sharing_commands(settings: Settings, tokens: dict[str, dict[str, str]]) -> None:
    asker, owner = tokens["asker-pd"]["admin"], tokens["owner-pd"]["admin"]
    terms = ["--kinds", "plate,area", "--purposes", "stolen_vehicle,violent_crime", "--lookback-days", "60"]
    asked = cli(settings, "sharing", "request", "owner-pd", *terms, "--expires", "2029-12-31", "--token", asker)
    assert (asked["state"], asked["requested_terms"]["query_kinds"]) == ("pending", ["area", "plate"])
    with pytest.raises(FieldInvalid, match="give --kinds, --purposes, --lookback-days and --expires"):
        cli(settings, "sharing", "accept", str(asked["id"]), "--kinds", "plate", "--token", owner)
    with pytest.raises(PermissionDenied):
        cli(settings, "sharing", "accept", str(asked["id"]), "--token", asker)
    narrowed = ["--kinds", "plate", "--purposes", "stolen_vehicle", "--lookback-days", "30", "--expires", "2029-06-30"]
    accepted = cli(settings, "sharing", "accept", str(asked["id"]), *narrowed, "--token", owner)
    assert accepted["active"]
    assert accepted["granted_terms"]["purposes"] == ["stolen_vehicle"]
    listing = cli(settings, "sharing", "list", "--token", tokens["asker-pd"]["auditor"])
    assert [a["id"] for a in listing] == [asked["id"]]
    with pytest.raises(Conflict):
        cli(settings, "sharing", "request", "owner-pd", *terms, "--expires", "2029-12-31", "--token", asker)
    revoked = cli(settings, "sharing", "revoke", str(asked["id"]), "--note", "case closed", "--token", owner)
    assert (revoked["state"], revoked["active"]) == ("revoked", False)
    with pytest.raises(FieldInvalid, match=r"terms\.expires"):
        cli(settings, "sharing", "request", "owner-pd", *terms, "--expires", "soon", "--token", asker)
    with pytest.raises(FieldInvalid, match="purposes"):
        cli(settings, "sharing", "request", "owner-pd", "--kinds", "plate", "--purposes", "curiosity",
            "--lookback-days", "5", "--expires", "2029-01-01", "--token", asker)  # fmt: skip
    again = cli(settings, "sharing", "request", "owner-pd", *terms, "--expires", "2029-12-31", "--token", asker)
    assert cli(settings, "sharing", "withdraw", str(again["id"]), "--token", asker)["state"] == "withdrawn"
    assert cli(settings, "sharing", "list", "--token", owner)[-1]["state"] == "withdrawn"


def test_an_expired_agreement_does_not_block_a_new_request_from_the_cli(settings: Settings) -> None:
    """Issue 15, defect 14: the agreement was made 30 days ago and expired yesterday (the CLI runs on the
    system clock); a new request succeeds, and the expired one stays listed as history."""
    month_ago = SystemClock().now_ms() - 30 * DAY_MS
    platform = Platform.open(settings, clock=FixedClock(month_ago))
    try:
        owner, asker = (seed_agency(platform, slug) for slug in ("owner-pd", "asker-pd"))
        terms = Terms(
            query_kinds=frozenset({QueryKind.PLATE}),
            purposes=frozenset({Purpose.STOLEN_VEHICLE}),
            max_lookback_days=30,
            expires_ms=month_ago + 29 * DAY_MS,
        )
        old = platform.agreements.request(asker.admin, owner="owner-pd", terms=terms)
        platform.agreements.accept(owner.admin, old.id)
    finally:
        platform.close()
    token = asker.tokens["admin"]
    ask = ["--kinds", "plate", "--purposes", "stolen_vehicle", "--lookback-days", "30", "--expires", "2029-12-31"]
    renewed = cli(settings, "sharing", "request", "owner-pd", *ask, "--token", token)
    assert renewed["state"] == "pending"
    listing = {a["id"]: a for a in cli(settings, "sharing", "list", "--token", token)}
    assert (listing[old.id]["state"], listing[old.id]["expired"]) == ("accepted", True)
    with pytest.raises(Conflict):
        cli(settings, "sharing", "request", "owner-pd", *ask, "--token", token)

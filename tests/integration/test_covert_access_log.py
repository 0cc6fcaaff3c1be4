"""A covert hot list's matches in the read owner's access log (issue 15, defect 5): the owner's log showed the covert
list's plate, case reference and list/entry ids. While the list entry is in force the owner sees that agency X's
covert list matched one of its reads (when, outcome, purpose), and nothing that names the plate, the case, the list,
the entry or the read; once the entry is removed or expires, the whole entry. Through the library, the API, the CLI
and the web UI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.auth.passwords import hash_password
from plateledger.cli.main import app as cli_app
from plateledger.core.clock import FixedClock
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.policy.rules import Policy, Terms
from plateledger.reports.access_log import entry_json
from plateledger.store.models import User
from plateledger.vocab import Purpose, QueryKind
from tests.integration.test_alerts_policy import entry, entry_ids, hit
from tests.integration.test_web import sign_in
from tests.integration.web_kit import PASSWORD
from tests.support import DAY_MS, AgencyKit, opened, seed_agency

SECRETS = ("7ABC123", "CASE-1", "list_id", "entry_id", "read_id", '"r1"')


@dataclass(frozen=True)
class World:
    settings: Settings
    now_ms: int
    owner: AgencyKit
    lister: AgencyKit


@pytest.fixture
def world(settings: Settings) -> World:
    """The lister's covert, shared list matched a read of the owner (an alert raised) and, under another purpose
    the owner's policy prohibits, another one (withheld)."""
    now = time.time_ns() // 1_000_000
    clock = FixedClock(now)
    with opened(settings, clock) as platform:
        owner = seed_agency(platform, "ca-pd", name="CA PD")
        lister = seed_agency(platform, "lister-so", name="Lister SO", kind="county")
        terms = Terms(
            query_kinds=frozenset({QueryKind.ALERT}),
            purposes=frozenset({Purpose.STOLEN_VEHICLE, Purpose.DRUG_CRIME}),
            max_lookback_days=30,
            expires_ms=now + 100 * DAY_MS,
        )
        platform.agreements.accept(
            owner.admin, platform.agreements.request(lister.admin, owner="ca-pd", terms=terms).id
        )
        platform.policies.set_as(owner.admin, "ca-pd", Policy(prohibited_purposes=frozenset({Purpose.DRUG_CRIME})))
        covert = platform.hotlists.create(
            lister.investigator, name="Operation Nightjar", default_purpose="stolen_vehicle", visibility="shared",
            covert=True,
        )  # fmt: skip
        valid, errors = platform.hotlists.validate(
            covert, [entry("7ABC123", "stolen_vehicle", clock), entry("7ABC123", "drug_crime", clock, region="US-CA")]
        )
        assert errors == []
        platform.hotlists.apply(lister.investigator, covert.id, add=valid)
        for entry_id in entry_ids(platform, lister, covert.id):
            platform.alerts.process([hit(platform, owner, entry_id, clock)])
        with platform.governance.session() as session:
            session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    return World(settings, now, owner, lister)


@pytest.fixture
def platform(world: World) -> Iterator[Platform]:
    with opened(world.settings, FixedClock(world.now_ms)) as opened_platform:
        yield opened_platform


def alerts(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["kind"] == "alert"]


def assert_sealed(entries: list[dict[str, Any]]) -> None:
    found = alerts(entries)
    assert [(e["action"], e["outcome"], e["requester"], e["purpose"]) for e in found] == [
        ("alert.raised", "permitted", "lister-so", "stolen_vehicle"),
        ("alert.withheld", "withheld", "lister-so", "drug_crime"),
    ]
    for e in found:
        assert e["query"] == {"covert": True}
        assert e["case_number"] is None
        text = orjson.dumps(e).decode()
        assert not [secret for secret in SECRETS if secret in text], text


def test_a_covert_match_is_sealed_for_the_owner_through_every_door_while_the_entry_is_in_force(
    world: World, platform: Platform
) -> None:
    assert_sealed([entry_json(e) for e in platform.access_log.view(world.owner.auditor, "ca-pd").entries])
    with TestClient(create_app(platform=platform), base_url="https://testserver", follow_redirects=False) as client:
        api = client.get("/api/v1/access-log", headers={"Authorization": f"Bearer {world.owner.tokens['admin']}"})
        assert api.status_code == 200
        assert_sealed(api.json()["entries"])
        sign_in(client, "ca-pd-auditor")
        page = client.get("/ui/access-log")
        assert page.status_code == 200
        assert page.text.count("<td>alert</td>") == 2
        assert not [secret for secret in ("7ABC123", "CASE-1", "entry_id") if secret in page.text]
    platform.close()  # the CLI opens the data directory itself
    args = ["access-log", "--token", world.owner.tokens["auditor"], "--data", str(world.settings.data)]
    result = CliRunner().invoke(cli_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert_sealed(orjson.loads(result.stdout)["entries"])
    human = CliRunner().invoke(cli_app, args)
    assert human.exit_code == 0, human.output
    assert "lister-so" in human.stdout
    assert "7ABC123" not in human.stdout
    assert "CASE-1" not in human.stdout


def test_the_whole_match_shows_once_the_entry_is_removed_or_expired(world: World, platform: Platform) -> None:
    covert = platform.hotlists.listing(world.lister.investigator)[0]
    platform.hotlists.apply(world.lister.investigator, covert.id, add=[], remove_plates=["7ABC123"])
    found = alerts([entry_json(e) for e in platform.access_log.view(world.owner.auditor, "ca-pd").entries])
    assert [(e["query"]["plate"], e["query"]["read_id"], e["case_number"]) for e in found] == [
        ("7ABC123", "r1", "CASE-1"),
        ("7ABC123", "r1", "CASE-1"),
    ]
    assert all(e["query"]["list_id"] == covert.id for e in found)


def test_expiry_unseals_too(world: World) -> None:
    with opened(world.settings, FixedClock(world.now_ms + 11 * DAY_MS)) as later:
        found = alerts([entry_json(e) for e in later.access_log.view(world.owner.auditor, "ca-pd").entries])
    assert [e["query"].get("plate") for e in found] == ["7ABC123", "7ABC123"]

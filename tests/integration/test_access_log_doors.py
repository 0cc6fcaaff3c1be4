"""Every access to an owner's data is in the owner's access log, through every door (issue 15, defects 1 and 2):
plate-image views (``image.viewed``) and downloads of a search's answer (``search.exported``) were missing; and the
requester's own audit log told whether a withheld owner holds a read id (a real id recorded as ``image.viewed``, a
made-up one as ``search.refused``). An image the requester may not see now gets the same answer and the same
audit entry whether or not it exists."""

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
from plateledger.policy.gate import DEFAULT_DENY
from plateledger.policy.rules import Terms
from plateledger.store.models import AuditEntry, User
from plateledger.vocab import Purpose, QueryKind
from tests.integration.test_web import csrf_of, sign_in
from tests.integration.web_kit import PASSWORD, plate_crop
from tests.support import DAY_MS, HOUR_MS, AgencyKit, ingest, opened, read, seed_agency

PLATE = "7IMG001"
CASE = {"purpose": "stolen_vehicle", "case_number": "C-15"}


@dataclass(frozen=True)
class World:
    settings: Settings
    now_ms: int
    city: AgencyKit
    partner: AgencyKit
    stranger: AgencyKit


@pytest.fixture
def world(settings: Settings) -> World:
    """The city owns a read with a plate crop; the partner has an agreement for plate searches, the stranger none.
    The clock is the real one (the CLI opens the data directory with it), fixed for the test."""
    now = time.time_ns() // 1_000_000
    with opened(settings, FixedClock(now)) as platform:
        city = seed_agency(platform, "city", name="City PD")
        partner = seed_agency(platform, "partner", name="Partner PD")
        stranger = seed_agency(platform, "stranger", name="Stranger PD")
        terms = Terms(
            query_kinds=frozenset({QueryKind.PLATE}),
            purposes=frozenset({Purpose.STOLEN_VEHICLE}),
            max_lookback_days=30,
            expires_ms=now + 30 * DAY_MS,
        )
        platform.agreements.accept(city.admin, platform.agreements.request(partner.admin, owner="city", terms=terms).id)
        ingest(platform, city, [read(PLATE, camera=city.cameras[0], ts=now - HOUR_MS, read_id="r-1")])
        platform.images.put(city.agency.id, "r-1", PLATE, now - HOUR_MS, plate_crop())
        with platform.governance.session() as session:
            session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    return World(settings, now, city, partner, stranger)


@pytest.fixture
def platform(world: World) -> Iterator[Platform]:
    with opened(world.settings, FixedClock(world.now_ms)) as opened_platform:
        yield opened_platform


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform), base_url="https://testserver", follow_redirects=False) as test:
        yield test


def bearer(kit: AgencyKit, role: str = "investigator") -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.tokens[role]}"}


def image(client: TestClient, kit: AgencyKit, read_id: str, role: str = "investigator") -> Any:
    return client.get(f"/api/v1/images/city/{read_id}/plate", params=CASE, headers=bearer(kit, role))


def last_entry(platform: Platform) -> AuditEntry:
    entries = platform.audit.entries(after_seq=platform.audit.verify().entries - 1)
    return entries[-1]


def kinds_of(entries: list[dict[str, Any]]) -> list[tuple[str, str, str | None, int | None]]:
    return [(e["kind"], e["outcome"], e["requester"], e["rows"]) for e in entries]


EXPECTED = [
    ("plate", "permitted", "partner", 1),  # the search the export repeats
    ("image", "permitted", "partner", 1),
    ("image", "withheld", "stranger", None),
    ("plate", "permitted", "partner", 1),  # the web export runs the search again...
    ("export", "permitted", "partner", 1),  # ...and records the download
]


def test_image_views_and_exports_are_in_the_owners_access_log_through_every_door(
    world: World, platform: Platform, client: TestClient
) -> None:
    assert client.get("/api/v1/search/plate", params={"plate": PLATE, **CASE}, headers=bearer(world.partner)).json()[
        "reads"
    ]
    assert image(client, world.partner, "r-1").status_code == 200
    assert image(client, world.stranger, "r-1").status_code == 404
    sign_in(client, "partner-investigator")
    form = {"csrf": csrf_of(client.get("/ui/search").text), "mode": "plate", "plate": PLATE, **CASE}
    form.update(since="", until="")
    assert client.post("/ui/search/export.csv", data=form).status_code == 200

    library = [e.__dict__ for e in platform.access_log.view(world.city.auditor, "city").entries]
    assert kinds_of(library) == EXPECTED
    assert library[2]["rule"] == DEFAULT_DENY
    api = client.get("/api/v1/access-log", headers=bearer(world.city, "auditor"))
    assert api.status_code == 200
    assert kinds_of(api.json()["entries"]) == EXPECTED
    client.cookies.clear()
    sign_in(client, "city-auditor")
    page = client.get("/ui/access-log").text
    assert page.count("<td>image</td>") == 2
    assert page.count("<td>export</td>") == 1
    # Nothing of this is in the other agencies' logs (an image concerns its owner only).
    others = platform.access_log.view(world.stranger.auditor, "stranger").entries
    assert [e.kind for e in others] == ["plate", "plate"]  # the partner's searches, withheld by default deny

    platform.close()  # the CLI opens the data directory itself
    args = ["access-log", "--token", world.city.tokens["auditor"], "--data", str(world.settings.data), "--json"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert kinds_of(orjson.loads(result.stdout)["entries"]) == EXPECTED


def shape(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as the requester's agency reads it, without what is expected to differ (sequence, time,
    hashes, and the read id the requester typed)."""
    params = orjson.loads(entry.params)
    params["query"] = {k: v for k, v in params["query"].items() if k != "read_id"}
    return {
        "action": entry.action,
        "outcome": entry.outcome,
        "actor": entry.actor_username,
        "purpose": entry.purpose,
        "case_number": entry.case_number,
        "params": params,
        "counts": orjson.loads(entry.counts),
    }


def problem(response: Any) -> tuple[int, dict[str, Any]]:
    body = {k: v for k, v in response.json().items() if k != "instance"}
    return response.status_code, body


@pytest.mark.parametrize(
    ("who", "role"), [("stranger", "investigator"), ("stranger", "auditor"), ("partner", "device")]
)
def test_an_image_the_requester_may_not_see_looks_the_same_whether_or_not_it_exists(
    world: World, platform: Platform, client: TestClient, who: str, role: str
) -> None:
    kit = world.stranger if who == "stranger" else world.partner
    real = image(client, kit, "r-1", role)
    real_entry = last_entry(platform)
    made_up = image(client, kit, "r-made-up", role)
    made_up_entry = last_entry(platform)
    assert real.status_code in (403, 404)
    assert problem(real) == problem(made_up)
    assert shape(real_entry) == shape(made_up_entry)
    assert real_entry.action == "search.refused"
    # The owner's log shows both requests, withheld, and nobody else's does.
    owner_log = platform.access_log.view(world.city.auditor, "city").entries
    assert [(e.kind, e.outcome, e.query["read_id"]) for e in owner_log] == [
        ("image", "withheld", "r-1"),
        ("image", "withheld", "r-made-up"),
    ]
    assert platform.access_log.view(world.partner.auditor, "partner").entries == []


def test_a_permitted_owner_outside_its_window_looks_like_no_image(
    world: World, platform: Platform, client: TestClient
) -> None:
    """The partner may look 30 days back: an image of an older read is answered and audited like a made-up id."""
    platform.images.put(world.city.agency.id, "r-old", PLATE, world.now_ms - 40 * DAY_MS, plate_crop())
    old = image(client, world.partner, "r-old")
    old_entry = last_entry(platform)
    made_up = image(client, world.partner, "r-made-up")
    assert problem(old) == problem(made_up)
    assert shape(old_entry) == shape(last_entry(platform))

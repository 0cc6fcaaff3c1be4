"""One door, after review (issue 15): rules a reviewer still found in the entry points are in the library, so every
door (API, CLI, web) authorises first and audits the refusal whatever the input, then parses."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from plateledger.adapters.base import SourceRead
from plateledger.auth.passwords import hash_password
from plateledger.core.clock import SystemClock
from plateledger.core.errors import AuthenticationFailed, FieldInvalid, PermissionDenied
from plateledger.core.settings import Settings
from plateledger.policy.actions import Action, allowed
from plateledger.store.models import User
from tests.integration.test_authz import World, _bearer, _cli, head, refusals
from tests.integration.test_authz import client as client
from tests.integration.test_authz import world as world
from tests.integration.test_web import csrf_of, sign_in
from tests.integration.web_kit import PASSWORD
from tests.support import NOW_MS, opened, seed_agency

BAD_POLICIES = [{"preset": "no-such-preset"}, {"policy": {"surprise": 1}}, {}, {"policy": "{"}]


@pytest.mark.parametrize("body", BAD_POLICIES, ids=["preset", "policy", "neither", "text"])
def test_a_bad_policy_from_an_investigator_is_an_audited_refusal_through_the_api(
    world: World, client: TestClient, body: dict[str, object]
) -> None:
    who = world.city.investigator
    before = head(world.platform)
    response = client.put("/api/v1/policies/city", json=body, headers=_bearer(who, world))
    assert response.status_code == 403, response.text
    reason = allowed(who, Action.POLICY_SET, world.city.agency.id).reason
    assert [e["reason"] for e in refusals(world.platform, before, Action.POLICY_SET)] == [reason]


def test_a_bad_policy_from_an_admin_is_still_invalid_through_the_api(world: World, client: TestClient) -> None:
    headers = _bearer(world.city.admin, world)
    for body in BAD_POLICIES:
        assert client.put("/api/v1/policies/city", json=body, headers=headers).status_code == 422, body
    sent = client.put("/api/v1/policies/city", json={"policy": '{"retention_days": 30}'}, headers=headers)
    assert sent.status_code == 200, sent.text
    assert sent.json()["policy"]["retention_days"] == 30


def test_a_bad_policy_from_an_investigator_is_an_audited_refusal_through_the_web(
    world: World, client: TestClient
) -> None:
    with world.platform.governance.session() as session:
        session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    sign_in(client, world.city.investigator.username)
    csrf = csrf_of(client.get("/ui/search").text)
    for form in ({"action": "save", "policy": "{"}, {"action": "preview", "policy": "{"}, {"action": "preset"}):
        before = head(world.platform)
        page = client.post("/ui/admin/policy", data={"csrf": csrf, **form})
        assert page.status_code == 403, (form, page.status_code)
        assert len(refusals(world.platform, before, Action.POLICY_SET)) == 1, form


def test_a_bad_policy_file_from_an_investigator_is_an_audited_refusal_through_the_cli(
    settings: Settings, tmp_path: Path
) -> None:
    with opened(settings, SystemClock()) as platform:  # the CLI checks tokens against the real time
        city = seed_agency(platform, "city")
    bad = tmp_path / "policy.json"
    bad.write_text("{ not json")
    refused = _cli(settings, "policy", "set", "city", "--file", str(bad), "--token", city.tokens["investigator"])
    assert isinstance(refused.exception, PermissionDenied), refused.output
    assert "policy.set" in _cli(settings, "audit", "list", "--action", "action.refused", "--json").stdout
    invalid = _cli(settings, "policy", "set", "city", "--file", str(bad), "--token", city.tokens["admin"])
    assert isinstance(invalid.exception, FieldInvalid)
    assert "not valid JSON" in str(invalid.exception)


def test_live_tokens_and_cameras_are_guarded_reads(world: World) -> None:
    """The users page's token list and the cameras of the map and the CLI come from guarded operations: a user
    who may not list them is refused and audited; the unguarded camera list is the library's own."""
    platform, city = world.platform, world.city.agency.id
    assert {t.username for t in platform.tokens.live(world.city.admin, city)} >= {world.city.admin.username}
    for who, action, read in [
        (world.city.investigator, Action.USER_LIST, lambda w: platform.tokens.live(w, city)),
        (world.county.admin, Action.USER_LIST, lambda w: platform.tokens.live(w, city)),
        (world.city.device, Action.CAMERA_LIST, lambda w: platform.registry.camera_list(w, city)),
        (world.county.admin, Action.CAMERA_LIST, lambda w: platform.registry.camera_list(w, city)),
    ]:
        before = head(platform)
        with pytest.raises(PermissionDenied):
            read(who)
        assert [e["reason"] for e in refusals(platform, before, action)] == [allowed(who, action, city).reason]
    assert not hasattr(platform.registry, "cameras")  # the unguarded read is named as such (cameras_unguarded)


SEARCH = {"plate": "7ABC123", "purpose": "stolen_vehicle", "case_number": "C-1"}


def test_a_warrant_of_only_spaces_is_refused_by_every_door(
    world: World, client: TestClient, settings: Settings
) -> None:
    """The library decides what a warrant is: one of spaces is refused (422) through the API, the CLI and the web
    page alike; an empty web field is a warrant not given."""
    api = client.get(
        "/api/v1/search/plate", params={**SEARCH, "warrant": "   "}, headers=_bearer(world.city.investigator, world)
    )
    assert api.status_code == 422, api.text
    with world.platform.governance.session() as session:
        session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    sign_in(client, world.city.investigator.username)
    csrf = csrf_of(client.get("/ui/search").text)
    for path in ("/ui/search", "/ui/search/export.csv"):
        spaces = client.post(path, data={"csrf": csrf, "mode": "plate", **SEARCH, "warrant": "   "})
        assert spaces.status_code == 422, (path, spaces.status_code)
    assert client.post("/ui/search", data={"csrf": csrf, "mode": "plate", **SEARCH, "warrant": ""}).status_code == 200


def test_mqtt_batches_are_one_library_call_with_its_refusals_audited(world: World) -> None:
    """What the MQTT worker chained itself (authenticate, require a device, find the agency, store) is one
    VendorIngest call: a user's token is refused as ``ingest.refused``, an unknown one as ``auth.refused``."""
    platform = world.platform
    reads = [SourceRead(plate="7ABC123", ts_ms=NOW_MS - 60_000, camera="city-fixed", source_ts=str(NOW_MS))]
    stored = platform.vendor.receive_reads(world.city.tokens["device"], reads, channel="mqtt", source="frigate")
    assert stored.stored == 1
    before = head(platform)
    with pytest.raises(PermissionDenied):
        platform.vendor.receive_reads(world.city.tokens["admin"], reads, channel="mqtt", source="frigate")
    with pytest.raises(AuthenticationFailed):
        platform.vendor.receive_reads("made-up", reads, channel="mqtt", source="frigate")
    actions = [e.action for e in platform.audit.entries(after_seq=before)]
    assert actions == ["ingest.refused", "auth.refused"]

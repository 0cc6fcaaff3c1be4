"""Agencies, users, cameras and API tokens through the registry and token service, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from sqlalchemy import text

from plateledger.audit.log import SYSTEM
from plateledger.auth.tokens import DAY_MS, TOKEN_PREFIX
from plateledger.core.clock import FixedClock
from plateledger.core.errors import (
    AuthenticationFailed,
    Conflict,
    FieldInvalid,
    NotFound,
    PermissionDenied,
)
from plateledger.platform import Platform
from plateledger.store.models import User
from plateledger.vocab import Role
from tests.support import seed_agency

AGENCY = {"slug": "city", "name": "City PD", "kind": "municipal", "country": "US", "state": "CA"}


def actions(platform: Platform) -> list[str]:
    return [entry.action for entry in platform.audit.entries()]


def test_agencies_users_and_cameras_are_created_and_listed(gov_platform: Platform) -> None:
    registry = gov_platform.registry
    city = registry.create_agency(SYSTEM, **AGENCY)
    county = registry.create_agency(SYSTEM, slug="county", name="County SO", kind="county", country="US", state="NV")
    registry.create_user(SYSTEM, agency_slug="city", username="ann", role="investigator")
    registry.create_user(SYSTEM, agency_slug="county", username="bob.smith@county", role="admin")
    registry.add_camera(SYSTEM, agency_slug="city", external_id="cam-1", lat=37.5, lon=-122.25)
    registry.add_camera(SYSTEM, agency_slug="city", external_id="van-7", mobile=True, lat=1.0, lon=2.0)
    registry.add_camera(SYSTEM, agency_slug="county", external_id="cam-1", lat=39.5, lon=-119.75)

    assert [a.slug for a in registry.agencies()] == ["city", "county"]
    assert registry.agency("county").state == "NV"
    assert registry.agency_by_id(city.id).name == "City PD"
    assert [u.username for u in registry.users(city.id)] == ["ann"]
    assert [u.username for u in registry.users()] == ["ann", "bob.smith@county"]
    cameras = registry.cameras_unguarded(city.id)
    assert [(c.external_id, c.mobile, c.lat, c.lon) for c in cameras] == [
        ("cam-1", False, 37.5, -122.25),
        ("van-7", True, None, None),  # a mobile unit has no fixed position
    ]
    assert [c.external_id for c in registry.cameras_unguarded(county.id)] == ["cam-1"]
    assert actions(gov_platform) == ["agency.created"] * 2 + ["user.created"] * 2 + ["camera.added"] * 3
    assert gov_platform.audit.verify().intact


def test_unknown_agency_is_not_found(gov_platform: Platform) -> None:
    with pytest.raises(NotFound):
        gov_platform.registry.agency("nowhere")
    with pytest.raises(NotFound):
        gov_platform.registry.agency_by_id(42)
    with pytest.raises(NotFound):
        gov_platform.registry.create_user(SYSTEM, agency_slug="nowhere", username="x", role="admin")


def test_duplicates_conflict_and_are_not_audited(gov_platform: Platform) -> None:
    registry = gov_platform.registry
    registry.create_agency(SYSTEM, **AGENCY)
    registry.create_user(SYSTEM, agency_slug="city", username="ann", role="admin")
    registry.add_camera(SYSTEM, agency_slug="city", external_id="cam-1", lat=1.0, lon=2.0)
    before = actions(gov_platform)

    with pytest.raises(Conflict, match="city"):
        registry.create_agency(SYSTEM, **{**AGENCY, "name": "Another name"})
    with pytest.raises(Conflict, match="ann"):
        registry.create_user(SYSTEM, agency_slug="city", username="ann", role="investigator")
    with pytest.raises(Conflict, match="cam-1"):
        registry.add_camera(SYSTEM, agency_slug="city", external_id="cam-1", lat=3.0, lon=4.0)

    assert actions(gov_platform) == before
    assert len(registry.agencies()) == 1
    # The store is still usable after the failed transactions.
    registry.create_agency(SYSTEM, **{**AGENCY, "slug": "city-2"})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"slug": "City PD"}, "slug"),
        ({"slug": "-city"}, "slug"),
        ({"slug": "c" * 65}, "slug"),
        ({"kind": "city"}, "kind"),
        ({"country": "usa"}, "country"),
        ({"country": "us"}, "country"),
        ({"state": "california"}, "state"),
        ({"state": ""}, "state"),
    ],
)
def test_agency_fields_are_validated(gov_platform: Platform, overrides: dict[str, str], field: str) -> None:
    with pytest.raises(FieldInvalid) as caught:
        gov_platform.registry.create_agency(SYSTEM, **{**AGENCY, **overrides})
    assert caught.value.field == field
    assert gov_platform.registry.agencies() == []


@pytest.mark.parametrize(
    ("username", "role", "field"),
    [
        ("ann smith", "investigator", "username"),
        ("", "investigator", "username"),
        ("a" * 65, "investigator", "username"),
        ("ann", "superuser", "role"),
        ("ann", "Admin", "role"),
    ],
)
def test_user_fields_are_validated(gov_platform: Platform, username: str, role: str, field: str) -> None:
    gov_platform.registry.create_agency(SYSTEM, **AGENCY)
    with pytest.raises(FieldInvalid) as caught:
        gov_platform.registry.create_user(SYSTEM, agency_slug="city", username=username, role=role)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("external_id", "position", "field"),
    [
        (" cam 1", {"lat": 1.0, "lon": 2.0}, "external_id"),  # edge whitespace (inner spaces are fine)
        ("cam\t1", {"lat": 1.0, "lon": 2.0}, "external_id"),
        ("", {"lat": 1.0, "lon": 2.0}, "external_id"),
        ("c" * 65, {"lat": 1.0, "lon": 2.0}, "external_id"),
        ("cam-1\n", {"lat": 1.0, "lon": 2.0}, "external_id"),
        ("cam-1", {}, "lat"),
        ("cam-1", {"lat": 1.0}, "lat"),
        ("cam-1", {"lat": 90.5, "lon": 2.0}, "lat"),
        ("cam-1", {"lat": 1.0, "lon": -180.5}, "lon"),
    ],
)
def test_camera_fields_are_validated(
    gov_platform: Platform, external_id: str, position: dict[str, float], field: str
) -> None:
    gov_platform.registry.create_agency(SYSTEM, **AGENCY)
    with pytest.raises(FieldInvalid) as caught:
        gov_platform.registry.add_camera(SYSTEM, agency_slug="city", external_id=external_id, **position)
    assert caught.value.field == field


# -- tokens ------------------------------------------------------------------------------------------------------
def test_token_authenticates_its_user(gov_platform: Platform) -> None:
    kit = seed_agency(gov_platform, "city", roles=())
    gov_platform.registry.create_user(SYSTEM, agency_slug="city", username="ann", role="investigator")
    issued = gov_platform.tokens.issue(SYSTEM, "ann", label="laptop")

    principal = gov_platform.tokens.authenticate(issued.secret)

    assert issued.secret.startswith(TOKEN_PREFIX)
    assert (principal.username, principal.role, principal.agency_id) == ("ann", Role.INVESTIGATOR, kit.agency.id)
    assert (principal.agency_slug, principal.state, principal.token_id) == ("city", "CA", issued.token_id)
    (created,) = gov_platform.audit.entries(action="token.created")
    assert orjson.loads(created.params)["for_user"] == "ann"


def test_token_is_stored_only_as_its_hash(gov_platform: Platform) -> None:
    seed_agency(gov_platform, "city", roles=("admin",))
    issued = gov_platform.tokens.issue(SYSTEM, "city-admin")
    with gov_platform.governance.engine.connect() as connection:
        tokens = [tuple(r) for r in connection.execute(text("SELECT * FROM api_tokens"))]
        audit = [tuple(r) for r in connection.execute(text("SELECT * FROM audit_log"))]
        stored_hash = connection.execute(
            text("SELECT token_hash FROM api_tokens WHERE id = :id"), {"id": issued.token_id}
        ).scalar_one()

    secret_part = issued.secret.removeprefix(TOKEN_PREFIX)
    for value in [v for r in tokens + audit for v in r]:
        assert secret_part not in str(value)
    assert stored_hash == hashlib.sha256(issued.secret.encode()).hexdigest()


def test_token_expires(gov_platform: Platform) -> None:
    seed_agency(gov_platform, "city", roles=("investigator",))
    issued = gov_platform.tokens.issue(SYSTEM, "city-investigator", ttl_days=1)
    clock = gov_platform.clock
    assert isinstance(clock, FixedClock)
    assert issued.expires_ms == clock.now_ms() + DAY_MS

    clock.advance(DAY_MS - 1)
    gov_platform.tokens.authenticate(issued.secret)
    clock.advance(1)
    with pytest.raises(AuthenticationFailed, match="expired"):
        gov_platform.tokens.authenticate(issued.secret)


def test_default_token_lifetime_comes_from_settings(gov_platform: Platform) -> None:
    seed_agency(gov_platform, "city", roles=("investigator",))
    issued = gov_platform.tokens.issue(SYSTEM, "city-investigator")
    expected = gov_platform.clock.now_ms() + gov_platform.settings.token_ttl_days * DAY_MS
    assert issued.expires_ms == expected


def test_revoked_token_is_refused(gov_platform: Platform) -> None:
    kit = seed_agency(gov_platform, "city", roles=("admin", "investigator"))
    issued = gov_platform.tokens.issue(kit.admin.actor, "city-investigator")
    gov_platform.tokens.revoke(kit.admin.actor, issued.token_id)

    with pytest.raises(AuthenticationFailed, match="revoked"):
        gov_platform.tokens.authenticate(issued.secret)
    gov_platform.tokens.authenticate(kit.tokens["investigator"])  # the user's other token still works
    (revoked,) = gov_platform.audit.entries(action="token.revoked")
    assert revoked.actor_username == "city-admin"
    assert orjson.loads(revoked.params) == {"token_id": issued.token_id}


@pytest.mark.parametrize("secret", [None, "", "plt_unknown", "Bearer plt_x"])
def test_missing_or_unknown_token_is_refused_and_audited(gov_platform: Platform, secret: str | None) -> None:
    with pytest.raises(AuthenticationFailed):
        gov_platform.tokens.authenticate(secret, where="/api/v1/search")
    (refusal,) = gov_platform.audit.entries(action="auth.refused")
    assert refusal.outcome == "refused"
    assert orjson.loads(refusal.params)["path"] == "/api/v1/search"


def test_disabled_user_cannot_authenticate(gov_platform: Platform) -> None:
    kit = seed_agency(gov_platform, "city", roles=("investigator",))
    with gov_platform.governance.session() as session:
        user = session.get(User, kit.investigator.user_id)
        assert user is not None
        user.disabled = True
    with pytest.raises(AuthenticationFailed, match="disabled"):
        gov_platform.tokens.authenticate(kit.tokens["investigator"])


def test_token_permissions(gov_platform: Platform) -> None:
    city = seed_agency(gov_platform, "city", roles=("admin", "investigator"))
    county = seed_agency(gov_platform, "county", roles=("admin", "investigator"))
    tokens = gov_platform.tokens

    with pytest.raises(PermissionDenied):
        tokens.issue(city.investigator.actor, "city-admin")  # only admins issue for others
    with pytest.raises(NotFound):
        tokens.issue(county.admin.actor, "city-investigator")  # never for another agency, whose users are unseen
    with pytest.raises(NotFound):
        tokens.issue(city.admin.actor, "nobody")
    with pytest.raises(NotFound):
        tokens.revoke(county.admin.actor, city.investigator.token_id or 0)  # other agencies' tokens: unseen
    with pytest.raises(PermissionDenied):
        tokens.revoke(city.investigator.actor, city.admin.token_id or 0)

    with pytest.raises(PermissionDenied):  # a token cannot mint its own successor (sign in with a password)
        tokens.issue(city.investigator.actor, "city-investigator")
    with pytest.raises(FieldInvalid):  # nor can an admin exceed the configured lifetime
        tokens.issue(city.admin.actor, "city-investigator", ttl_days=gov_platform.settings.token_ttl_days + 1)
    with pytest.raises(FieldInvalid):
        tokens.issue(city.admin.actor, "city-investigator", ttl_days=0)
    issued = tokens.issue(city.admin.actor, "city-investigator")
    assert tokens.authenticate(issued.secret).username == "city-investigator"
    tokens.revoke(city.investigator.actor, issued.token_id)  # one may revoke one's own token


def test_login_success_and_failure_are_audited(gov_platform: Platform) -> None:
    kit = seed_agency(gov_platform, "city", roles=())
    gov_platform.registry.create_user(
        SYSTEM, agency_slug="city", username="ann", role="investigator", password="correct horse"
    )

    principal, issued = gov_platform.tokens.login("ann", "correct horse")
    assert (principal.username, principal.agency_id) == ("ann", kit.agency.id)
    assert gov_platform.tokens.authenticate(issued.secret).username == "ann"

    with pytest.raises(AuthenticationFailed, match="bad username or password"):
        gov_platform.tokens.login("ann", "wrong")
    with pytest.raises(AuthenticationFailed, match="bad username or password"):
        gov_platform.tokens.login("nobody", "correct horse")
    # A user without a password (token-only) cannot log in with any password.
    gov_platform.registry.create_user(SYSTEM, agency_slug="city", username="cam-feed", role="device")
    with pytest.raises(AuthenticationFailed):
        gov_platform.tokens.login("cam-feed", "")

    (success,) = gov_platform.audit.entries(action="auth.login")
    assert (success.actor_username, success.actor_agency_id, success.outcome) == ("ann", kit.agency.id, "ok")
    failures = gov_platform.audit.entries(action="auth.login_failed")
    assert [(f.actor_username, f.outcome) for f in failures] == [
        ("ann", "refused"),
        ("nobody", "refused"),
        ("cam-feed", "refused"),
    ]
    assert failures[0].actor_agency_id == kit.agency.id
    assert failures[1].actor_agency_id is None
    for entry in gov_platform.audit.entries():
        assert "correct horse" not in entry.params
    with gov_platform.governance.engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM users WHERE username = 'ann'")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored


def test_sqlite_runs_in_wal_mode_with_full_sync(platform: Platform) -> None:
    with platform.governance.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1

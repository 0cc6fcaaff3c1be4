"""The authorisation table (docs/permissions.md) enforced where the operations live.

Every :class:`Action` is tried against every role of the agency concerned, an operator at the console and an
admin of a foreign agency, at library level; the management operations with an HTTP route, a web page or a CLI
command are tried through those doors too. Each outcome must be the table's, and each refusal must have left an
``action.refused`` entry with the table's reason.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.audit.log import Actor
from plateledger.auth.passwords import hash_password
from plateledger.auth.tokens import Principal
from plateledger.cli.main import app
from plateledger.core.clock import SystemClock
from plateledger.core.errors import NotFound, PermissionDenied, PlateledgerError
from plateledger.core.settings import Settings
from plateledger.docsgen import permissions_reference
from plateledger.hotlists.service import COVERT_CHANGE
from plateledger.platform import Platform
from plateledger.policy.actions import TABLE, Action, Scope, actor_of, allowed
from plateledger.policy.rules import date_text
from plateledger.review.register import make_case
from plateledger.sharing.service import make_terms, preset_policy
from plateledger.store.models import User, Webhook
from plateledger.subjects.requests import SubjectAsk
from tests.integration.alert_kit import hot_list, raise_alert
from tests.integration.test_web import BASE, csrf_of, sign_in
from tests.integration.web_kit import PASSWORD
from tests.support import NOW_MS, ROLES, AgencyKit, search, seed_agency

Who = Actor | Principal
CONSOLE = Actor(username="cli:tester", agency_id=None)
WITH_SUPERVISOR = (*ROLES, "supervisor")
_fresh = itertools.count(1)
EXPIRES = date_text(NOW_MS + 300 * 86_400_000)


@dataclass
class World:
    platform: Platform
    city: AgencyKit
    county: AgencyKit

    def cases(self) -> dict[str, Who]:
        """Every role of the agency acted on, the console, and an admin of another agency."""
        found: dict[str, Who] = {
            role: self.city.principals[role] for role in ("admin", "investigator", "supervisor", "auditor")
        }
        found["device"] = self.city.device
        found["console"] = CONSOLE
        found["foreign-admin"] = self.county.admin
        return found


@pytest.fixture
def world(platform: Platform) -> World:
    city, county = seed_agency(platform, "city", roles=WITH_SUPERVISOR), seed_agency(platform, "county")
    platform.registry.create_user(CONSOLE, agency_slug="city", username="city-other", role="investigator")
    return World(platform, city, county)


def _pending_from(world: World, requester: str, owner: str) -> int:
    """A new pending request of a fresh admin agency (``requester`` side) to ``owner``; returns its id."""
    platform = world.platform
    terms = make_terms(query_kinds=["plate"], purposes=["stolen_vehicle"], max_lookback_days=30, expires=EXPIRES)
    if requester == "city":
        target = seed_agency(platform, f"owner-{next(_fresh)}", roles=("admin",))
        return platform.agreements.request(world.city.admin, owner=target.slug, terms=terms).id
    other = seed_agency(platform, f"asker-{next(_fresh)}", roles=("admin",))
    return platform.agreements.request(other.admin, owner=owner, terms=terms).id


def _token_of(world: World, username: str) -> int:
    return world.platform.tokens.issue(CONSOLE, username).token_id


def _subject_request(world: World) -> int:
    """A new subject request (a fresh plate and client address each, clear of the rate limits); its id. Every
    agency with cameras (city and county) is a candidate."""
    n = next(_fresh)
    ask = SubjectAsk(f"7SR{n}", "US", "CA", "Ann Keeper", "ann@example.org", "1 Main St")
    world.platform.subjects.submit(ask, client=f"10.19.{n // 256 % 256}.{n % 256}")
    (item,) = [i for i in world.platform.subjects.queue(world.city.admin) if i.plate == f"7SR{n}"]
    return item.id


def _subject_letter(world: World, who: Who) -> object:
    """The letter of a new request, verified first by another admin of the caller's agency where the caller may
    verify (two people: the admin who verifies does not write the letter)."""
    request_id = _subject_request(world)
    if allowed(who, Action.SUBJECT_REQUEST_VERIFY, actor_of(who).agency_id).allowed:
        slug = "city" if actor_of(who).agency_id == world.city.agency.id else "county"
        verifier = f"{slug}-verifier-{next(_fresh)}"
        world.platform.registry.create_user(CONSOLE, agency_slug=slug, username=verifier, role="admin")
        other = world.platform.tokens.authenticate(world.platform.tokens.issue(CONSOLE, verifier).secret)
        world.platform.subjects.verify(other, request_id, method="in_person", verified_on="2025-05-01")
    return world.platform.letters.letter(who, request_id)  # type: ignore[arg-type]


def _own_token(world: World, who: Who) -> None:
    world.platform.tokens.revoke(actor_of(who), _token_of(world, actor_of(who).username))


#: One library call per action, acting on agency "city" (or, for the actions that act on the caller's own agency
#: by construction, on the caller's agency). A call that gets past the check may fail later (a made-up id): only
#: the check's outcome is tested.
OPS: dict[Action, Callable[[World, Any], object]] = {
    Action.AGENCY_CREATE: lambda w, who: w.platform.registry.create_agency(
        actor_of(who), slug=f"new-{next(_fresh)}", name="New", kind="municipal", country="US", state="CA"
    ),
    Action.USER_CREATE: lambda w, who: w.platform.registry.create_user(
        actor_of(who), agency_slug="city", username=f"user-{next(_fresh)}", role="investigator"
    ),
    Action.USER_LIST: lambda w, who: w.platform.registry.users_of(who, w.city.agency.id),
    Action.TOKEN_CREATE: lambda w, who: w.platform.tokens.issue(actor_of(who), "city-other"),
    Action.TOKEN_REVOKE: lambda w, who: w.platform.tokens.revoke(actor_of(who), _token_of(w, "city-other")),
    Action.TOKEN_REVOKE_OWN: _own_token,
    Action.POLICY_SET: lambda w, who: w.platform.policies.set(who, "city", preset_policy("strict"), preset="strict"),
    Action.POLICY_VIEW: lambda w, who: w.platform.policies.current("city"),
    Action.SHARING_REQUEST: lambda w, who: w.platform.agreements.request(
        who,
        owner="county" if who.agency_id == w.city.agency.id else "city",
        terms=make_terms(query_kinds=["plate"], purposes=["stolen_vehicle"], max_lookback_days=9, expires=EXPIRES),
    ),
    Action.SHARING_DECIDE: lambda w, who: w.platform.agreements.decline(who, _pending_from(w, "other", "city")),
    Action.SHARING_WITHDRAW: lambda w, who: w.platform.agreements.withdraw(who, _pending_from(w, "city", "")),
    Action.SHARING_VIEW: lambda w, who: w.platform.agreements.listing(who),
    Action.CAMERA_LIST: lambda w, who: w.platform.registry.camera_list(who, w.city.agency.id),
    Action.CAMERA_ADD: lambda w, who: w.platform.registry.add_camera(
        actor_of(who), agency_slug="city", external_id=f"cam-{next(_fresh)}", mobile=True
    ),
    Action.CAMERA_CONFIGURE: lambda w, who: w.platform.health.configure(actor_of(who), w.city.agency, "city-fixed", 60),
    Action.CAMERA_HEALTH: lambda w, who: w.platform.health.states_for(who, w.city.agency.id),
    Action.QUARANTINE_MANAGE: lambda w, who: w.platform.quarantine.pending(actor_of(who), "city"),
    Action.HOTLIST_MANAGE: lambda w, who: w.platform.hotlists.create(
        who, name=f"list {next(_fresh)}", default_purpose="stolen_vehicle"
    ),
    Action.HOTLIST_VIEW: lambda w, who: w.platform.hotlists.listing(who),
    Action.ALERT_VIEW: lambda w, who: w.platform.alerts.listing(who),
    Action.ALERT_DECIDE: lambda w, who: w.platform.alerts.decide(who, 999_999, "dismissed", "checked"),
    Action.WEBHOOK_MANAGE: lambda w, who: w.platform.webhooks.listing(who),
    Action.NOTIFY_SUBSCRIBE: lambda w, who: w.platform.notify.listing(who),
    Action.NOTIFY_OVERSEE: lambda w, who: w.platform.notify.listing(who, agency_wide=True),
    Action.RETENTION_RUN: lambda w, who: w.platform.retention.run(actor_of(who)),
    Action.BACKUP_MAKE: lambda w, who: w.platform.backups.make(
        actor_of(who), w.platform.settings.data.parent / f"backup-{next(_fresh)}"
    ),
    Action.AUDIT_READ: lambda w, who: w.platform.audit_entries.listing(who, w.city.agency.id),
    Action.AUDIT_EXPORT: lambda w, who: w.platform.audit_entries.listing(who, w.city.agency.id, export=True),
    Action.AUDIT_VERIFY: lambda w, who: w.platform.audit_entries.verify(who),
    Action.ACCESS_LOG_READ: lambda w, who: w.platform.access_log.view(who, "city"),
    Action.TRANSPARENCY_READ: lambda w, who: w.platform.transparency.build("city", days=30),
    Action.SEARCH: lambda w, who: search(w.platform, who, "7ABC123"),
    Action.APPROVAL_VIEW: lambda w, who: w.platform.approvals.requests_json(who),
    Action.APPROVAL_DECIDE: lambda w, who: w.platform.approvals.decide(who, 999_999, approve=True, note="checked"),
    Action.BREAK_GLASS_REVIEW: lambda w, who: w.platform.approvals.review(who, 999_999, note="checked"),
    Action.SUBJECT_REQUEST_SUBMIT: lambda w, who: _subject_request(w),
    Action.SUBJECT_REQUEST_VIEW: lambda w, who: w.platform.subjects.item(who, _subject_request(w)),
    Action.SUBJECT_REQUEST_VERIFY: lambda w, who: w.platform.subjects.verify(
        who, _subject_request(w), method="in_person", verified_on="2025-05-01"
    ),
    Action.SUBJECT_REQUEST_ANSWER: lambda w, who: _subject_letter(w, who),
    Action.OVERSIGHT_REVIEW: lambda w, who: w.platform.review.queue(who, "city"),
    Action.OVERSIGHT_RUN: lambda w, who: w.platform.review.run(
        who, "city", since_ms=NOW_MS - 86_400_000, until_ms=NOW_MS
    ),
    Action.CASE_VIEW: lambda w, who: w.platform.cases.listing(who, "city"),
    Action.CASE_MANAGE: lambda w, who: w.platform.cases.put(who, "city", [make_case("25-00001", "2025-01-01")]),
}
#: Actions whose operation acts on the caller's own agency whatever is asked (there is no other agency to name).
SELF: frozenset[Action] = frozenset(
    {
        Action.TOKEN_REVOKE_OWN,
        Action.SHARING_REQUEST,
        Action.SHARING_VIEW,
        Action.HOTLIST_MANAGE,
        Action.HOTLIST_VIEW,
        Action.ALERT_VIEW,
        Action.ALERT_DECIDE,
        Action.WEBHOOK_MANAGE,
        Action.NOTIFY_SUBSCRIBE,
        Action.NOTIFY_OVERSEE,
        Action.APPROVAL_VIEW,
        Action.APPROVAL_DECIDE,
        Action.BREAK_GLASS_REVIEW,
        Action.SUBJECT_REQUEST_VIEW,
        Action.SUBJECT_REQUEST_VERIFY,
        Action.SUBJECT_REQUEST_ANSWER,
    }
)
#: Actions asked for no agency in particular.
NO_AGENCY = frozenset(
    {Action.AGENCY_CREATE, Action.RETENTION_RUN, Action.BACKUP_MAKE, Action.AUDIT_VERIFY, Action.SEARCH}
)
#: Checked at the entry points that take reads (HTTP, MQTT) as ``ingest.refused``: see test_ingest_is_for_devices.
AT_THE_DOOR = frozenset({Action.INGEST})


def refusals(platform: Platform, after: int, action: Action) -> list[dict[str, Any]]:
    found = []
    for entry in platform.audit.entries(after_seq=after, limit=10_000, action="action.refused"):
        params = orjson.loads(entry.params)
        if params["operation"] == action.value:
            found.append({**params, "outcome": entry.outcome, "actor": entry.actor_username})
    return found


def head(platform: Platform) -> int:
    entries = platform.audit.entries(after_seq=0, limit=1_000_000)
    return entries[-1].seq if entries else 0


def test_every_action_has_a_rule_and_a_test() -> None:
    assert set(TABLE) == set(Action)
    assert set(OPS) | AT_THE_DOOR == set(Action)


def test_the_table_pins_the_rules_that_matter() -> None:
    """A few rows written out, so that a change of the table is a visible change of this test too."""
    city_admin = Actor("a", 1, 1, "admin")
    assert allowed(city_admin, Action.USER_CREATE, 1).allowed
    assert not allowed(city_admin, Action.USER_CREATE, 2).allowed  # agency A's admin on agency B
    assert not allowed(Actor("i", 1, 2, "investigator"), Action.AUDIT_READ, 1).allowed
    assert allowed(Actor("u", 1, 3, "auditor"), Action.ACCESS_LOG_READ, 1).allowed
    assert not allowed(Actor("u", 1, 3, "auditor"), Action.SEARCH, None).allowed
    assert not allowed(Actor("d", 1, 4, "device"), Action.SEARCH, None).allowed
    assert allowed(CONSOLE, Action.RETENTION_RUN, None).allowed
    assert not allowed(city_admin, Action.RETENTION_RUN, None).allowed
    assert not allowed(CONSOLE, Action.SEARCH, None).allowed
    supervisor = Actor("s", 1, 5, "supervisor")
    assert allowed(supervisor, Action.SEARCH, None).allowed  # an investigator who may also approve
    assert allowed(supervisor, Action.APPROVAL_DECIDE, 1).allowed
    assert not allowed(supervisor, Action.APPROVAL_DECIDE, 2).allowed  # only for its own agency
    assert not allowed(Actor("i", 1, 2, "investigator"), Action.APPROVAL_DECIDE, 1).allowed
    assert not allowed(city_admin, Action.APPROVAL_DECIDE, 1).allowed  # an admin is not a supervisor
    # What is published needs no credential, and the table claims no role check that nothing does.
    public = {Action.POLICY_VIEW, Action.TRANSPARENCY_READ, Action.SUBJECT_REQUEST_SUBMIT}
    assert {action for action, rule in TABLE.items() if rule.public} == public
    assert all(not rule.roles for rule in TABLE.values() if rule.public)
    assert allowed(Actor("d", 1, 4, "device"), Action.TRANSPARENCY_READ, 2).reason.startswith("anyone may")
    assert all(rule.scope is Scope.OWN or not rule.roles or action in OPS for action, rule in TABLE.items())


def test_permissions_doc_is_generated_from_the_table() -> None:
    from tests.test_docs import DOCS

    assert (DOCS / "permissions.md").read_text() == permissions_reference()


@pytest.mark.parametrize("action", sorted(OPS, key=str))
def test_library_enforces_the_table_and_audits_each_refusal(world: World, action: Action) -> None:
    platform = world.platform
    for case, who in world.cases().items():
        target = None if action in NO_AGENCY else actor_of(who).agency_id if action in SELF else world.city.agency.id
        expected = allowed(who, action, target)
        if isinstance(who, Actor) and (not TABLE[action].console or action is Action.TOKEN_REVOKE_OWN):
            assert action is Action.TOKEN_REVOKE_OWN or not expected.allowed
            continue  # these take a user's credential: the console has no door to them (and no token of its own)
        before = head(platform)
        raised: PlateledgerError | None = None
        try:
            OPS[action](world, who)
        except PlateledgerError as error:
            raised = error
        if expected.allowed:
            assert not isinstance(raised, PermissionDenied), (case, raised)
            unseen = [raised.detail] if isinstance(raised, NotFound) else []  # a made-up id, refused as one
            assert [e["reason"] for e in refusals(platform, before, action)] in ([], unseen), case
            continue
        assert isinstance(raised, PermissionDenied | NotFound), (case, action, raised)
        if action is Action.SEARCH:  # the search's own refusal entry carries the per-owner rules
            assert raised.detail == expected.reason
            assert [e.action for e in platform.audit.entries(after_seq=before)] == ["search.refused"]
            continue
        (entry,) = refusals(platform, before, action)
        if isinstance(raised, NotFound):  # another agency's target: refused and audited as a made-up id would be
            assert (entry["reason"], entry["outcome"], entry["agency_id"]) == (raised.detail, "refused", None), case
            continue
        assert (entry["reason"], entry["outcome"], entry["agency_id"]) == (expected.reason, "refused", target), case


def _alert_and_webhook_of_city(world: World) -> tuple[int, int]:
    """A real alert of the city's investigator's list, and a real webhook of the city: ids to probe with."""
    platform = world.platform
    alert_id = raise_alert(platform, world.city, hot_list(platform, world.city, "alerting", "7ABC123"), "read-1")
    with platform.governance.session() as session:
        hook = Webhook(agency_id=world.city.agency.id, url="https://hooks.example.org/", secret="s", created_ms=NOW_MS)
        session.add(hook)
        session.flush()
        return alert_id, hook.id


def test_another_agencys_target_is_refused_as_a_made_up_id(world: World) -> None:
    """A caller learns nothing from the answer or from its own agency's audit entries: a real id of another
    agency's token, user, agreement, hot list, alert or webhook (or of its own agency's list or alert, to a role
    that may not see them) and an id never used are refused alike (NotFound, one ``action.refused`` entry naming
    no agency), and the refusal is on the log."""
    platform, stranger, auditor = world.platform, world.county.admin, world.city.auditor
    hotlists, alerts, hooks, agreements = platform.hotlists, platform.alerts, platform.webhooks, platform.agreements
    real_token, real_agreement = _token_of(world, "city-other"), _pending_from(world, "other", "city")
    real_list = hotlists.create(world.city.investigator, name="probed", default_purpose="stolen_vehicle").id
    real_alert, real_hook = _alert_and_webhook_of_city(world)
    never = 999_999
    attempts: dict[str, tuple[Callable[[Any], object], Any, Any, str]] = {
        "token": (lambda i: platform.tokens.revoke(stranger.actor, i), real_token, never, "no token with id {}"),
        "token for": (lambda u: platform.tokens.issue(stranger.actor, u), "city-other", "nobody", "no user named '{}'"),
        "agreement": (lambda i: agreements.decline(stranger, i), real_agreement, never, "no sharing agreement #{}"),
        "agreement shown": (lambda i: agreements.get(stranger, i), real_agreement, never, "no sharing agreement #{}"),
        "list": (lambda i: hotlists.get(stranger, i), real_list, never, "no such hot list"),
        "list entries": (lambda i: hotlists.entries(stranger, i), real_list, never, "no such hot list"),
        "list changed": (lambda i: hotlists.apply(stranger, i, add=[]), real_list, never, "no such hot list"),
        "list to an auditor": (lambda i: hotlists.get(auditor, i), real_list, never, "no such hot list"),
        "alert": (lambda i: alerts.view(stranger, i), real_alert, never, "no such alert"),
        "alert decided": (lambda i: alerts.decide(stranger, i, "dismissed", "x"), real_alert, never, "no such alert"),
        "alert image": (lambda i: alerts.image_ask(stranger, i), real_alert, never, "no such alert"),
        "alert to an auditor": (lambda i: alerts.view(auditor, i), real_alert, never, "no such alert"),
        "webhook deleted": (lambda i: hooks.delete(stranger, i), real_hook, never, "no such webhook"),
        "webhook enabled": (lambda i: hooks.enable(stranger, i), real_hook, never, "no such webhook"),
        "webhook deliveries": (lambda i: hooks.deliveries(stranger, i), real_hook, never, "no such webhook"),
    }
    for what, (attempt, real, made_up, message) in attempts.items():
        seen = []
        for target in (real, made_up):
            before = head(platform)
            with pytest.raises(NotFound) as raised:
                attempt(target)
            assert raised.value.detail == message.format(target), what
            entries = platform.audit.entries(after_seq=before)
            assert [e.action for e in entries] == ["action.refused"], what
            params = orjson.loads(entries[0].params)
            seen.append((params["operation"], params["agency_id"], params["reason"].replace(str(target), "N")))
        assert seen[0] == seen[1], (what, seen)
        assert seen[0][1] is None, what


# -- through the doors -----------------------------------------------------------------------------------------
@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(platform=world.platform), base_url=BASE, follow_redirects=False) as test_client:
        yield test_client


def _bearer(who: Principal, world: World) -> dict[str, str]:
    kit = world.city if who.agency_id == world.city.agency.id else world.county
    return {"Authorization": f"Bearer {kit.tokens[who.role.value]}"}


#: HTTP requests of management operations, on agency "city" (the routes that name no agency act on the caller's).
API: list[tuple[Action, str, str, dict[str, Any] | None]] = [  # the token is for a user of "city"
    (Action.TOKEN_CREATE, "POST", "/api/v1/tokens", {"username": "city-other"}),
    (Action.CAMERA_LIST, "GET", "/api/v1/cameras", None),
    (Action.CAMERA_ADD, "POST", "/api/v1/cameras", {"external_id": "api-cam", "mobile": True}),
    (Action.CAMERA_HEALTH, "GET", "/api/v1/cameras/health", None),
    (Action.QUARANTINE_MANAGE, "GET", "/api/v1/cameras/quarantine", None),
    (Action.POLICY_SET, "PUT", "/api/v1/policies/city", {"preset": "strict"}),
    (Action.SHARING_VIEW, "GET", "/api/v1/sharing/agreements", None),
    (Action.HOTLIST_VIEW, "GET", "/api/v1/hotlists", None),
    (Action.ALERT_VIEW, "GET", "/api/v1/alerts", None),
    (Action.WEBHOOK_MANAGE, "GET", "/api/v1/webhooks", None),
    (Action.AUDIT_READ, "GET", "/api/v1/audit", None),
    (Action.AUDIT_VERIFY, "GET", "/api/v1/audit/verify", None),
    (Action.ACCESS_LOG_READ, "GET", "/api/v1/agencies/city/access-log", None),
    (Action.APPROVAL_VIEW, "GET", "/api/v1/approvals", None),
    (Action.APPROVAL_VIEW, "GET", "/api/v1/break-glass", None),
    (Action.SUBJECT_REQUEST_VIEW, "GET", "/api/v1/subject-requests", None),
    (Action.OVERSIGHT_REVIEW, "GET", "/api/v1/agencies/city/oversight/flags", None),
    (
        Action.OVERSIGHT_RUN,
        "POST",
        "/api/v1/agencies/city/oversight/run",
        {"since": "2025-05-01", "until": "2025-06-01"},
    ),
    (Action.CASE_VIEW, "GET", "/api/v1/agencies/city/cases", None),
    (Action.CASE_MANAGE, "POST", "/api/v1/agencies/city/cases", {"case_number": "25-00002", "opened": "2025-05-01"}),
]


@pytest.mark.parametrize(("action", "method", "path", "body"), API, ids=[a[2] + " " + a[1] for a in API])
def test_api_enforces_the_table(
    world: World, client: TestClient, action: Action, method: str, path: str, body: dict[str, Any] | None
) -> None:
    for case, who in world.cases().items():
        if isinstance(who, Actor):
            continue  # the console has no HTTP door
        names_city = "/city" in path or action is Action.TOKEN_CREATE
        target = world.city.agency.id if names_city or who.agency_id == world.city.agency.id else who.agency_id
        expected = allowed(who, action, target)
        before = head(world.platform)
        response = client.request(method, path, json=body, headers=_bearer(who, world))
        if expected.allowed:
            assert response.status_code < 400 or response.status_code == 409, (case, response.text)
            continue
        asked = None if action in NO_AGENCY else target
        assert_refused(world.platform, before, action, response, expected.reason, asked)


def assert_refused(
    platform: Platform, before: int, action: Action, response: Any, reason: str, agency_id: int | None
) -> None:
    """The door answered a refusal of ``action`` and its one ``action.refused`` entry is on the log: 403 with the
    table's ``reason`` for ``agency_id``, or, for a target the caller may not know of, 404 with the entry a
    made-up id leaves (its message, no agency)."""
    found = [(e["reason"], e["agency_id"]) for e in refusals(platform, before, action)]
    problem = response.headers.get("content-type", "").startswith("application/problem+json")
    if response.status_code == 404:  # a web page shows the message in HTML: the caller names it as ``reason``
        detail = response.json()["detail"] if problem else reason
        assert found == [(detail, None)], (action, detail, found)
        return
    assert response.status_code == 403, (action, response.status_code, response.text[:300])
    if problem:
        assert response.json()["detail"] == reason
    assert found == [(reason, agency_id)], (action, found)


def test_foreign_admin_refusals_are_audited_through_the_api(world: World, client: TestClient) -> None:
    """Agency A's admin acting on agency B: refused, and the entry names B and the reason; a token for B's user is
    refused as for a name no one has (B's users are not probed through A's refusals)."""
    before = head(world.platform)
    headers = _bearer(world.county.admin, world)
    assert client.put("/api/v1/policies/city", json={"preset": "open"}, headers=headers).status_code == 403
    (found,) = refusals(world.platform, before, Action.POLICY_SET)
    assert (found["actor"], found["agency_id"]) == ("county-admin", world.city.agency.id)
    assert "for another agency" in found["reason"]
    for username in ("city-other", "no-such-user"):
        before = head(world.platform)
        response = client.post("/api/v1/tokens", json={"username": username}, headers=headers)
        assert response.json()["detail"] == f"no user named {username!r}"
        assert_refused(world.platform, before, Action.TOKEN_CREATE, response, "", None)


def test_ingest_is_for_devices(world: World, client: TestClient) -> None:
    body = [{"plate": "7ABC123", "ts": NOW_MS - 60_000, "camera": "city-fixed"}]
    for case, who in world.cases().items():
        if isinstance(who, Actor):
            continue
        response = client.post("/api/v1/reads", json=body, headers=_bearer(who, world))
        expected = allowed(who, Action.INGEST, who.agency_id)
        assert (response.status_code == 200) is expected.allowed, (case, response.text)


WEB: list[tuple[Action, str]] = [
    (Action.USER_LIST, "/ui/admin/users"),
    (Action.POLICY_SET, "/ui/admin/policy"),
    (Action.SHARING_DECIDE, "/ui/admin/sharing"),
    (Action.CAMERA_HEALTH, "/ui/admin/cameras"),
    (Action.AUDIT_READ, "/ui/audit"),
    (Action.SUBJECT_REQUEST_VIEW, "/ui/admin/subject-requests"),
    (Action.OVERSIGHT_REVIEW, "/ui/oversight"),
    (Action.CASE_VIEW, "/ui/oversight/cases"),
]


def _passwords(world: World) -> None:
    """Every user may sign in to the web UI (with the kit's password)."""
    with world.platform.governance.session() as session:
        session.execute(update(User).values(password_hash=hash_password(PASSWORD)))


@pytest.mark.parametrize(("action", "path"), WEB)
def test_web_pages_enforce_the_table(world: World, client: TestClient, action: Action, path: str) -> None:
    _passwords(world)
    for role in ("admin", "investigator", "auditor"):
        who = world.city.principals[role]
        client.cookies.clear()
        sign_in(client, who.username)
        expected = allowed(who, action, who.agency_id)
        before = head(world.platform)
        page = client.get(path)
        assert (page.status_code == 200) is expected.allowed, (role, page.status_code)
        if not expected.allowed:
            assert page.status_code == 403
            assert [e["reason"] for e in refusals(world.platform, before, action)] == [expected.reason], role


def _cli(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--data", str(settings.data)])


def test_cli_token_commands_and_console_enforce_the_table(settings: Settings) -> None:
    platform = Platform.open(settings, clock=SystemClock())  # the CLI checks tokens against the real time
    try:
        city = seed_agency(platform, "city")
    finally:
        platform.close()
    # A user's token at the CLI: the same check and the same audited refusal as through the API.
    investigator = city.tokens["investigator"]
    refused = _cli(settings, "policy", "set", "city", "--preset", "strict", "--token", investigator)
    assert isinstance(refused.exception, PermissionDenied), refused.output
    denied = _cli(settings, "access-log", "--token", investigator, "--json")
    assert isinstance(denied.exception, PermissionDenied), denied.output
    assert _cli(settings, "policy", "set", "city", "--preset", "strict", "--token", city.tokens["admin"]).exit_code == 0
    # The console keeps its powers, and reads the audit log in the API's shape.
    assert _cli(settings, "users", "add", "extra", "--agency", "city", "--role", "auditor").exit_code == 0
    listed = _cli(settings, "audit", "list", "--action", "action.refused", "--json")
    assert listed.exit_code == 0, listed.output
    page = orjson.loads(listed.stdout)
    assert set(page) == {"entries", "next_after_seq"}
    reasons = [(e["actor"], e["params"]["operation"]) for e in page["entries"]]
    assert reasons == [("city-investigator", "policy.set"), ("city-investigator", "access_log.read")]
    assert page["entries"][0]["params"]["reason"] == allowed(city.investigator, Action.POLICY_SET, 1).reason


# -- the operations reviewers found untried through a door (each refusal: its status and its audit entry) --------
@dataclass
class Targets:
    """Real targets of agency "city" to act on: a list, a covert list with a named viewer, an alert, an agreement
    asked of the city and one the city asked for."""

    plain: int
    covert: int
    alert: int
    incoming: int
    outgoing: int


@pytest.fixture
def targets(world: World) -> Targets:
    hotlists, investigator = world.platform.hotlists, world.city.investigator
    plain = hotlists.create(investigator, name="plain", default_purpose="stolen_vehicle").id
    covert = hotlists.create(
        investigator, name="covert", default_purpose="stolen_vehicle", covert=True, viewers=["city-other"]
    ).id
    alert, _hook = _alert_and_webhook_of_city(world)
    return Targets(plain, covert, alert, _pending_from(world, "other", "city"), _pending_from(world, "city", ""))


ENTRY = {"plate": "7XYZ999", "reference": "C-1", "reason": "stolen", "expires": EXPIRES}
TERMS = {"query_kinds": ["plate"], "purposes": ["stolen_vehicle"], "max_lookback_days": 9, "expires": EXPIRES}


def test_more_actions_are_refused_and_audited_through_the_api(
    world: World, client: TestClient, targets: Targets
) -> None:
    city, t = world.city, targets
    investigator, auditor, device = city.investigator, city.auditor, city.device
    tries: list[tuple[Action, Principal, str, str, Any]] = [
        (Action.TOKEN_REVOKE, investigator, "DELETE", f"/api/v1/tokens/{_token_of(world, 'city-other')}", None),
        (Action.SHARING_REQUEST, investigator, "POST", "/api/v1/sharing/requests", {"owner": "county", "terms": TERMS}),
        (Action.SHARING_DECIDE, investigator, "POST", f"/api/v1/sharing/agreements/{t.incoming}/decline", {}),
        (Action.SHARING_WITHDRAW, investigator, "POST", f"/api/v1/sharing/agreements/{t.outgoing}/withdraw", {}),
        (
            Action.HOTLIST_MANAGE,
            auditor,
            "POST",
            "/api/v1/hotlists",
            {"name": "x", "default_purpose": "stolen_vehicle"},
        ),
        (Action.HOTLIST_MANAGE, auditor, "POST", f"/api/v1/hotlists/{t.plain}/entries", {"entries": [ENTRY]}),
        (Action.HOTLIST_MANAGE, device, "POST", f"/api/v1/hotlists/{t.plain}/entries", {"entries": [ENTRY]}),
        (Action.HOTLIST_MANAGE, auditor, "DELETE", f"/api/v1/hotlists/{t.plain}/entries/7ABC123", None),
        (Action.HOTLIST_MANAGE, device, "POST", f"/api/v1/hotlists/{t.plain}/import?format=csv&mode=incremental", b""),
        (Action.ALERT_DECIDE, auditor, "POST", f"/api/v1/alerts/{t.alert}/dismiss", {"note": "checked"}),
    ]
    for action, who, method, path, body in tries:
        before = head(world.platform)
        sent = {"content": body} if isinstance(body, bytes) else {"json": body}
        response = client.request(method, path, headers=_bearer(who, world), **sent)
        reason = allowed(who, action, city.agency.id).reason
        assert_refused(world.platform, before, action, response, reason, city.agency.id)
    # A named viewer of a covert list sees it and may not change it.
    viewer = {"Authorization": f"Bearer {world.platform.tokens.issue(CONSOLE, 'city-other').secret}"}
    assert client.get(f"/api/v1/hotlists/{t.covert}/entries", headers=viewer).status_code == 200
    before = head(world.platform)
    response = client.post(f"/api/v1/hotlists/{t.covert}/entries", json={"entries": [ENTRY]}, headers=viewer)
    assert_refused(world.platform, before, Action.HOTLIST_MANAGE, response, COVERT_CHANGE, city.agency.id)
    assert world.platform.hotlists.entries(city.investigator, t.covert) == []
    # What is published needs no credential at all.
    assert client.get("/transparency/city.json").status_code == 200


def test_more_actions_are_refused_and_audited_through_the_web(
    world: World, client: TestClient, targets: Targets
) -> None:
    _passwords(world)
    city, t = world.city, targets
    investigator, auditor = city.investigator.username, city.auditor.username
    terms = {**TERMS, "query_kinds": "plate", "purposes": "stolen_vehicle"}
    tries: list[tuple[Action, str, str, dict[str, Any]]] = [
        (
            Action.USER_CREATE,
            investigator,
            "/ui/admin/users",
            {"username": "x", "role": "device"},
        ),
        (Action.SHARING_REQUEST, investigator, "/ui/admin/sharing/request", {"owner": "county", **terms}),
        (Action.SHARING_DECIDE, investigator, f"/ui/admin/sharing/{t.incoming}/decline", {}),
        (Action.SHARING_WITHDRAW, investigator, f"/ui/admin/sharing/{t.outgoing}/withdraw", {}),
        (Action.HOTLIST_MANAGE, auditor, "/ui/hotlists", {"name": "x", "default_purpose": "stolen_vehicle"}),
        (Action.HOTLIST_MANAGE, auditor, f"/ui/hotlists/{t.plain}/entries", ENTRY),
        (Action.HOTLIST_MANAGE, auditor, f"/ui/hotlists/{t.plain}/remove", {"plate": "7ABC123"}),
        (Action.HOTLIST_MANAGE, "city-other", f"/ui/hotlists/{t.covert}/entries", ENTRY),
        (Action.ALERT_DECIDE, auditor, f"/ui/alerts/{t.alert}/decide", {"decision": "dismissed", "note": "x"}),
        (Action.AUDIT_EXPORT, investigator, "/ui/audit/export.jsonl", {}),
    ]
    users = {p.username: p for p in city.principals.values()}
    for action, username, path, form in tries:
        client.cookies.clear()
        sign_in(client, username)
        csrf = csrf_of(client.get("/ui/account").text)
        before = head(world.platform)
        response = client.post(path, data={"csrf": csrf, **form})
        who = users.get(username)
        reason = allowed(who, action, city.agency.id).reason if who else COVERT_CHANGE
        assert_refused(world.platform, before, action, response, reason, city.agency.id)
    client.cookies.clear()
    sign_in(client, auditor)
    before = head(world.platform)
    upload = client.post(
        f"/ui/hotlists/{t.plain}/import",
        data={"csrf": csrf_of(client.get("/ui/account").text), "format": "csv", "mode": "incremental"},
        files={"file": ("list.csv", b"plate,reference,reason\nABC123,C-1,stolen\n")},
    )
    reason = allowed(city.auditor, Action.HOTLIST_MANAGE, city.agency.id).reason
    assert_refused(world.platform, before, Action.HOTLIST_MANAGE, upload, reason, city.agency.id)
    # Another agency's alert image (the crop), and its list: refused and audited as made-up ids.
    client.cookies.clear()
    sign_in(client, world.county.investigator.username)
    for action, path, message in [
        (Action.ALERT_VIEW, f"/ui/alerts/{t.alert}/crop", "no such alert"),
        (Action.HOTLIST_VIEW, f"/ui/hotlists/{t.plain}", "no such hot list"),
    ]:
        before = head(world.platform)
        assert_refused(world.platform, before, action, client.get(path), message, None)


def test_cli_hot_list_changes_take_hotlist_manage(settings: Settings, tmp_path: Any) -> None:
    platform = Platform.open(settings, clock=SystemClock())  # the CLI checks tokens against the real time
    try:
        city = seed_agency(platform, "city")
        list_id = str(platform.hotlists.create(city.investigator, name="plain", default_purpose="stolen_vehicle").id)
        before = head(platform)
    finally:
        platform.close()
    file = tmp_path / "list.csv"
    file.write_text("plate,reference,reason\nABC123,C-1,stolen\n")
    for role in ("auditor", "device"):
        token = city.tokens[role]
        entry = ["--reference", "C-1", "--reason", "stolen", "--expires", EXPIRES]
        added = _cli(settings, "hotlist", "add", list_id, "7XYZ999", *entry, "--token", token)
        assert isinstance(added.exception, PermissionDenied), added.output
        imported = _cli(settings, "hotlist", "import", list_id, str(file), "--format", "csv", "--token", token)
        assert isinstance(imported.exception, PermissionDenied), imported.output
    platform = Platform.open(settings, clock=SystemClock())
    try:
        found = [(e["actor"], e["reason"], e["agency_id"]) for e in refusals(platform, before, Action.HOTLIST_MANAGE)]
        changed = platform.audit.entries(after_seq=before, action="hotlist.changed")
    finally:
        platform.close()
    expected = [
        (p.username, allowed(p, Action.HOTLIST_MANAGE, city.agency.id).reason, city.agency.id)
        for p in (city.auditor, city.device)
        for _door in ("add", "import")
    ]
    assert found == expected
    assert changed == []

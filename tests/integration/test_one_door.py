"""One door (issue 15): the rules that lived in one entry point are in the library, so the API, the CLI (local
and forwarding to a server) and the web UI all get them: the password policy, ingest refusals and their audit,
CSRF refusals, the users page's token list, hot-list imports, and the errors a server's problems stand for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from plateledger.api.problems import problem_for
from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.cli.main import app as cli_app
from plateledger.core.clock import FixedClock, SystemClock
from plateledger.core.errors import (
    AuditUnavailable,
    FieldInvalid,
    ImportRefused,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    PlateledgerError,
    UnsupportedMediaType,
    all_error_classes,
    error_from_problem,
)
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from tests.integration.alert_kit import serving
from tests.integration.test_audit_chain import execute
from tests.integration.test_ingest_endpoints import GENETEC
from tests.integration.test_web import BASE, csrf_of, sign_in
from tests.integration.web_kit import WebNetwork, web_network
from tests.support import NOW_MS, ROLES, AgencyKit, free_port, opened, seed_agency
from tests.unit.adapters_support import sample
from tests.unit.test_errors import make

LONG_ENOUGH = "twelve chars"


def cli(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli_app, [*args, "--data", str(settings.data)])


def refusals(platform: Platform) -> list[str]:
    return [orjson.loads(e.params)["reason"] for e in platform.audit.entries(action="ingest.refused")]


@pytest.fixture
def seeded(settings: Settings) -> AgencyKit:
    """An agency on the data directory, which is then left free for the CLI (tokens valid by the wall clock)."""
    with opened(settings, SystemClock()) as platform:
        return seed_agency(platform, "bay-pd")


# -- the password policy -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("password", ["", "short", "eleven char"])
def test_the_registry_refuses_a_short_password_for_every_door(platform: Platform, password: str) -> None:
    seed_agency(platform, "bay-pd", roles=())
    with pytest.raises(FieldInvalid, match="at least 12 characters") as caught:
        platform.registry.create_user(
            SYSTEM, agency_slug="bay-pd", username="ann", role="investigator", password=password
        )
    assert caught.value.field == "password"
    assert platform.registry.users() == []
    assert platform.audit.entries(action="user.created") == []
    # A token-only user (no password) and a password of 12 characters are fine.
    platform.registry.create_user(SYSTEM, agency_slug="bay-pd", username="bot", role="device")
    platform.registry.create_user(
        SYSTEM, agency_slug="bay-pd", username="ann", role="investigator", password=LONG_ENOUGH
    )
    assert platform.tokens.login("ann", LONG_ENOUGH)[0].username == "ann"


def test_the_cli_refuses_a_short_password(settings: Settings, seeded: AgencyKit) -> None:
    args = ["users", "add", "ann", "--agency", seeded.slug, "--role", "investigator"]
    refused = cli(settings, *args, "--password", "short")
    assert isinstance(refused.exception, FieldInvalid)
    assert (refused.exception.field, refused.exception.exit_code) == ("password", 2)
    assert cli(settings, *args, "--password", LONG_ENOUGH).exit_code == 0
    with opened(settings, FixedClock(NOW_MS)) as platform:
        assert [u.username for u in platform.registry.users() if u.username == "ann"] == ["ann"]


# -- the web UI: users page, password, CSRF ----------------------------------------------------------------------
@pytest.fixture
def network(platform: Platform) -> WebNetwork:
    return web_network(platform)


@pytest.fixture
def web(platform: Platform, network: WebNetwork) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform), base_url=BASE, follow_redirects=False) as client:
        yield sign_in(client, network.user(network.palm, "admin"))


def test_the_users_page_lists_live_tokens_of_the_agency_only(
    platform: Platform, network: WebNetwork, web: TestClient
) -> None:
    palm, harbor = network.palm.agency.id, network.harbor.agency.id
    revoked = platform.tokens.issue(SYSTEM, network.user(network.palm, "auditor"), label="old")
    platform.tokens.revoke(SYSTEM, revoked.token_id)
    live = platform.tokens.live(SYSTEM, palm)
    assert revoked.token_id not in {t.id for t in live}
    assert {t.username for t in live} == {network.user(network.palm, r) for r in ROLES}
    assert not {t.id for t in live} & {t.id for t in platform.tokens.live(SYSTEM, harbor)}
    page = web.get("/ui/admin/users").text
    for token in live:
        assert f"/ui/admin/tokens/{token.id}/revoke" in page
    assert f"/ui/admin/tokens/{revoked.token_id}/revoke" not in page


def test_the_web_ui_refuses_a_short_password_through_the_registry(platform: Platform, web: TestClient) -> None:
    form = {"csrf": csrf_of(web.get("/ui/admin/users").text), "username": "newbie", "role": "investigator"}
    short = web.post("/ui/admin/users", data={**form, "password": "short"})
    assert short.status_code == 422
    assert "at least 12 characters" in short.text
    assert web.post("/ui/admin/users", data={**form, "password": LONG_ENOUGH}).status_code == 303
    assert "newbie" in {u.username for u in platform.registry.users()}


def test_csrf_refusals_are_checked_and_audited_by_the_session_service(platform: Platform, network: WebNetwork) -> None:
    actor = network.palm.admin.actor
    platform.sessions.check_form(actor, given="same", expected="same", same_origin=True, path="/ui/x")
    assert platform.audit.entries(action="auth.refused") == []
    for given, expected, same_origin in [("a", "b", True), (None, "b", True), ("b", None, True), ("b", "b", False)]:
        with pytest.raises(PermissionDenied, match="CSRF"):
            platform.sessions.check_form(actor, given=given, expected=expected, same_origin=same_origin, path="/ui/x")
    refused = platform.audit.entries(action="auth.refused")
    assert [orjson.loads(e.params)["path"] for e in refused] == ["/ui/x"] * 4


# -- ingest refusals ---------------------------------------------------------------------------------------------
def test_a_json_body_refusal_is_audited_by_the_library(platform_factory: Any) -> None:
    platform = platform_factory(max_body_bytes=1024)
    kit = seed_agency(platform, "bay-pd")
    with pytest.raises(PermissionDenied, match="cannot ingest reads: only devices can"):
        platform.ingest.ingest_json_body(kit.investigator, b"[]")
    with pytest.raises(PayloadTooLarge):  # declared larger: the entry point read nothing of it
        platform.ingest.ingest_json_body(kit.device, b"", declared=10_000)
    assert refusals(platform) == [
        "an investigator cannot ingest reads: only devices can",
        "body larger than 1024 bytes",
    ]
    assert platform.audit.entries(action="ingest.batch") == []


@pytest.mark.parametrize(
    ("role", "source", "content_type", "camera", "error", "reason"),
    [
        (
            "admin",
            "genetec",
            "application/json",
            None,
            PermissionDenied,
            "genetec: an admin cannot ingest reads: only devices can",
        ),
        ("device", "nosuch", "application/json", None, NotFound, "nosuch: no adapter for source"),
        ("device", "genetec", "image/png", None, UnsupportedMediaType, "genetec: content-type"),
        ("device", "genetec", "application/json", "a\tb", InvalidInput, "genetec: camera:"),
    ],
)
def test_a_vendor_payload_refusal_is_audited_by_the_library(
    platform: Platform,
    role: str,
    source: str,
    content_type: str,
    camera: str | None,
    error: type[PlateledgerError],
    reason: str,
) -> None:
    kit = seed_agency(platform, "bay-pd")
    with pytest.raises(error):
        platform.vendor.receive(kit.principals[role], source, sample(GENETEC), content_type=content_type, camera=camera)
    (refused,) = refusals(platform)
    assert refused.startswith(reason)
    assert platform.reads.count() == 0


def test_the_library_stores_an_accepted_vendor_payload(platform: Platform) -> None:
    kit = seed_agency(platform, "bay-pd")
    result = platform.vendor.receive(kit.device, "genetec", sample(GENETEC), content_type="application/json")
    assert (result.stored + result.quarantined, refusals(platform)) == (1, [])


def test_a_file_the_cli_cannot_read_is_an_audited_refusal(
    settings: Settings, seeded: AgencyKit, tmp_path: Path
) -> None:
    result = cli(settings, "ingest", str(tmp_path / "missing.jsonl"), "--agency", seeded.slug)
    assert isinstance(result.exception, InvalidInput)
    assert result.exception.exit_code == 2
    with opened(settings, FixedClock(NOW_MS)) as platform:
        (refused,) = refusals(platform)
    assert refused.startswith("jsonl: ")
    assert "cannot open" in refused


# -- hot-list imports: one operation -----------------------------------------------------------------------------
def test_a_hot_list_import_is_the_same_operation_from_the_api_and_the_cli(
    settings: Settings, seeded: AgencyKit, tmp_path: Path
) -> None:
    file = tmp_path / "list.csv"
    file.write_text("plate,reference,reason\nABC123,C-1,stolen\n,C-2,no plate\nXYZ789,C-3,stolen\n")
    with opened(settings, FixedClock(NOW_MS)) as platform:
        ids = [platform.hotlists.create(seeded.investigator, name=n, default_purpose="stolen_vehicle").id for n in "ab"]
    base = ["--format", "csv", "--skip-invalid", "--token", seeded.tokens["investigator"], "--json"]
    by_cli = cli(settings, "hotlist", "import", str(ids[0]), str(file), *base)
    assert by_cli.exit_code == 0, by_cli.output
    with opened(settings, FixedClock(NOW_MS)) as platform:
        client = TestClient(create_app(platform=platform))
        by_api = client.post(
            f"/api/v1/hotlists/{ids[1]}/import?format=csv&skip_invalid=true&mode=incremental&filename=list.csv",
            content=file.read_bytes(),
            headers={"Authorization": f"Bearer {seeded.tokens['investigator']}"},
        )
        sources = [orjson.loads(e.params)["source"] for e in platform.audit.entries(action="hotlist.changed")]
    assert by_api.status_code == 200, by_api.text
    assert {**orjson.loads(by_cli.stdout), "list_id": 0} == {**by_api.json(), "list_id": 0}
    assert by_api.json()["added"] == 2
    assert sources == ["cli:csv", "api:csv"]


# -- the CLI beside a server: problems come back as their errors -----------------------------------------------
@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_each_problem_comes_back_as_its_error(cls: type[PlateledgerError]) -> None:
    error = make(cls)
    if isinstance(error, ImportRefused):
        error = ImportRefused("refused whole", {"errors": [{"line": 2, "field": "plate", "reason": "required"}]})
    response = problem_for(error, "/api/v1/x")
    back = error_from_problem(response.status_code, orjson.loads(response.body))
    assert type(back) is cls
    assert (back.detail, back.exit_code) == (error.detail, error.exit_code)
    assert getattr(back, "field", None) == getattr(error, "field", None)
    assert getattr(back, "report", None) == getattr(error, "report", None)
    assert getattr(back, "request_id", None) == getattr(error, "request_id", None)


def test_a_problem_of_no_class_comes_back_by_its_status() -> None:
    assert type(error_from_problem(404, {"type": "about:blank", "detail": "Not Found"})) is NotFound
    assert type(error_from_problem(405, {"type": "about:blank"})) is PlateledgerError
    internal = error_from_problem(500, {"type": "https://plateledger.org/problems/internal", "detail": "failed"})
    assert (type(internal), internal.exit_code) == (PlateledgerError, 1)
    assert type(error_from_problem(503, None)) is AuditUnavailable


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[Platform, AgencyKit]]:
    """A server holding the data directory (in this process, so the CLI here must forward to it)."""
    port = free_port()
    platform = Platform.open(settings, clock=SystemClock(), url=f"http://127.0.0.1:{port}")
    try:
        kit = seed_agency(platform, "bay-pd")
        with serving(platform, port=port):
            yield platform, kit
    finally:
        platform.close()


def test_the_cli_forwarding_to_a_server_exits_as_it_would_locally(
    settings: Settings, server: tuple[Platform, AgencyKit]
) -> None:
    platform, kit = server
    token = ["--token", kit.tokens["investigator"]]
    search = ["search", "plate", "ABC123", "--purpose", "stolen_vehicle", "--case", "C-1", *token, "--json"]
    assert cli(settings, *search).exit_code == 0
    missing = cli(settings, "hotlist", "show", "999", *token)
    assert isinstance(missing.exception, NotFound)
    no_purpose = cli(settings, "search", "plate", "ABC123", "--case", "C-1", *token)
    assert isinstance(no_purpose.exception, FieldInvalid)
    assert no_purpose.exception.field == "purpose"
    execute(platform, "sqlalchemy", ("ALTER TABLE audit_log RENAME TO audit_log_gone", {}))
    try:
        unaudited = cli(settings, *search)
    finally:
        execute(platform, "sqlalchemy", ("ALTER TABLE audit_log_gone RENAME TO audit_log", {}))
    assert isinstance(unaudited.exception, AuditUnavailable)
    assert unaudited.exception.exit_code == 7

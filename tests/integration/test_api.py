"""The HTTP API against real stores: ingest, search, auth, problem+json shapes, audit-before-answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.api.schemas import SearchOut
from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.core.errors import all_error_classes
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from tests.support import METRICS_AUTH, METRICS_TOKEN
from tests.unit.test_errors import make


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform.open(
        load_settings(data=tmp_path / "data", max_batch_reads=50, max_body_bytes=64 * 1024, metrics_token=METRICS_TOKEN)
    )
    for slug, name in (("bayview-pd", "Bayview PD"), ("harbor-pd", "Harbor PD")):
        platform.registry.create_agency(SYSTEM, slug=slug, name=name, kind="municipal", country="US", state="CA")
        platform.registry.add_camera(SYSTEM, agency_slug=slug, external_id="cam-1", lat=37.8, lon=-122.27)
        for role in ("admin", "investigator", "auditor", "device"):
            platform.registry.create_user(SYSTEM, agency_slug=slug, username=f"{slug}-{role}", role=role)
    yield platform
    platform.close()


@pytest.fixture
def client(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform))


def token(platform: Platform, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.tokens.issue(SYSTEM, username).secret}"}


def post_reads(client: TestClient, headers: dict[str, str], reads: list[object]) -> dict[str, object]:
    response = client.post("/api/v1/reads", content=orjson.dumps(reads), headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def search(client: TestClient, headers: dict[str, str], **params: object) -> object:
    return client.get("/api/v1/search/plate", params=params, headers=headers)


def test_ingest_partial_batch_reports_each_rejection(platform: Platform, client: TestClient) -> None:
    device = token(platform, "bayview-pd-device")
    now = platform.clock.now_ms()
    body = post_reads(
        client,
        device,
        [
            {"plate": "7ABC123", "ts": now - 1000, "camera": "cam-1"},
            {"plate": "7ABC123", "camera": "cam-1"},
            {"plate": "7ABC124", "ts": now + 3_600_000, "camera": "cam-1"},
            {"plate": "7ABC125", "ts": now - 1000, "camera": "cam-9"},
            "not an object",
        ],
    )
    assert body["stored"] == 1
    assert body["rejected_count"] == 4
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}  # type: ignore[attr-defined]
    assert reasons[1].startswith("ts: required")
    assert reasons[2].startswith("ts: more than")
    assert reasons[3].startswith("camera: ")
    assert reasons[4].startswith("read: must be a JSON object")
    again = post_reads(client, device, [{"plate": "7ABC123", "ts": now - 1000, "camera": "cam-1"}])
    assert (again["stored"], again["duplicates"]) == (0, 1)


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b'{"plate": "X"}', 400), (b"[" + b"{}," * 60 + b"{}]", 413), (b"x" * 70_000, 413)],
)
def test_malformed_body_refused_whole(platform: Platform, client: TestClient, body: bytes, status: int) -> None:
    before = platform.reads.count()
    response = client.post("/api/v1/reads", content=body, headers=token(platform, "bayview-pd-device"))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.json()) >= {"type", "title", "status", "detail"}
    assert platform.reads.count() == before
    assert platform.audit.entries(action="ingest.refused")


@pytest.mark.parametrize("role", ["investigator", "admin", "auditor"])
def test_only_device_tokens_ingest(platform: Platform, client: TestClient, role: str) -> None:
    response = client.post("/api/v1/reads", content=b"[]", headers=token(platform, f"bayview-pd-{role}"))
    assert response.status_code == 403
    assert platform.audit.entries(action="ingest.refused")


def test_search_sees_own_agency_only_and_is_audited_first(platform: Platform, client: TestClient) -> None:
    now = platform.clock.now_ms()
    for slug in ("bayview-pd", "harbor-pd"):
        post_reads(
            client, token(platform, f"{slug}-device"), [{"plate": "8XYZ999", "ts": now - 5000, "camera": "cam-1"}]
        )
    response = search(
        client,
        token(platform, "bayview-pd-investigator"),
        plate="8xyz-999",
        purpose="stolen_vehicle",
        case_number="C-1",
    )
    assert response.status_code == 200  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert [r["owner"] for r in body["reads"]] == ["Bayview PD"]
    assert body["withheld"] == [{"owner": "Harbor PD", "rule": "no sharing agreement with this owner (default deny)"}]
    assert body["obtained_under"] == "purpose stolen_vehicle, case C-1"
    SearchOut.model_validate(body, strict=True)  # the documented schema is what is sent
    entry = platform.audit.entries(action="search.plate")[-1]
    assert entry.seq == body["audit_seq"]
    assert orjson.loads(entry.params)["query"]["plate"] == "8xyz-999"
    assert orjson.loads(entry.counts) == {"per_owner": {"bayview-pd": 1}}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"plate": "8XYZ999", "case_number": "C-1"}, "purpose"),
        ({"plate": "8XYZ999", "purpose": "curiosity", "case_number": "C-1"}, "purpose"),
        ({"plate": "8XYZ999", "purpose": "stolen_vehicle"}, "case_number"),
        ({"plate": "8XYZ999", "purpose": "stolen_vehicle", "case_number": "\x07bell"}, "case_number"),
        ({"plate": "8X*", "purpose": "stolen_vehicle", "case_number": "C-1"}, "plate"),
    ],
)
def test_refused_search_names_field_and_is_audited(
    platform: Platform, client: TestClient, params: dict[str, str], field: str
) -> None:
    response = search(client, token(platform, "bayview-pd-investigator"), **params)
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert response.json()["field"] == field  # type: ignore[attr-defined]
    refused = platform.audit.entries(action="search.refused")
    assert refused
    assert refused[-1].outcome == "refused"
    assert not platform.audit.entries(action="search.plate")


@pytest.mark.parametrize("role", ["device", "auditor"])
def test_device_and_auditor_cannot_search(platform: Platform, client: TestClient, role: str) -> None:
    response = search(
        client, token(platform, f"bayview-pd-{role}"), plate="8XYZ999", purpose="stolen_vehicle", case_number="C"
    )
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert platform.audit.entries(action="search.refused")[-1].actor_username == f"bayview-pd-{role}"


def test_bad_tokens_refused_and_audited(platform: Platform, client: TestClient) -> None:
    issued = platform.tokens.issue(SYSTEM, "bayview-pd-investigator")
    platform.tokens.revoke(SYSTEM, issued.token_id)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {issued.secret}"}):
        response = search(client, headers, plate="8XYZ999", purpose="stolen_vehicle", case_number="C")
        assert response.status_code == 401  # type: ignore[attr-defined]
    assert len(platform.audit.entries(action="auth.refused")) == 3


def test_login_issues_token_and_audits_failures(platform: Platform, client: TestClient) -> None:
    platform.registry.create_user(
        SYSTEM, agency_slug="bayview-pd", username="alice", role="investigator", password="s3cret! horse"
    )
    assert client.post("/api/v1/auth/login", json={"username": "alice", "password": "wrong"}).status_code == 401
    ok = client.post("/api/v1/auth/login", json={"username": "alice", "password": "s3cret! horse"})
    assert ok.status_code == 200
    assert platform.tokens.authenticate(ok.json()["token"]).username == "alice"
    assert platform.audit.entries(action="auth.login_failed")
    assert platform.audit.entries(action="auth.login")


def test_cameras_admin_only(platform: Platform, client: TestClient) -> None:
    camera = {"external_id": "cam-2", "lat": 37.7, "lon": -122.4}
    assert (
        client.post("/api/v1/cameras", json=camera, headers=token(platform, "bayview-pd-investigator")).status_code
        == 403
    )
    created = client.post("/api/v1/cameras", json=camera, headers=token(platform, "bayview-pd-admin"))
    assert created.status_code == 201
    listed = client.get("/api/v1/cameras", headers=token(platform, "bayview-pd-admin")).json()
    assert {c["external_id"] for c in listed} == {"cam-1", "cam-2"}
    bad = client.post(
        "/api/v1/cameras", json={"external_id": "c", "lat": 91, "lon": 0}, headers=token(platform, "bayview-pd-admin")
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "lat"


def test_tokens_create_and_revoke_over_http(platform: Platform, client: TestClient) -> None:
    admin = token(platform, "bayview-pd-admin")
    created = client.post("/api/v1/tokens", json={"username": "bayview-pd-device", "label": "gate cam"}, headers=admin)
    assert created.status_code == 201
    secret = created.json()["token"]
    assert platform.tokens.authenticate(secret).role == "device"
    foreign = client.post("/api/v1/tokens", json={"username": "harbor-pd-device"}, headers=admin)
    assert foreign.status_code == 404  # another agency's users are not acknowledged (as a name no one has)
    assert foreign.json()["detail"] == "no user named 'harbor-pd-device'"
    assert client.delete(f"/api/v1/tokens/{created.json()['token_id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/cameras", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_audit_endpoints(platform: Platform, client: TestClient) -> None:
    auditor = token(platform, "bayview-pd-auditor")
    assert client.get("/api/v1/audit/verify", headers=auditor).json()["intact"] is True
    entries = client.get("/api/v1/audit", headers=auditor).json()["entries"]
    assert all(e["action"] for e in entries)
    assert client.get("/api/v1/audit", headers=token(platform, "bayview-pd-investigator")).status_code == 403


def test_health_metrics_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    metrics = client.get("/metrics", headers=METRICS_AUTH).text
    assert "plateledger_reads_stored" in metrics
    engine = {line.split('"')[1] for line in metrics.splitlines() if line.startswith("plateledger_reads_engine{")}
    assert engine == {"statements", "busy_seconds", "waited_seconds"}
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/reads", "/api/v1/search/plate", "/api/v1/auth/login"} <= set(paths)


def test_every_error_class_has_problem_shape() -> None:
    from plateledger.api.problems import problem_for

    for cls in all_error_classes():
        error = make(cls)
        response = problem_for(error, "/x")
        body = orjson.loads(response.body)
        assert response.status_code == cls.status
        assert response.media_type == "application/problem+json"
        assert body["status"] == cls.status
        assert body["title"] == cls.title
        assert body["type"].endswith(cls.slug)
        assert body["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"plate": "8XYZ999' OR 1=1 --", "camera": "cam-1"},
        {"plate": "8XYZ999", "camera": "cam-1' OR owner != 0 --"},
        {"plate": "8XY*", "camera": "x') OR (1=1"},
        {"plate": "8XYZ999", "region": "US-CA' OR '1'='1"},
    ],
)
def test_hostile_search_strings_never_reach_other_owners(
    platform: Platform, client: TestClient, params: dict[str, str]
) -> None:
    now = platform.clock.now_ms()
    post_reads(client, token(platform, "harbor-pd-device"), [{"plate": "8XYZ999", "ts": now - 5000, "camera": "cam-1"}])
    response = search(
        client, token(platform, "bayview-pd-investigator"), purpose="stolen_vehicle", case_number="C-1", **params
    )
    assert response.status_code in (200, 422)  # type: ignore[attr-defined]
    if response.status_code == 200:  # type: ignore[attr-defined]
        assert response.json()["reads"] == []  # type: ignore[attr-defined]
    assert platform.audit.entries(action="search.plate") or platform.audit.entries(action="search.refused")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "garbage"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "99999999999999999999"}, "limit"),
        ({"fuzzy": "maybe"}, "fuzzy"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
    ],
)
def test_malformed_search_parameters_are_refused_and_audited(
    platform: Platform, client: TestClient, params: dict[str, str], field: str
) -> None:
    response = search(
        client,
        token(platform, "bayview-pd-investigator"),
        plate="8XYZ999",
        purpose="stolen_vehicle",
        case_number="C-1",
        **params,
    )
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert response.json()["field"] == field  # type: ignore[attr-defined]
    assert platform.audit.entries(action="search.refused")
    assert not platform.audit.entries(action="search.plate")


def test_deeply_nested_read_is_refused_whole_and_audited(platform: Platform, client: TestClient) -> None:
    now = platform.clock.now_ms()
    nested = "[" * 600 + "]" * 600
    body = f'[{{"plate": "7ABC123", "ts": {now - 1000}, "camera": "cam-1"}}, {{"plate": {nested}}}]'.encode()
    response = client.post("/api/v1/reads", content=body, headers=token(platform, "bayview-pd-device"))
    assert response.status_code == 400
    assert "read 1" in response.json()["detail"]
    assert platform.reads.count() == 0
    assert platform.audit.entries(action="ingest.refused")


def test_an_empty_batch_is_audited(platform: Platform, client: TestClient) -> None:
    assert post_reads(client, token(platform, "bayview-pd-device"), [])["stored"] == 0
    assert orjson.loads(platform.audit.entries(action="ingest.batch")[-1].counts)["stored"] == 0


def test_search_query_parameters_are_the_plate_search_fields() -> None:
    """The CLI forwards a PlateSearch to a running server field by field (asdict), so the two must match."""
    import dataclasses
    import inspect

    from plateledger.api.routes.search import search_plate
    from plateledger.search.plate import PlateSearch

    api = set(inspect.signature(search_plate).parameters) - {"platform", "principal"}
    assert api == {f.name for f in dataclasses.fields(PlateSearch)}

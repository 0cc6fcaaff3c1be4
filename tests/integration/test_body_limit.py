"""Every route limits its request body before reading it: 413 problem+json, the handler never runs; ingest and
hot-list imports keep their larger limits."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import orjson
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message

from plateledger.app import create_app
from plateledger.platform import Platform
from tests.support import NOW_MS, read, seed_agency

MB = 1024 * 1024
CHUNK = 64 * 1024


def login_body(size: int) -> bytes:
    """A sign-in the handler would refuse (and audit as auth.login_failed), padded to ``size`` bytes."""
    head = b'{"username": "nobody", "password": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def asgi_post(app: ASGIApp, path: str, body: bytes) -> tuple[int, dict[str, object], int]:
    """POST ``body`` in chunks without a Content-Length, as a client streaming it would; (status, problem,
    bytes the app pulled)."""
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        chunk = body[pulled : pulled + CHUNK]
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pulled < len(body)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, orjson.loads(payload), pulled


def assert_refused(response: object, limit: int) -> None:
    assert getattr(response, "status_code", None) == 413
    headers = getattr(response, "headers", {})
    assert headers["content-type"] == "application/problem+json"
    problem = getattr(response, "json")()  # noqa: B009
    assert (problem["status"], problem["detail"]) == (413, f"body larger than {limit} bytes")


def test_a_20_mb_sign_in_is_refused_before_it_is_read(platform: Platform) -> None:
    client = TestClient(create_app(platform=platform))
    before = len(platform.audit.entries(after_seq=0, limit=100_000))
    declared = client.post(
        "/api/v1/auth/login", content=login_body(20 * MB), headers={"Content-Type": "application/json"}
    )
    assert_refused(declared, MB)

    status, problem, pulled = asgi_post(create_app(platform=platform), "/api/v1/auth/login", login_body(20 * MB))
    assert (status, problem["detail"]) == (413, f"body larger than {MB} bytes")
    assert pulled <= MB + CHUNK  # sent chunked (no Content-Length): nothing past the chunk over the limit is read
    # The handler never ran: a refused sign-in would be on the audit log (auth.login_failed).
    assert len(platform.audit.entries(after_seq=0, limit=100_000)) == before
    small = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert small.status_code == 401


def test_ingest_keeps_its_larger_limit_and_audits_its_refusal(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory(max_request_bytes=1024, max_body_bytes=64 * 1024)
    kit = seed_agency(platform, "bayview-pd")
    client = TestClient(create_app(platform=platform))
    device = {"Authorization": f"Bearer {kit.tokens['device']}"}
    batch = orjson.dumps([read("7ABC123", camera="bayview-pd-fixed", ts=NOW_MS - n * 1000) for n in range(60)])
    assert 1024 < len(batch) < 64 * 1024
    stored = client.post("/api/v1/reads", content=batch, headers=device)
    assert stored.status_code == 200, stored.text
    assert stored.json()["stored"] == 60
    too_big = client.post("/api/v1/reads", content=b"[" + b" " * 70_000 + b"]", headers=device)
    assert_refused(too_big, 64 * 1024)
    assert platform.audit.entries(after_seq=0, limit=100_000)[-1].action == "ingest.refused"

    form = client.post("/ui/sign-in", data={"username": "nobody", "password": "x" * 2000, "csrf": "x"})
    assert_refused(form, 1024)
    login = client.post("/api/v1/auth/login", content=login_body(2000), headers={"Content-Type": "application/json"})
    assert_refused(login, 1024)

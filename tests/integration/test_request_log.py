"""Request ids and the access log: every response names its request, every log line of the request carries the id,
and no URL token or query string reaches the log."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.platform import Platform
from tests.support import captured_logs, json_lines

NEW_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def client(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform), raise_server_exceptions=False)


def test_a_request_gets_a_new_id_echoed_in_the_response(client: TestClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert NEW_ID.fullmatch(first)
    assert first != second


def test_a_sane_id_from_the_caller_is_kept(client: TestClient) -> None:
    offered = "lb-7f3a.2026:12_07-x"
    assert client.get("/healthz", headers={"X-Request-ID": offered}).headers["X-Request-ID"] == offered


@pytest.mark.parametrize("offered", ["x" * 129, "has space", 'quote"d', "<script>", "é"])
def test_an_unfit_id_is_replaced(client: TestClient, offered: str) -> None:
    answered = client.get("/healthz", headers={"X-Request-ID": offered.encode()})
    assert NEW_ID.fullmatch(answered.headers["X-Request-ID"])


def test_access_log_redacts_the_url_token_and_drops_the_query(client: TestClient) -> None:
    with captured_logs("json") as buffer:
        ingest = client.post("/api/v1/ingest/openalpr/S3CRET-DEVICE-TOKEN?camera=c1", content=b"{}")
        search = client.get("/api/v1/search/plate?plate=7ABC123&purpose=stolen_vehicle&case_number=C-1")
    assert "S3CRET" not in buffer.getvalue()
    assert "7ABC123" not in buffer.getvalue()
    access = [e for e in json_lines(buffer) if e["logger"] == "plateledger.access"]
    assert [(e["method"], e["path"], e["status"]) for e in access] == [
        ("POST", "/api/v1/ingest/openalpr/<token>", ingest.status_code),
        ("GET", "/api/v1/search/plate", search.status_code),
    ]
    assert access[0]["route"] == "/api/v1/ingest/{source}/{token}"
    assert access[0]["request_id"] == ingest.headers["X-Request-ID"]
    assert access[1]["request_id"] == search.headers["X-Request-ID"]
    assert access[0]["duration_ms"] >= 0
    assert access[0]["client"] == "testclient"


def test_an_unexpected_error_is_one_line_with_the_request_id(platform: Platform) -> None:
    app = create_app(platform=platform)

    def broken() -> None:
        raise RuntimeError("a bug\nover two lines")

    app.add_api_route("/broken", broken)
    with captured_logs("json") as buffer:
        answered = TestClient(app, raise_server_exceptions=False).get("/broken", headers={"X-Request-ID": "r-500"})
    assert answered.status_code == 500
    assert answered.headers["X-Request-ID"] == "r-500"
    entries = json_lines(buffer)  # each record parsed as one line: the traceback is inside its record
    failure = next(e for e in entries if e["logger"] == "plateledger.api")
    assert failure["request_id"] == "r-500"
    assert "RuntimeError: a bug\nover two lines" in failure["exc_info"]
    access = next(e for e in entries if e["logger"] == "plateledger.access")
    assert (access["status"], access["request_id"]) == (500, "r-500")

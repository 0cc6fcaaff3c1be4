"""``/metrics`` opens only to the instance's metrics token; ``/docs`` is served from this server only, under a CSP."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.core.errors import ConfigurationError
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from tests.support import METRICS_AUTH, METRICS_TOKEN, seed_agency


def assert_unauthenticated(response: object) -> None:
    assert getattr(response, "status_code", None) == 401
    headers = getattr(response, "headers", {})
    assert headers["content-type"] == "application/problem+json"
    assert headers["www-authenticate"] == "Bearer"
    assert "plateledger_" not in getattr(response, "text", "")


def test_metrics_need_the_metrics_token(platform: Platform) -> None:
    kit = seed_agency(platform, "city")
    client = TestClient(create_app(platform=platform))
    assert_unauthenticated(client.get("/metrics"))
    assert_unauthenticated(client.get("/metrics", headers={"Authorization": "Bearer " + "x" * len(METRICS_TOKEN)}))
    assert_unauthenticated(client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"}))
    # An agency's own admin does not see every agency's figures.
    assert_unauthenticated(client.get("/metrics", headers={"Authorization": f"Bearer {kit.tokens['admin']}"}))
    scraped = client.get("/metrics", headers=METRICS_AUTH)
    assert scraped.status_code == 200
    assert 'plateledger_cameras_silent{agency="city"}' in scraped.text


def test_metrics_are_closed_without_a_token_setting(platform_factory: Callable[..., Platform]) -> None:
    client = TestClient(create_app(platform=platform_factory()))
    assert_unauthenticated(client.get("/metrics", headers=METRICS_AUTH))


def test_a_short_metrics_token_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="metrics_token"):
        load_settings(metrics_token="short")


def test_docs_load_only_local_assets_under_a_csp(platform: Platform) -> None:
    client = TestClient(create_app(platform=platform))
    page = client.get("/docs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: the page starts Swagger UI with /docs/init.js
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 4
    assert all(asset.startswith("/docs/") for asset in assets), assets
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert served.content
    assert "SwaggerUIBundle" in client.get("/docs/init.js").text
    assert client.get("/redoc").status_code == 404  # ReDoc came from a CDN and needs inline styles: not offered
    assert client.get("/openapi.json").status_code == 200

"""Bad input at POST /api/v1/ingest/{source}, through the real HTTP app and stores: mutated real Genetec and
Survision payloads, truncated bodies, wrong content types and hostile strings get a 4xx problem+json (or are
stored), never a 500; and nothing accepted before is lost.

The budget is fixed (derandomised, ``max_examples``) so CI runs the same examples every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plateledger.app import create_app
from plateledger.core.clock import FixedClock
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from tests.support import AgencyKit, CameraSpec, seed_agency
from tests.unit.adapters_support import mutated, sample, sample_json

CLOCK_MS = 1_729_900_000_000
#: The samples without their large images, so that examples stay fast (images are fuzzed by the unit tests).
GENETEC = orjson.dumps(
    {k: v for k, v in sample_json("parkpow_snapshot-middleware_Genetec.json").items() if not k.endswith("Image")}
)
SURVISION_DOC = sample_json("parkpow_snapshot-middleware_Survision.json")
SURVISION_DOC["anpr"]["decision"].pop("jpeg")
SURVISION = orjson.dumps(SURVISION_DOC)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "text/plain", "application/xml", "multipart/form-data", "image/jpeg", "", "a/b; x=y"]
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Platform, AgencyKit]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        from tests.support import clear_settings_environment

        clear_settings_environment(monkeypatch)
        conf = load_settings(data=Path(tmp_path_factory.mktemp("fuzz")) / "data", max_body_bytes=64 * 1024)
    platform = Platform.open(conf, clock=FixedClock(CLOCK_MS))
    kit = seed_agency(platform, "city", cameras=(CameraSpec("G637821011231200521C"), CameraSpec("SN-7", 48.85, 2.35)))
    client = TestClient(create_app(platform=platform), raise_server_exceptions=False)
    # Accepted before the fuzzing: must still be there after it.
    headers = {"Authorization": f"Bearer {kit.tokens['device']}", "Content-Type": "application/json"}
    assert client.post("/api/v1/ingest/genetec", content=GENETEC, headers=headers).json()["stored"] == 1
    yield client, platform, kit
    platform.close()


def _check(response_status: int, content_type: str, body: str) -> None:
    assert response_status < 500, body
    if response_status >= 400:
        assert content_type == "application/problem+json", body


@pytest.mark.parametrize(("source", "seed"), [("genetec", GENETEC), ("survision", SURVISION)])
@FUZZ
@given(data=st.data())
def test_mutated_payloads_are_stored_or_refused_never_500(
    served: tuple[TestClient, Platform, AgencyKit], source: str, seed: bytes, data: st.DataObject
) -> None:
    client, _, kit = served
    body = data.draw(mutated(seed))
    content_type = data.draw(st.sampled_from(["application/json", "application/json; charset=utf-8"]) | CONTENT_TYPES)
    headers = {"Authorization": f"Bearer {kit.tokens['device']}", "survision-serial-number": "SN-7"}
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(f"/api/v1/ingest/{source}", content=body, headers=headers)
    _check(response.status_code, response.headers.get("content-type", ""), response.text)


@FUZZ
@given(
    path=st.text(max_size=80).map(lambda t: quote(t, safe="")),
    camera=st.text(max_size=80),
    cut=st.integers(0, len(GENETEC)),
)
def test_hostile_paths_cameras_and_truncated_bodies(
    served: tuple[TestClient, Platform, AgencyKit], path: str, camera: str, cut: int
) -> None:
    client, _, kit = served
    headers = {"Authorization": f"Bearer {kit.tokens['device']}", "Content-Type": "application/json"}
    for url in (f"/api/v1/ingest/{path or 'x'}", f"/api/v1/ingest/genetec/{path or 'x'}"):
        response = client.post(url, content=GENETEC[:cut], headers=headers)
        _check(response.status_code, response.headers.get("content-type", ""), response.text)
    response = client.post("/api/v1/ingest/genetec", params={"camera": camera}, content=GENETEC[:cut], headers=headers)
    _check(response.status_code, response.headers.get("content-type", ""), response.text)


def test_nothing_accepted_before_was_lost(served: tuple[TestClient, Platform, AgencyKit]) -> None:
    client, _, kit = served
    response = client.get(
        "/api/v1/search/plate",
        params={"plate": "9HKA742", "purpose": "stolen_vehicle", "case_number": "C-1"},
        headers={"Authorization": f"Bearer {kit.tokens['investigator']}"},
    )
    assert [r["read_id"] for r in response.json()["reads"]] == ["ccd6761e-b2a6-4afc-b386-412d6529c4ec"]


def test_huge_body_refused_before_it_is_read(served: tuple[TestClient, Platform, AgencyKit]) -> None:
    client, _, kit = served
    headers = {"Authorization": f"Bearer {kit.tokens['device']}", "Content-Type": "application/json"}
    response = client.post("/api/v1/ingest/genetec", content=b"[" + b"1," * 100_000 + b"1]", headers=headers)
    assert response.status_code == 413
    assert response.json()["type"] == "https://plateledger.org/problems/payload-too-large"
    assert sample("parkpow_snapshot-middleware_Genetec.json")  # the full sample (190 KB) is over this limit too

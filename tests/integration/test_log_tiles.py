"""``/log/tile/...``: the audit tree's hash tiles and entry bundles, public and cacheable, and nothing private in
them — checked on a demo network after searches, refusals and hot-list alerts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.audit.events import AgencyCreated, PlateSearched
from plateledger.audit.log import SYSTEM, Actor
from plateledger.core.clock import FixedClock
from plateledger.core.settings import load_settings
from plateledger.demo.network import seed_demo
from plateledger.platform import Platform
from plateledger_verify import leaf, merkle, tiles
from tests.support import NOW_MS, clear_settings_environment, opened


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform)) as client:
        yield client


def served(client: TestClient, size: int) -> dict[str, bytes]:
    """Every tile and bundle of the tree of ``size``, fetched without a token."""
    found: dict[str, bytes] = {}
    for ref in tiles.tiles_for_size(size, entries=True):
        response = client.get(f"/log/{ref.path}")
        assert response.status_code == 200, (ref.path, response.text)
        assert response.headers["content-type"] == "application/octet-stream"
        cache = response.headers["cache-control"]
        assert cache == ("public, max-age=10" if ref.is_partial else "public, max-age=31536000, immutable")
        found[ref.path] = response.content
    return found


def test_tiles_and_bundles_are_served_without_a_token(platform: Platform, client: TestClient) -> None:
    search = PlateSearched(purpose="stolen_vehicle", case_number="C-1", query={"plate": "ABC123"}, per_owner={})
    for i in range(300):
        platform.audit.append(Actor("ofc", None, user_id=1), search if i % 2 else AgencyCreated(slug=f"a{i}"))
    size, root = platform.audit.tree.head()
    files = served(client, size)
    assert set(files) == {
        "tile/0/000",
        "tile/0/001.p/44",
        "tile/1/000.p/1",
        "tile/entries/000",
        "tile/entries/001.p/44",
    }
    entries = tiles.decode_bundle(files["tile/entries/000"]) + tiles.decode_bundle(files["tile/entries/001.p/44"])
    assert [leaf.parse_leaf(e).seq for e in entries] == list(range(1, 301))
    # A verifier rebuilds the root from the served tiles alone.
    reader = tiles.TileHashReader(size, lambda ref: client.get(f"/log/{ref.path}").content)
    assert merkle.root_hash(size, reader) == root
    # A narrower partial tile of what exists is served too; a full one is served for a partial request.
    assert client.get("/log/tile/0/001.p/3").content == files["tile/0/001.p/44"][: 3 * 32]
    assert client.get("/log/tile/0/000.p/7").content == files["tile/0/000"][: 7 * 32]


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/001",  # not full yet
        "tile/0/001.p/45",  # wider than the tree
        "tile/0/002.p/1",
        "tile/2/000.p/1",
        "tile/entries/001",
        "tile/entries/001.p/45",
        "tile/0/x000/001",  # not canonical
        "tile/0/1",
        "tile/0/000.p/256",
        "tile/64/000",
        "tile/nope",
        "checkpoint",  # not this router's (nor served yet)
    ],
)
def test_beyond_the_tree_or_malformed_is_a_404_problem(platform: Platform, client: TestClient, path: str) -> None:
    for i in range(300):
        platform.audit.append(SYSTEM, AgencyCreated(slug=f"a{i}"))
    response = client.get(f"/log/{path}")
    assert response.status_code == 404
    if path.startswith("tile/"):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 404


# --- nothing private is served ------------------------------------------------------------------------------------

CASES = ("CASE-4471-ALPHA", "HOMICIDE-2026-0099")
NOTES = ("seen near Lincoln Elementary with J. Doe", "tip from informant Mallory")


def private_strings(platform: Platform, users: list[dict[str, Any]]) -> set[str]:
    """Every plate, user name, client address, case number and note the audit log holds (operator's view)."""
    found = {u["username"] for u in users} | set(CASES) | set(NOTES) | {"J. Doe"}
    listed = platform.audit_entries.listing(SYSTEM, None, limit=1000)
    entries = list(listed.entries)
    while listed.next_after_seq is not None:
        listed = platform.audit_entries.listing(SYSTEM, None, after_seq=listed.next_after_seq, limit=1000)
        entries += listed.entries
    for entry in entries:
        found |= {v for v in (entry.actor, entry.case_number, entry.client) if v}
        query: dict[str, Any] = entry.params.get("query") or {}
        if not isinstance(query, dict):
            query = {}
        for value in (entry.params.get("plate"), query.get("plate"), query.get("note"), entry.params.get("read_id")):
            if isinstance(value, str) and value:
                found.add(value)
    return {s for s in found if s not in {"system", "demo"}}


def test_a_demo_serves_no_plate_user_case_or_note_under_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_settings_environment(monkeypatch)
    settings = load_settings(data=tmp_path / "data")
    with opened(settings, FixedClock(NOW_MS)) as platform:
        summary = seed_demo(platform, reads=3000)
        investigators = [u for u in summary.users if u["role"] == "investigator"]
        plates = [p["plate"] for p in summary.example_plates]
        with TestClient(create_app(platform=platform)) as client:
            for i, user in enumerate(investigators):
                bearer = {"Authorization": f"Bearer {user['token']}"}
                for j, plate in enumerate(plates[:3]):
                    params = {"plate": plate, "purpose": "stolen_vehicle", "case_number": CASES[(i + j) % 2]}
                    client.get("/api/v1/search/plate", params={**params, "note": NOTES[j % 2]}, headers=bearer)
                # Refused: a purpose that is really a plate and a name, a missing case.
                client.get(
                    "/api/v1/search/plate",
                    params={"plate": plates[0], "purpose": f"{plates[0]} J. Doe", "note": NOTES[0]},
                    headers=bearer,
                )
            size, _ = platform.audit.tree.head()
            assert size > 256
            files = served(client, size)
        secrets = private_strings(platform, summary.users)
    assert set(CASES) | set(NOTES) | set(plates[:3]) <= secrets
    assert len(secrets) > 25
    for path, body in files.items():
        for secret in secrets:
            assert secret.encode() not in body, (path, secret)
            assert orjson.dumps(secret)[1:-1] not in body, (path, secret)

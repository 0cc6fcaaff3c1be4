"""Concurrent batches from several owners (the API's thread pool) store each read once, under its owner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import orjson
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.platform import Platform
from tests.support import AgencyKit, ingest, read, search, seed_agency

BATCHES = 12
PER_BATCH = 200


def test_concurrent_batches_keep_owners_and_store_each_read_once(platform: Platform) -> None:
    city = seed_agency(platform, "city", roles=("investigator", "device"))
    county = seed_agency(platform, "county", roles=("investigator", "device"))

    def batch(kit: AgencyKit, n: int) -> int:
        reads = [read(f"{kit.slug[:3].upper()}{n:02d}{i:03d}", camera=kit.cameras[0]) for i in range(PER_BATCH)]
        return ingest(platform, kit, reads).stored

    jobs = [(kit, n) for n in range(BATCHES) for kit in (city, county)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        stored = list(pool.map(lambda job: batch(*job), jobs))
        # The same batches again, concurrently: every read is now a duplicate.
        again = list(pool.map(lambda job: batch(*job), jobs))
    assert sum(stored) == 2 * BATCHES * PER_BATCH
    assert sum(again) == 0
    assert platform.reads.count() == 2 * BATCHES * PER_BATCH
    for kit, prefix in ((city, "CIT"), (county, "COU")):
        result = search(platform, kit.investigator, f"{prefix}*", limit=BATCHES * PER_BATCH)
        assert len(result.reads) == BATCHES * PER_BATCH
        assert {r.owner for r in result.reads} == {kit.agency.id}


def test_concurrent_http_batches_all_succeed(platform: Platform) -> None:
    kit = seed_agency(platform, "city", roles=("device",))
    secret = platform.tokens.issue(SYSTEM, kit.device.username).secret
    app = create_app(platform=platform)

    def post(n: int) -> int:
        with TestClient(app) as client:
            body = [read(f"HT{n:02d}{i:03d}", camera=kit.cameras[0]) for i in range(PER_BATCH)]
            response = client.post(
                "/api/v1/reads", content=orjson.dumps(body), headers={"Authorization": f"Bearer {secret}"}
            )
            assert response.status_code == 200, response.text
            stored: int = response.json()["stored"]
            return stored

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert sum(pool.map(post, range(BATCHES))) == BATCHES * PER_BATCH
    assert platform.reads.count() == BATCHES * PER_BATCH

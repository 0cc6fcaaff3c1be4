"""Issue 20, item 1: a live alert arrived without its plate crop. The alert was published (live stream, webhooks,
MQTT) while the vendor door was still to store the read's images, so the page fetched the crop before it was
stored, got nothing and never retried; and the fetch was audited as a refused search.

Now the vendor door stores a read's images before the read's alerts are raised, every alert says whether its crop
is stored (``image``), and asking for an image that is not (yet) stored, when the owner lets the requester see the
read, is a permitted search that found nothing (``image.viewed``, 0 reads), never ``search.refused``; a made-up id
and a real one the requester may not see are still answered and audited alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plateledger.adapters.base import Adapted, SourceRead
from plateledger.app import create_app
from plateledger.core.errors import NotFound
from plateledger.platform import Platform
from plateledger.policy.rules import Policy
from plateledger.search.image import ImageAsk
from plateledger.vocab import Purpose
from tests.integration.alert_kit import hot_list
from tests.integration.test_web import BASE, actions, sign_in
from tests.integration.web_kit import WebNetwork, crop_alert_read, plate_crop, web_network
from tests.support import NOW_MS, ingest, read


@pytest.fixture
def network(platform: Platform) -> WebNetwork:
    return web_network(platform)


@pytest.fixture
def client(platform: Platform, network: WebNetwork) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform), base_url=BASE, follow_redirects=False) as test_client:
        yield test_client


def test_vendor_alert_is_published_after_its_crop_is_stored(platform: Platform, network: WebNetwork) -> None:
    hot_list(platform, network.palm, "Stolen", "7RACE01")
    seen: list[tuple[dict[str, Any], bytes | None]] = []

    def listener(agency_id: int, body: dict[str, Any]) -> None:
        # What a page would fetch the moment the alert reaches it.
        ask = platform.alerts.image_ask(network.palm.investigator, body["id"])
        try:
            data: bytes | None = platform.image_views.view(network.palm.investigator, ask).data
        except NotFound:
            data = None
        seen.append((body, data))

    platform.alerts.subscribe(listener)
    crop = plate_crop()
    sent = SourceRead(
        plate="7RACE01", ts_ms=NOW_MS - 60_000, camera="palm-1", source_ts="t", read_id="race-1", images=(crop,)
    )
    palm = network.palm
    result = platform.vendor.store(palm.device.actor, palm.agency, Adapted(reads=[sent]), channel="http", source="t")
    assert (result.stored, result.images) == (1, 1)
    ((body, data),) = seen
    assert body["image"] == "stored"
    assert data == crop.data


def test_crop_fetched_before_it_is_stored_is_an_empty_permitted_view_then_shows(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    hot_list(platform, network.palm, "Stolen", "7RACE02")
    ingest(platform, network.palm, [read("7RACE02", camera="palm-1", ts=NOW_MS - 60_000)])
    (alert,) = platform.alerts.listing(network.palm.investigator)
    assert alert["image"] == "none"
    sign_in(client, network.user(network.palm, "investigator"))
    mark = len(actions(platform))
    early = client.get(f"/ui/alerts/{alert['id']}/crop")
    assert (early.status_code, early.content) == (204, b"")
    (entry,) = platform.audit.entries(after_seq=mark, limit=10)
    # Permitted under the alert's purpose and case, and nothing found: not a refused search.
    assert (entry.action, entry.purpose, entry.case_number) == ("image.viewed", "stolen_vehicle", "CASE-1")
    assert (entry.outcome, entry.counts) == ("ok", '{"per_owner":{"palm-pd":0}}')
    crop_alert_read(platform, network.palm, alert)
    assert platform.alerts.view(network.palm.investigator, alert["id"])["image"] == "stored"
    late = client.get(f"/ui/alerts/{alert['id']}/crop")
    assert (late.status_code, late.content) == (200, plate_crop().data)
    assert actions(platform)[-1] == "image.viewed"


def test_no_oracle_for_a_requester_the_owner_withholds(platform: Platform, network: WebNetwork) -> None:
    hot_list(platform, network.palm, "Stolen", "7RACE03")
    ingest(platform, network.palm, [read("7RACE03", camera="palm-1", ts=NOW_MS - 60_000)])
    (alert,) = platform.alerts.listing(network.palm.investigator)
    crop_alert_read(platform, network.palm, alert)
    platform.policies.set(
        network.palm.admin.actor, "palm-pd", Policy(prohibited_purposes=frozenset({Purpose("stolen_vehicle")}))
    )
    who = network.palm.investigator
    entries = []
    for read_id in (alert["read"]["read_id"], "made-up-id"):
        mark = len(actions(platform))
        with pytest.raises(NotFound) as refused:
            platform.image_views.view(who, ImageAsk("palm-pd", read_id, "plate", "stolen_vehicle", "CASE-1"))
        (entry,) = platform.audit.entries(after_seq=mark, limit=10)
        entries.append((str(refused.value), entry.action, entry.outcome, entry.params.replace(read_id, "ID")))
    assert entries[0] == entries[1]
    assert entries[0][1] == "search.refused"

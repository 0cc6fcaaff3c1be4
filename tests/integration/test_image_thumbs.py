"""Issue 20, item 1: thumbnails of read images (search results, alert cards, the read detail), each through the
image gate: decided like the full image, audited as its own ``image.viewed`` (``"size": "thumb"``), in the
owner's access log, made once with Pillow and cached under the image store, removed by retention with the image;
a made-up or forbidden read answers exactly as the full image does."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from PIL import Image as Picture

from plateledger.adapters.base import Image
from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.core.errors import FieldInvalid
from plateledger.images import thumbs
from plateledger.platform import Platform
from plateledger.policy.rules import Policy
from plateledger.search.image import ImageAsk
from tests.integration.alert_kit import hot_list
from tests.integration.test_web import BASE, csrf_of, sign_in
from tests.integration.web_kit import PLATE, WebNetwork, crop_alert_read, plate_crop, web_network
from tests.support import DAY_MS, HOUR_MS, NOW_MS, AgencyKit, ingest, read

CASE = {"purpose": "stolen_vehicle", "case_number": "C-77"}


@pytest.fixture
def network(platform: Platform) -> WebNetwork:
    net = web_network(platform)
    ingest(platform, net.palm, [read(PLATE, camera="palm-2", ts=NOW_MS - HOUR_MS // 2, read_id="img-1")])
    platform.images.put(net.palm.agency.id, "img-1", PLATE, NOW_MS - HOUR_MS // 2, overview())
    return net


@pytest.fixture
def client(platform: Platform, network: WebNetwork) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform), base_url=BASE, follow_redirects=False) as test_client:
        yield test_client


def overview(width: int = 1600, height: int = 900) -> Image:
    """A large JPEG stored as a read's plate image (an overview-sized picture: the thumbnail must shrink it)."""
    out = io.BytesIO()
    Picture.new("RGB", (width, height), (200, 40, 40)).save(out, "JPEG")
    return Image("plate", "image/jpeg", out.getvalue())


def bearer(kit: AgencyKit) -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.tokens['investigator']}"}


def api_image(client: TestClient, kit: AgencyKit, read_id: str, **params: str) -> Any:
    return client.get(f"/api/v1/images/palm-pd/{read_id}/plate", params={**CASE, **params}, headers=bearer(kit))


def query_of(platform: Platform, seq: int) -> dict[str, Any]:
    (entry,) = platform.audit.entries(after_seq=seq - 1, limit=1)
    query: dict[str, Any] = orjson.loads(entry.params)["query"]
    return query


def test_a_thumbnail_is_a_small_jpeg_decided_audited_and_logged_like_the_full_image(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    full = api_image(client, network.palm, "img-1")
    thumb = api_image(client, network.palm, "img-1", size="thumb")
    assert (full.status_code, thumb.status_code) == (200, 200)
    assert full.content == overview().data
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["cache-control"] == "no-store"
    with Picture.open(io.BytesIO(thumb.content)) as small:
        assert small.format == "JPEG"
        assert small.size == (240, 135)  # fitted into 240 x 160, the aspect kept
    assert len(thumb.content) < len(full.content)
    # Each is its own image.viewed entry of one read, the thumbnail's saying so.
    full_query = query_of(platform, int(full.headers["x-audit-seq"]))
    thumb_query = query_of(platform, int(thumb.headers["x-audit-seq"]))
    assert full_query == {"owner": "palm-pd", "read_id": "img-1", "image": "plate"}
    assert thumb_query == {**full_query, "size": "thumb"}
    entries = platform.audit.entries(after_seq=int(full.headers["x-audit-seq"]) - 1, limit=10)
    assert [(e.action, e.counts) for e in entries] == [("image.viewed", '{"per_owner":{"palm-pd":1}}')] * 2
    # Both are in the owner's access log.
    log = platform.access_log.view(network.palm.auditor, "palm-pd").entries
    assert [(e.kind, e.outcome, e.rows) for e in log if e.kind == "image"] == [("image", "permitted", 1)] * 2


def test_the_thumbnail_is_made_once_and_removed_by_retention_with_its_image(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    ingest(platform, network.palm, [read("7OLD001", camera="palm-1", ts=NOW_MS - 40 * DAY_MS, read_id="img-old")])
    platform.images.put(network.palm.agency.id, "img-old", "7OLD001", NOW_MS - 40 * DAY_MS, overview(800, 600))
    first = api_image(client, network.palm, "img-old", size="thumb")
    assert first.status_code == 200
    cached = sorted(p for p in (platform.settings.images_dir / "thumbs").rglob("*") if p.is_file())
    assert len(cached) == 1
    assert cached[0].read_bytes() == first.content
    again = api_image(client, network.palm, "img-old", size="thumb")
    assert again.content == first.content  # from the cache
    api_image(client, network.palm, "img-1", size="thumb")

    platform.policies.set(SYSTEM, "palm-pd", Policy(retention_days=30, hit_retention_days=90))
    platform.retention.run(SYSTEM)
    left = sorted(p.name for p in platform.settings.images_dir.rglob("*") if p.is_file())
    kept = platform.images.find(network.palm.agency.id, "img-1", "plate").sha256[2:]
    assert left == [kept, kept]  # the kept read's blob and its thumbnail; the expired read's both gone
    assert api_image(client, network.palm, "img-old", size="thumb").status_code == 404


def test_a_made_up_or_forbidden_read_answers_a_thumbnail_as_it_answers_the_full_image(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    """Far State Patrol has no agreement with Palm: the real read and a made-up one look alike, for both sizes."""
    seen = []
    for read_id in ("img-1", "made-up"):
        for size in ("full", "thumb"):
            response = api_image(client, network.far, read_id, size=size)
            (entry,) = platform.audit.entries(after_seq=platform.audit.verify().entries - 1, limit=1)
            params = orjson.loads(entry.params)
            params["query"] = {k: v for k, v in params["query"].items() if k not in ("read_id", "size")}
            body = {k: v for k, v in response.json().items() if k != "instance"}  # the address asked for
            seen.append((response.status_code, body, entry.action, entry.outcome, params))
    assert seen == [seen[0]] * 4, seen
    assert (seen[0][0], seen[0][2]) == (404, "search.refused")


def test_an_unknown_size_is_refused_naming_the_field(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    response = api_image(client, network.palm, "img-1", size="huge")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "size" in response.text
    with pytest.raises(FieldInvalid) as refused:
        platform.image_views.view(
            network.palm.investigator, ImageAsk("palm-pd", "img-1", "plate", *CASE.values(), size="huge")
        )
    assert refused.value.field == "size"
    assert platform.audit.entries(after_seq=0, limit=10_000)[-1].action == "search.refused"


def test_an_image_pillow_cannot_read_is_served_as_stored(platform: Platform, network: WebNetwork) -> None:
    assert thumbs.render(b"\xff\xd8 not really a jpeg") is None
    platform.images.put(
        network.palm.agency.id, "img-1", PLATE, NOW_MS - HOUR_MS // 2, Image("plate", "image/png", b"?")
    )
    ask = ImageAsk("palm-pd", "img-1", "plate", *CASE.values(), size="thumb")
    viewed = platform.image_views.view(network.palm.investigator, ask)
    assert (viewed.data, viewed.content_type) == (b"?", "image/png")


def test_results_link_a_lazy_thumbnail_for_each_read_with_a_crop_and_details_for_the_others(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    sign_in(client, network.user(network.palm, "investigator"))
    form = {"csrf": csrf_of(client.get("/ui/search").text), "mode": "plate", "plate": PLATE, **CASE}
    page = client.post("/ui/search", data=form).text
    thumbs_on_page = re.findall(r'<img src="([^"]+)" loading="lazy" alt="Plate crop of ([^"]+)"', page)
    assert len(thumbs_on_page) == 1
    src, alt = thumbs_on_page[0]
    assert src == "/ui/images/palm-pd/img-1/plate?purpose=stolen_vehicle&amp;case_number=C-77&amp;size=thumb"
    assert alt.startswith(f"{PLATE} at palm-2, ")
    assert page.count('class="secondary read-open"') == 3  # Palm's other three reads: no image, no request
    (detail,) = [orjson.loads(html.unescape(d)) for d in re.findall(r"data-read='([^']+)'", page) if "img-1" in d]
    assert [(i["kind"], i["thumb"]) for i in detail["images"]] == [("plate", html.unescape(src))]
    mark = platform.audit.verify().entries
    thumb = client.get(src.replace("&amp;", "&"))
    full = client.get("/ui/images/palm-pd/img-1/plate", params=CASE)
    assert (thumb.status_code, thumb.headers["content-type"]) == (200, "image/jpeg")
    assert full.content == overview().data
    assert [e.action for e in platform.audit.entries(after_seq=mark, limit=10)] == ["image.viewed"] * 2
    made_up = client.get("/ui/images/palm-pd/made-up/plate", params={**CASE, "size": "thumb"})
    assert made_up.status_code == 404
    assert made_up.headers["content-type"].startswith("text/html")


def test_an_alert_card_shows_the_crop_as_a_thumbnail(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    hot_list(platform, network.palm, "Stolen", "7THB001")
    ingest(platform, network.palm, [read("7THB001", camera="palm-1", ts=NOW_MS - 60_000)])
    (alert,) = platform.alerts.listing(network.palm.investigator)
    crop_alert_read(platform, network.palm, alert)
    sign_in(client, network.user(network.palm, "investigator"))
    thumb = client.get(f"/ui/alerts/{alert['id']}/crop", params={"size": "thumb"})
    assert (thumb.status_code, thumb.headers["content-type"]) == (200, "image/jpeg")
    assert query_of(platform, int(thumb.headers["x-audit-seq"]))["size"] == "thumb"
    assert client.get(f"/ui/alerts/{alert['id']}/crop").content == plate_crop().data
    assert client.get(f"/ui/alerts/{alert['id']}/crop", params={"size": "huge"}).status_code == 422

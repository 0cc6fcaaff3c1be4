"""A small network for the web UI tests: three agencies (two in California, one in Nevada) with a password for
every user, cameras with positions, and reads of one plate at cameras of two owners."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from plateledger.adapters import genetec
from plateledger.adapters.base import Image
from plateledger.auth.passwords import hash_password
from plateledger.core.clock import parse_iso_ms
from plateledger.platform import Platform
from plateledger.store.models import User
from tests.support import HOUR_MS, NOW_MS, AgencyKit, CameraSpec, ingest, read, seed_agency
from tests.unit.adapters_support import sample

PASSWORD = "correct horse battery"
PLATE = "7WEB123"


@dataclass
class WebNetwork:
    palm: AgencyKit
    harbor: AgencyKit
    far: AgencyKit

    @staticmethod
    def user(kit: AgencyKit, role: str) -> str:
        return f"{kit.slug}-{role}"


def _cameras(slug: str, lat: float, lon: float) -> tuple[CameraSpec, ...]:
    return tuple(CameraSpec(f"{slug}-{n}", lat=lat + n * 0.004, lon=lon + n * 0.006) for n in range(3))


def web_network(platform: Platform) -> WebNetwork:
    palm = seed_agency(platform, "palm-pd", name="Palm Police", cameras=_cameras("palm", 37.77, -122.42))
    harbor = seed_agency(platform, "harbor-pd", name="Harbor Police", cameras=_cameras("harbor", 37.80, -122.27))
    far = seed_agency(
        platform, "far-patrol", name="Far State Patrol", kind="state", state="NV", cameras=_cameras("far", 39.5, -119.8)
    )
    with platform.governance.session() as session:
        session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    ingest(platform, palm, [read(PLATE, camera=f"palm-{n}", ts=NOW_MS - (5 - n) * HOUR_MS) for n in range(3)])
    ingest(platform, far, [read(PLATE, camera="far-1", ts=NOW_MS - 30 * HOUR_MS)])
    return WebNetwork(palm, harbor, far)


def plate_crop() -> Image:
    """A real plate crop (a JPEG): the one in the Genetec vendor sample."""
    adapted = genetec.adapt(sample("parkpow_snapshot-middleware_Genetec.json"), "application/json")
    return next(image for image in adapted.reads[0].images if image.kind == "plate")


def crop_alert_read(platform: Platform, kit: AgencyKit, alert: dict[str, Any]) -> str:
    """Store the plate crop with the read of ``alert`` (as the vendor ingest stores the images sent with a read);
    returns the read id."""
    read_id: str = alert["read"]["read_id"]
    ts_ms = parse_iso_ms(alert["read"]["ts"])
    platform.images.put(kit.agency.id, read_id, alert["read"]["plate"], ts_ms, plate_crop())
    return read_id


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, code: str = "") -> TestClient:
    """Sign ``client`` in through the sign-in form (a 303 on success)."""
    form = client.get("/ui/sign-in")
    response = client.post(
        "/ui/sign-in",
        data={"csrf": csrf_of(form.text), "username": username, "password": password, "code": code},
    )
    assert response.status_code == 303, response.text
    return client

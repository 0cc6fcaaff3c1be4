"""A small network for the web UI tests: three agencies (two in California, one in Nevada) with a password for
every user, cameras with positions, and reads of one plate at cameras of two owners."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from plateledger.auth.passwords import hash_password
from plateledger.platform import Platform
from plateledger.store.models import User
from tests.support import HOUR_MS, NOW_MS, AgencyKit, CameraSpec, ingest, read, seed_agency

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

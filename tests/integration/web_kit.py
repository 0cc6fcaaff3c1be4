"""A small network for the web UI tests: three agencies (two in California, one in Nevada) with a password for
every user, cameras with positions, and reads of one plate at cameras of two owners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from plateledger.adapters import genetec
from plateledger.adapters.base import Image
from plateledger.audit.log import SYSTEM
from plateledger.auth.passwords import hash_password
from plateledger.core.clock import parse_iso_ms
from plateledger.platform import Platform
from plateledger.policy.rules import DescriptionLimits, Policy, Terms
from plateledger.store.models import User
from plateledger.vocab import Purpose, QueryKind
from tests.support import DAY_MS, HOUR_MS, NOW_MS, AgencyKit, CameraSpec, ingest, read, seed_agency
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


#: The vehicle of the description search "red Toyota" (issue 20, item 2), and where it is searched: around
#: palm-0, 1 km, the 24 hours before NOW_MS.
RED_TOYOTA = {"make": "Toyota", "model": "Corolla", "color": "Red", "type": "sedan"}
DESCRIPTION_AREA = (37.771, -122.418, 1000)


def description_network(platform: Platform, net: WebNetwork) -> None:
    """Red Toyotas (and other vehicles) near palm-0 in the day before NOW_MS, read by every agency: Palm (opted
    in) and Harbor (opted in, agreement granting ``description`` to Palm) answer; Far State Patrol (opted in, but
    its agreement grants Palm plate searches only) is withheld."""
    opted_in = Policy(description=DescriptionLimits(allowed=True))
    for kit in (net.palm, net.harbor, net.far):
        platform.policies.set(SYSTEM, kit.slug, opted_in)
    for owner, kinds in ((net.harbor, {QueryKind.PLATE, QueryKind.DESCRIPTION}), (net.far, {QueryKind.PLATE})):
        terms = Terms(
            query_kinds=frozenset(kinds),
            purposes=frozenset({Purpose.STOLEN_VEHICLE}),
            max_lookback_days=30,
            expires_ms=NOW_MS + 365 * DAY_MS,
        )
        view = platform.agreements.request(net.palm.admin, owner=owner.slug, terms=terms)
        platform.agreements.accept(owner.admin, view.id)
    near = {"lat": 37.7712, "lon": -122.4178}
    blue, honda = {**RED_TOYOTA, "color": "Blue"}, {"make": "Honda", "color": "red"}
    ingest(platform, net.palm, [
        read("7RED001", camera="palm-0", ts=NOW_MS - 2 * HOUR_MS, read_id="palm-red", vehicle=RED_TOYOTA),
        read("7BLU001", camera="palm-0", ts=NOW_MS - 2 * HOUR_MS, read_id="palm-blue", vehicle=blue),
        read("7HON001", camera="palm-0", ts=NOW_MS - 3 * HOUR_MS, read_id="palm-honda", vehicle=honda),
        read("7RED002", camera="palm-0", ts=NOW_MS - 30 * HOUR_MS, read_id="palm-red-old", vehicle=RED_TOYOTA),
    ])  # fmt: skip
    ingest(platform, net.harbor, [
        read("8RED003", camera="harbor-0", ts=NOW_MS - 4 * HOUR_MS, read_id="harbor-red", vehicle=RED_TOYOTA, **near)
    ])  # fmt: skip
    ingest(platform, net.far, [
        read("9RED004", camera="far-0", ts=NOW_MS - 5 * HOUR_MS, read_id="far-red", vehicle=RED_TOYOTA, **near)
    ])  # fmt: skip

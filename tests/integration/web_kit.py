"""A small network for the web UI tests: three agencies (two in California, one in Nevada) with a password for
every user, cameras with positions, and reads of one plate at cameras of two owners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import update

from plateledger.adapters import genetec
from plateledger.adapters.base import Image
from plateledger.auth.passwords import hash_password
from plateledger.core.clock import parse_iso_ms
from plateledger.platform import Platform
from plateledger.sharing.service import Terms
from plateledger.store.models import User
from plateledger.vocab import Purpose, QueryKind
from tests.support import DAY_MS, HOUR_MS, NOW_MS, AgencyKit, CameraSpec, ingest, read, seed_agency
from tests.unit.adapters_support import sample, sample_json

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


GENETEC = "parkpow_snapshot-middleware_Genetec.json"


def plate_crop() -> Image:
    """A real plate crop (a JPEG): the one in the Genetec vendor sample."""
    return sample_image("plate")


def sample_image(kind: str) -> Image:
    """The Genetec vendor sample's plate crop (``plate``, 79 x 110) or overview image (``overview``, 1920 x 1088)."""
    adapted = genetec.adapt(sample(GENETEC), "application/json")
    return next(image for image in adapted.reads[0].images if image.kind == kind)


def crop_alert_read(platform: Platform, kit: AgencyKit, alert: dict[str, Any]) -> str:
    """Store the plate crop with the read of ``alert`` (as the vendor ingest stores the images sent with a read);
    returns the read id."""
    read_id: str = alert["read"]["read_id"]
    ts_ms = parse_iso_ms(alert["read"]["ts"])
    platform.images.put(kit.agency.id, read_id, alert["read"]["plate"], ts_ms, plate_crop())
    return read_id


def genetec_read(plate: str, camera: str, ts_ms: int, read_id: str) -> bytes:
    """The Genetec vendor sample (a read with its plate crop and overview image) as ``camera`` would send a read
    of ``plate`` at ``ts_ms``: the body of ``POST /api/v1/ingest/genetec``."""
    body = sample_json(GENETEC)
    when = datetime.fromtimestamp(ts_ms / 1000, UTC)
    body.update(Plate=plate, SharpName=camera, CameraName=f"{camera} - Camera", VehicleID=read_id)
    body.update(DateUtc=when.strftime("%m/%d/%Y"), TimeUtc=when.strftime("%H:%M:%S"))
    return orjson.dumps(body)


def share_plates(platform: Platform, owner: AgencyKit, requester: AgencyKit) -> None:
    """An accepted agreement: ``requester`` may search ``owner``'s reads by plate for stolen vehicles (30 days)."""
    terms = Terms(
        query_kinds=frozenset({QueryKind.PLATE}),
        purposes=frozenset({Purpose.STOLEN_VEHICLE}),
        max_lookback_days=30,
        expires_ms=NOW_MS + 30 * DAY_MS,
    )
    asked = platform.agreements.request(requester.admin, owner=owner.slug, terms=terms)
    platform.agreements.accept(owner.admin, asked.id)

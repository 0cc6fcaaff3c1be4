"""The demo network's layout: its fictional agencies, where their cameras stand, and the simulated world.

Cameras stand at real positions from the OpenStreetMap ALPR extract (``surveillance:type=ALPR``, November
2025; © OpenStreetMap contributors, ODbL 1.0), one per ~300 m cell so a zone's cameras spread over it. The
extract has next to no cameras in Northern California or around Reno, so the network lies in Southern
California and Las Vegas, joined by I-15 (counts in ``ZONES``):

* Palmcrest Police Department (municipal, CA): street cameras around Irvine;
* Harbor Grove Police Department (municipal, CA): street cameras around Garden Grove and Long Beach;
* San Aurelio County Sheriff's Office (county, CA): the Inland Empire, and I-15 in the High Desert;
* Silver State Highway Patrol (state, NV): Las Vegas, I-15 near the state line, and two patrol cars;
* Federal Office of Vehicle Transit Enforcement (federal, DC): the approaches to the San Ysidro port of entry;
* Coastline Parking Company (private, CA): a few parking-lot cameras in the two cities.

Everything here is pure (no stores); :mod:`plateledger.demo.network` registers it.
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import NamedTuple

from plateledger.core.errors import FieldInvalid, NotFound
from plateledger.demo.simulate import Area, Getaway, SimCamera, World
from plateledger.store.cameras import CameraInfo
from plateledger.vocab import AgencyKind

ATTRIBUTION = "Camera positions © OpenStreetMap contributors (ODbL 1.0)"
CAMERA_FILE = Path("shared", "data", "osm_alpr_cameras", "osm_alpr_cameras_2025-11.csv.gz")
_CELL_DEG = 0.003  # keep one camera per cell of about 300 m, so a zone's cameras spread over it


@dataclass(frozen=True)
class AgencySpec:
    slug: str
    name: str
    kind: AgencyKind
    state: str
    code: str  # prefix of its camera ids


@dataclass(frozen=True)
class Zone:
    """Where one agency's cameras stand: a box (south, north, west, east) and how many to take there."""

    owner: str
    area: str
    role: str  # "road" (passed on the way), "lot" (a destination) or "corridor" (a highway out of town)
    box: tuple[float, float, float, float]
    count: int
    label: str


AGENCIES = (
    AgencySpec("palmcrest-pd", "Palmcrest Police Department", AgencyKind.MUNICIPAL, "CA", "PCPD"),
    AgencySpec("harbor-grove-pd", "Harbor Grove Police Department", AgencyKind.MUNICIPAL, "CA", "HGPD"),
    AgencySpec("san-aurelio-sheriff", "San Aurelio County Sheriff's Office", AgencyKind.COUNTY, "CA", "SACS"),
    AgencySpec("silver-state-patrol", "Silver State Highway Patrol", AgencyKind.STATE, "NV", "SSHP"),
    AgencySpec(
        "federal-transit-office", "Federal Office of Vehicle Transit Enforcement", AgencyKind.FEDERAL, "DC", "FOVT"
    ),
    AgencySpec("coastline-parking", "Coastline Parking Company", AgencyKind.PRIVATE, "CA", "CPC"),
)

ZONES = (
    Zone("palmcrest-pd", "palmcrest", "road", (33.60, 33.76, -117.87, -117.70), 60, "street"),
    Zone("harbor-grove-pd", "harbor-grove", "road", (33.74, 33.90, -118.25, -117.95), 40, "street"),
    Zone("san-aurelio-sheriff", "san-aurelio", "road", (33.95, 34.20, -117.70, -117.15), 60, "street"),
    Zone("san-aurelio-sheriff", "i15-ca", "corridor", (34.28, 34.60, -117.50, -117.20), 6, "I-15 corridor"),
    Zone("silver-state-patrol", "las-vegas", "road", (35.95, 36.32, -115.40, -114.80), 60, "street"),
    Zone("silver-state-patrol", "i15-nv", "corridor", (35.55, 35.85, -115.45, -115.25), 3, "I-15 corridor"),
    Zone("federal-transit-office", "border", "road", (32.52, 32.62, -117.12, -116.92), 20, "port approach"),
    Zone("coastline-parking", "palmcrest", "lot", (33.60, 33.76, -117.87, -117.70), 5, "parking lot"),
    Zone("coastline-parking", "harbor-grove", "lot", (33.74, 33.90, -118.25, -117.95), 3, "parking lot"),
)
#: Where vehicles live (share), which state's plates they carry, and where they work (weights).
RESIDENTS = {
    "palmcrest": ("CA", 0.30, (("palmcrest", 0.65), ("harbor-grove", 0.20), ("san-aurelio", 0.15))),
    "harbor-grove": ("CA", 0.25, (("harbor-grove", 0.60), ("palmcrest", 0.40))),
    "san-aurelio": ("CA", 0.30, (("san-aurelio", 0.60), ("palmcrest", 0.40))),
    "las-vegas": ("NV", 0.15, ()),
    "border": ("CA", 0.0, ()),
}
PATROL_UNITS = ("silver-state-patrol", 2)


@dataclass(frozen=True)
class PlacedCamera:
    """A demo camera: who owns it, its id, and (for fixed ones) a real OSM position."""

    owner: int
    external_id: str
    name: str
    area: str
    role: str
    lat: float | None
    lon: float | None
    reports_vehicle: bool = False
    heading: float | None = None  # travel direction of vehicles facing the camera

    def info(self) -> CameraInfo:
        return CameraInfo(self.external_id, self.name, self.lat is None, self.lat, self.lon)


# -- camera positions ---------------------------------------------------------------------------------------
def camera_file_candidates() -> list[Path]:
    """Where the OSM extract is looked for: beside the source checkout, then beside the working directory."""
    parents = Path(__file__).resolve().parents
    found = [parents[3].parent / CAMERA_FILE] if len(parents) > 4 else []
    return [*found, Path.cwd().parent / CAMERA_FILE]


def default_camera_file() -> Path:
    """The first existing candidate of :func:`camera_file_candidates`, or NotFound naming where it looked."""
    candidates = camera_file_candidates()
    for path in candidates:
        if path.is_file():
            return path
    raise NotFound(
        f"the demo needs the real ALPR camera positions ({CAMERA_FILE.name}); not found in "
        + ", ".join(str(p) for p in candidates)
    )


class OsmCamera(NamedTuple):
    """One row of the extract: position, manufacturer and the compass bearing the camera faces."""

    lat: float
    lon: float
    manufacturer: str
    bearing: float | None


def load_positions(path: Path) -> list[OsmCamera]:
    """Every camera of the extract (gzip CSV with ``lon,lat,...,direction,...,manufacturer`` columns)."""
    if not path.is_file():
        raise NotFound(f"{path}: no such camera positions file")
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            return [_position(row) for row in csv.DictReader(handle)]
    except (OSError, KeyError, ValueError) as exc:
        raise FieldInvalid("cameras_file", f"{path}: not the OSM ALPR camera extract ({exc})") from None


def _position(row: dict[str, str]) -> OsmCamera:
    try:
        bearing: float | None = float(row.get("direction") or "")
    except ValueError:
        bearing = None
    if bearing is not None and not 0 <= bearing <= 360:
        bearing = None
    return OsmCamera(float(row["lat"]), float(row["lon"]), row.get("manufacturer") or "", bearing)


def place_cameras(positions: Sequence[OsmCamera], rng: Random) -> list[PlacedCamera]:
    """Choose each zone's cameras (spread out, never one position twice), then the patrol cars."""
    owners = {spec.slug: i for i, spec in enumerate(AGENCIES)}
    used: set[tuple[float, float]] = set()
    serial: Counter[str] = Counter()
    placed: list[PlacedCamera] = []
    for zone in ZONES:
        spec = AGENCIES[owners[zone.owner]]
        for lat, lon, maker, bearing in _pick(positions, zone, used, rng):
            serial[spec.code] += 1
            placed.append(
                PlacedCamera(
                    owner=owners[zone.owner],
                    external_id=f"{spec.code}-{serial[spec.code]:03d}",
                    name=f"{spec.code} {zone.label} {serial[spec.code]:03d}",
                    area=zone.area,
                    role=zone.role,
                    lat=lat,
                    lon=lon,
                    reports_vehicle=maker.startswith("Flock"),
                    heading=None if bearing is None else (bearing + 180) % 360,
                )
            )
    slug, units = PATROL_UNITS
    code = AGENCIES[owners[slug]].code
    for unit in range(1, units + 1):
        name = f"{code} patrol car {unit}"
        placed.append(PlacedCamera(owners[slug], f"{code}-CAR-{unit}", name, "", "patrol", None, None))
    return placed


def _pick(
    positions: Sequence[OsmCamera],
    zone: Zone,
    used: set[tuple[float, float]],
    rng: Random,
) -> list[OsmCamera]:
    south, north, west, east = zone.box
    cells: dict[tuple[int, int], OsmCamera] = {}
    for pos in positions:
        if south <= pos.lat <= north and west <= pos.lon <= east and (pos.lat, pos.lon) not in used:
            cells.setdefault((int(pos.lat / _CELL_DEG), int(pos.lon / _CELL_DEG)), pos)
    spread = sorted(cells.values(), key=lambda c: (c.lat, c.lon))
    chosen = sorted(rng.sample(spread, min(zone.count, len(spread))), key=lambda c: (c.lat, c.lon))
    used.update((c.lat, c.lon) for c in chosen)
    return chosen


def build_world(cameras: Sequence[PlacedCamera]) -> World:
    """The simulation's view of the network: areas of street and lot cameras, the I-15 trips, patrol cars."""
    sims = tuple(SimCamera(c.owner, c.lat or 0.0, c.lon or 0.0, c.lat is None) for c in cameras)

    def where(area: str, role: str) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(cameras) if c.area == area and c.role == role)

    def northbound(area: str) -> tuple[int, ...]:
        return tuple(sorted(where(area, "corridor"), key=lambda i: sims[i].lat))

    areas = tuple(
        Area(name, state, where(name, "road"), where(name, "lot"), share, work)
        for name, (state, share, work) in RESIDENTS.items()
    )
    to_vegas = northbound("i15-ca") + northbound("i15-nv")
    getaways = (
        Getaway(("palmcrest", "harbor-grove", "san-aurelio"), "las-vegas", to_vegas, 0.08, 2),
        Getaway(("las-vegas",), "palmcrest", to_vegas[::-1], 0.12, 2),
        Getaway(("palmcrest", "harbor-grove"), "border", (), 0.05, 0),
    )
    patrols: dict[int, list[int]] = {}
    for i, cam in enumerate(cameras):
        if cam.role == "patrol":
            patrols.setdefault(cam.owner, []).append(i)
    return World(sims, areas, getaways, {k: tuple(v) for k, v in patrols.items()})

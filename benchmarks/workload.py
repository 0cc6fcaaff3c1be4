"""The national-scale workload of ``run.py``: owners from the real sharing graph, cameras at real positions, and
vehicles with routines.

* Governance: every agency and grant of ``../shared/data/sharing_network`` (4,620 agencies, 37,099 grants,
  written by ``policy.build``), so each search is decided over the real graph. The *home* agency is the owner
  that the most other owners share with; the *partners* are up to ``owners - 1`` of those owners. The home agency
  gets an investigator and a device user.
* Cameras: the ``count`` OpenStreetMap ALPR cameras (© OpenStreetMap contributors) nearest to the centre of the
  densest 0.5° cell of ``../shared/data/osm_alpr_cameras``, split between the owners by bearing from the centre
  (neighbouring towns, each a sector).
* Vehicles: a pool of plates with Zipf-Mandelbrot popularity (``core.popularity``: how often a vehicle passes a
  camera). Each vehicle has a home and a work camera, a departure and a return time. 70% commute on weekdays:
  a commuting read is one of six steps of the morning or evening trip (three cameras nearest home, three nearest
  work, four minutes apart, a few minutes of jitter); the other reads are errands at one of the 20 cameras nearest
  home (60%) or anywhere (40%), between 08:00 and 22:00 local time. Times span the 30 days before now.

Reads are rendered as canonical JSONL (``core.ReadSource.render``) in chunks of ``core.GEN_CHUNK``, one file per
owner (plain, or gzip level 1 with ``compress``): memory stays bounded whatever the size.
"""

from __future__ import annotations

import gzip
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
from numpy.typing import NDArray

from core import BENCH_ACTOR, DAY_MS, GEN_CHUNK, SUPERVISOR, WINDOW_MS, ReadSource, Tokens, distinct_per_camera
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from plateledger.store.cameras import CameraInfo
from policy import GRAPH, build, load_graph

INVESTIGATOR = "bench-investigator"
DEVICE = "bench-device"
COMMUTER_SHARE = 0.7
COMMUTE_READ_SHARE = 0.75
ROUTE_STEPS = 6
STEP_S = 240
NEAR_CAMERAS = 20
HOUR_S = 3_600
WEEK_MS = 7 * DAY_MS


@dataclass(frozen=True)
class Network:
    """Who owns what: agency ids and slugs of the owners (home first), the cameras and each camera's owner."""

    home_id: int
    owner_ids: list[int]
    owner_slugs: list[str]
    owner_names: list[str]
    cameras: list[CameraInfo]
    camera_owner: NDArray[np.int64]
    tokens: Tokens
    agencies: int
    grants: int

    def owned(self, index: int) -> NDArray[np.int64]:
        """Indexes of the cameras of owner ``index`` (0 is the home agency)."""
        found: NDArray[np.int64] = np.nonzero(self.camera_owner == index)[0].astype(np.int64)
        return found


def pick_owners(grants: list[tuple[str, str]], owners: int) -> list[str]:
    """Graph ids: the owner most other owners share with, then up to ``owners - 1`` of those owners."""
    owning = {owner for _, owner in grants}
    sharing_with = Counter(requester for requester, owner in grants if requester in owning and owner != requester)
    home = sharing_with.most_common(1)[0][0]
    partners = sorted({owner for requester, owner in grants if requester == home and owner != home}, key=int)
    return [home, *partners[: owners - 1]]


def nearest_cameras(path: Path, count: int) -> NDArray[np.float64]:
    """(count, 2) lat/lon of the ``count`` cameras nearest to the centre of the densest 0.5° cell."""
    with gzip.open(path, "rt") if path.suffix == ".gz" else path.open() as handle:
        header = handle.readline().strip().split(",")
        lon_col, lat_col = header.index("lon"), header.index("lat")
        points = []
        for line in handle:
            cells = line.split(",")
            try:
                points.append((float(cells[lat_col]), float(cells[lon_col])))
            except (ValueError, IndexError):
                continue
    pos = np.asarray(points)
    density = Counter(map(tuple, np.floor(pos * 2).astype(int).tolist()))
    (cell_lat, cell_lon), _ = density.most_common(1)[0]
    centre = np.array([(cell_lat + 0.5) / 2, (cell_lon + 0.5) / 2])
    order = np.argsort(_distance2(pos, centre))
    if len(order) < count:
        raise SystemExit(f"{path}: only {len(order)} cameras with a position, {count} needed")
    result: NDArray[np.float64] = pos[order[:count]]
    return result


def _distance2(points: NDArray[np.float64], centre: NDArray[np.float64]) -> NDArray[np.float64]:
    """Squared equirectangular distance in degrees of latitude (enough to rank neighbours in one metro area)."""
    scale = np.cos(np.radians(centre[0]))
    result: NDArray[np.float64] = (points[..., 0] - centre[0]) ** 2 + ((points[..., 1] - centre[1]) * scale) ** 2
    return result


def setup_network(data: Path, camera_path: Path, camera_count: int, owners: int) -> Network:
    """Graph, owners' cameras, the home agency's users and tokens (through the library; the platform is closed)."""
    agencies, grants = load_graph(GRAPH)
    chosen = pick_owners(grants, owners)
    positions = nearest_cameras(camera_path, camera_count)
    centre = positions.mean(axis=0)
    bearing = np.arctan2(positions[:, 0] - centre[0], positions[:, 1] - centre[1])
    # Each owner a sector around the centre; the home agency gets the first and a double share.
    rank = np.argsort(np.argsort(bearing))
    camera_owner = np.minimum(rank * (len(chosen) + 1) // camera_count, len(chosen)) - 1
    camera_owner = np.maximum(camera_owner, 0).astype(np.int64)
    cameras = [
        CameraInfo(f"cam-{i + 1:05d}", f"camera {i + 1}", False, float(lat), float(lon))
        for i, (lat, lon) in enumerate(positions)
    ]
    platform = Platform.open(load_settings(data=data))
    try:
        ids = build(platform, agencies, grants)
        owner_ids = [ids[graph_id] for graph_id in chosen]
        rows = [platform.registry.agency_by_id(i) for i in owner_ids]
        slugs, names = [r.slug for r in rows], [r.name for r in rows]
        for index, slug in enumerate(slugs):
            platform.registry.add_cameras_bulk(
                BENCH_ACTOR, slug, [c for c, o in zip(cameras, camera_owner, strict=True) if o == index]
            )
        registry = platform.registry
        registry.create_user(BENCH_ACTOR, agency_slug=slugs[0], username=INVESTIGATOR, role="investigator")
        registry.create_user(BENCH_ACTOR, agency_slug=slugs[0], username=DEVICE, role="device")
        # The home agency may hold area searches for a supervisor's approval (the California preset does).
        registry.create_user(BENCH_ACTOR, agency_slug=slugs[0], username=SUPERVISOR, role="supervisor")
        tokens = Tokens(
            investigator=platform.tokens.issue(BENCH_ACTOR, INVESTIGATOR, label="benchmark").secret,
            device=platform.tokens.issue(BENCH_ACTOR, DEVICE, label="benchmark").secret,
            supervisor=platform.tokens.issue(BENCH_ACTOR, SUPERVISOR, label="benchmark").secret,
        )
    finally:
        platform.close()
    return Network(owner_ids[0], owner_ids, slugs, names, cameras, camera_owner, tokens, len(agencies), len(grants))


@dataclass(frozen=True)
class Routines:
    """Per vehicle (plate pool index): home and work camera, commuter or not, departure and return (s of day)."""

    home: NDArray[np.int64]
    work: NDArray[np.int64]
    commuter: NDArray[np.bool_]
    depart_s: NDArray[np.float64]
    return_s: NDArray[np.float64]
    near: NDArray[np.int64]
    utc_offset_s: float

    @classmethod
    def build(cls, rng: np.random.Generator, vehicles: int, cameras: Sequence[CameraInfo]) -> Routines:
        pos = np.array([[c.lat or 0.0, c.lon or 0.0] for c in cameras])
        near = np.argsort(np.stack([_distance2(pos, centre) for centre in pos]), axis=1)
        depart = np.clip(rng.normal(7.5 * HOUR_S, 0.75 * HOUR_S, vehicles), 5 * HOUR_S, 10 * HOUR_S)
        return cls(
            home=rng.integers(0, len(cameras), vehicles),
            work=rng.integers(0, len(cameras), vehicles),
            commuter=rng.random(vehicles) < COMMUTER_SHARE,
            depart_s=depart,
            return_s=depart + rng.normal(9 * HOUR_S, 0.5 * HOUR_S, vehicles),
            near=near[:, : min(NEAR_CAMERAS, len(cameras))].astype(np.int64),
            # Local solar time of the metro area: 08:00 there is 08:00 - lon/15 h in UTC.
            utc_offset_s=float(pos[:, 1].mean()) / 15 * HOUR_S,
        )

    def reads(
        self, rng: np.random.Generator, vehicles: NDArray[np.int64], now_ms: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(camera index, epoch ms) of one read of each of ``vehicles``."""
        n = len(vehicles)
        days_back = rng.integers(0, WINDOW_MS // DAY_MS, n)
        today = now_ms // DAY_MS
        commute = self.commuter[vehicles] & (rng.random(n) < COMMUTE_READ_SHARE)
        weekday = (today - days_back + 3) % 7  # 1970-01-01 was a Thursday: Monday is 0
        days_back = np.where(commute & (weekday >= 5), days_back + weekday - 4, days_back)
        step = rng.integers(0, ROUTE_STEPS, n)
        evening = rng.random(n) < 0.5
        half = ROUTE_STEPS // 2
        towards_work = np.where(evening, ROUTE_STEPS - 1 - step, step)
        route_camera = np.where(
            towards_work < half,
            self.near[self.home[vehicles], np.minimum(towards_work, half - 1)],
            self.near[self.work[vehicles], np.clip(ROUTE_STEPS - 1 - towards_work, 0, half - 1)],
        )
        jitter_s = rng.normal(0, 300, n)
        route_s = np.where(evening, self.return_s[vehicles], self.depart_s[vehicles]) + step * STEP_S + jitter_s
        anchor = np.where(rng.random(n) < 0.6, self.home[vehicles], rng.integers(0, len(self.near), n))
        errand_camera = self.near[anchor, rng.integers(0, self.near.shape[1], n)]
        errand_s = 8 * HOUR_S + rng.random(n) * 14 * HOUR_S
        camera = np.where(commute, route_camera, errand_camera)
        local_s = np.where(commute, route_s, errand_s)
        ts = (today - days_back) * DAY_MS + ((local_s - self.utc_offset_s) * 1000).astype(np.int64)
        # Into the window by whole weeks, so that a commute stays on its weekday: local times run from about 12 h
        # before to 36 h after the UTC day's start, so one week either way is always enough, on any weekday and
        # at any hour. (Shifting by a day left late reads in the future and clamping gave duplicates.)
        ts = np.where(ts > now_ms - 1_000, ts - WEEK_MS, ts)
        ts = np.where(ts <= now_ms - WINDOW_MS + 1_000, ts + WEEK_MS, ts)
        return camera.astype(np.int64), ts.astype(np.int64)


def _writer(path: Path, compress: bool) -> BinaryIO:
    """``path`` opened for writing, gzip level 1 with ``compress`` (the caller closes it)."""
    if compress:
        return cast(BinaryIO, gzip.open(path, "wb", compresslevel=1))
    return path.open("wb")


def write_owner_files(
    directory: Path,
    network: Network,
    source: ReadSource,
    routines: Routines,
    rng: np.random.Generator,
    count: int,
    now_ms: int,
    *,
    compress: bool = False,
) -> list[tuple[Path, int]]:
    """``count`` reads, one JSONL file per owner (in ``network.owner_ids`` order); returns (path, reads) each."""
    suffix = ".jsonl.gz" if compress else ".jsonl"
    paths = [directory / f"reads-{slug}{suffix}" for slug in network.owner_slugs]
    written = [0] * len(paths)
    with ExitStack() as stack:
        handles = [stack.enter_context(_writer(path, compress)) for path in paths]
        chunks = -(-count // GEN_CHUNK)
        for chunk, start in enumerate(range(0, count, GEN_CHUNK)):
            rows = min(GEN_CHUNK, count - start)
            vehicles = source.sample_plates(rng, rows)
            camera, ts = routines.reads(rng, vehicles, now_ms)
            ts = distinct_per_camera(camera, ts, chunk, chunks)
            owner = network.camera_owner[camera]
            for index, handle in enumerate(handles):
                mask = owner == index
                if mask.any():
                    idx = vehicles[mask]
                    handle.write(source.render(rng, source.plates[idx], idx, ts[mask], camera[mask]))
                    written[index] += int(mask.sum())
    return list(zip(paths, written, strict=True))


def generate(
    directory: Path,
    network: Network,
    rng: np.random.Generator,
    reads: int,
    plates: int,
    *,
    compress: bool,
    now_ms: int | None = None,
) -> tuple[ReadSource, list[tuple[Path, int]], dict[str, float]]:
    """Plate pool, routines and the owners' files (reads over the 30 days before ``now_ms``, the clock's time if
    None); returns the source, the files and generation figures."""
    started = time.perf_counter()
    source = ReadSource.build(rng, plates, network.cameras)
    routines = Routines.build(rng, plates, network.cameras)
    if now_ms is None:
        now_ms = time.time_ns() // 1_000_000
    files = write_owner_files(directory, network, source, routines, rng, reads, now_ms, compress=compress)
    elapsed = time.perf_counter() - started
    size = sum(path.stat().st_size for path, _ in files)
    return (
        source,
        files,
        {
            "generate_s": round(elapsed, 2),
            "reads_per_s": round(reads / elapsed),
            "file_bytes": size,
            "bytes_per_read": round(size / reads, 1),
        },
    )

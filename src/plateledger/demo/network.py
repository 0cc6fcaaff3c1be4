"""The demo network: seed fictional agencies, their users and tokens, cameras and a month of reads.

``seed_demo`` builds the network of :mod:`plateledger.demo.layout` into an empty data directory through the
library's own services (registry, tokens, ingest), so everything it does is in the audit log like any other use:

* the six agencies, and one user of every role in each, with a password and an API token (secrets are
  returned once, in the summary, and cannot be shown again);
* their cameras, at real OpenStreetMap ALPR positions (© OpenStreetMap contributors, ODbL 1.0);
* reads from :mod:`plateledger.demo.simulate`, ingested per owner in chunks of at most ``CHUNK_READS`` as the
  owner's device user, exactly as a camera integration would push them.

A data directory is seeded once. The ``meta`` row ``demo`` is set to ``started`` before anything is created
and to ``complete`` at the end; a second run is refused either way (Conflict), and so is a data directory
that already holds agencies.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from plateledger.audit.log import Actor
from plateledger.core.errors import Conflict, FieldInvalid
from plateledger.demo.layout import (
    AGENCIES,
    ATTRIBUTION,
    PlacedCamera,
    build_world,
    default_camera_file,
    load_positions,
    place_cameras,
)
from plateledger.demo.simulate import Traffic, simulate
from plateledger.hotlists.service import EntryIn
from plateledger.ingest.service import Progress
from plateledger.platform import Platform
from plateledger.policy.rules import PRESETS, AreaLimits, Policy, Preset, Terms
from plateledger.store.models import Agency, Meta
from plateledger.store.reads import BatchResult
from plateledger.vocab import AgencyKind, Purpose, QueryKind, Role

DEMO_ACTOR = Actor(username="demo", agency_id=None)
META_KEY = "demo"
CHUNK_READS = 500_000
MAX_READS = 10_000_000
CAMERAS_LISTED = 20
EXAMPLE_PLATES = 5


@dataclass
class DemoSummary:
    """What ``plateledger demo --json`` prints: agencies, users with their secrets, cameras, example plates."""

    agencies: list[dict[str, Any]]
    users: list[dict[str, Any]]
    cameras: list[dict[str, Any]]
    example_plates: list[dict[str, Any]]
    reads: dict[str, int]
    agreements: list[dict[str, Any]] = field(default_factory=list)
    hot_lists: list[dict[str, Any]] = field(default_factory=list)
    cross_state_search: dict[str, Any] | None = None
    attribution: str = ATTRIBUTION
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "agencies": self.agencies,
            "users": self.users,
            "cameras": self.cameras,
            "example_plates": self.example_plates,
            "reads": self.reads,
            "agreements": self.agreements,
            "hot_lists": self.hot_lists,
            "cross_state_search": self.cross_state_search,
            "attribution": self.attribution,
            "notes": self.notes,
        }


# -- the data directory's demo marker ------------------------------------------------------------------------
def _refuse_if_used(platform: Platform) -> None:
    with platform.governance.session() as session:
        marker = session.get(Meta, META_KEY)
        agencies = session.scalar(select(func.count()).select_from(Agency)) or 0
    if marker is not None and marker.value == "complete":
        raise Conflict(
            "data directory already holds the demo network; use a new --data directory "
            "(API token secrets are shown only once, so the demo cannot print them again)"
        )
    if marker is not None:
        raise Conflict(
            "an earlier demo run in this data directory did not finish; delete the directory and run "
            "the demo again (its tokens' secrets cannot be recovered)"
        )
    if agencies:
        raise Conflict("data directory already holds agencies; the demo needs a new, empty --data directory")


def _claim(platform: Platform) -> None:
    _refuse_if_used(platform)
    try:
        with platform.governance.session() as session:
            session.add(Meta(key=META_KEY, value="started"))
    except IntegrityError:
        raise Conflict("another demo run claimed this data directory first") from None


def _complete(platform: Platform) -> None:
    with platform.governance.session() as session:
        marker = session.get(Meta, META_KEY)
        if marker is None:  # pragma: no cover - _claim wrote it; nothing deletes it
            raise Conflict("the demo marker vanished during the run")
        marker.value = "complete"


# -- agencies, users, cameras --------------------------------------------------------------------------------
def _create_agencies(platform: Platform, cameras: Sequence[PlacedCamera]) -> list[dict[str, Any]]:
    out = []
    for owner, spec in enumerate(AGENCIES):
        platform.registry.create_agency(
            DEMO_ACTOR, slug=spec.slug, name=spec.name, kind=spec.kind.value, country="US", state=spec.state
        )
        own = [c for c in cameras if c.owner == owner]
        out.append(
            {
                "slug": spec.slug,
                "name": spec.name,
                "kind": spec.kind.value,
                "country": "US",
                "state": spec.state,
                "cameras": len(own),
                "mobile_cameras": sum(c.lat is None for c in own),
            }
        )
    return out


def _create_users(platform: Platform) -> tuple[list[dict[str, Any]], dict[str, Actor]]:
    """One user of every role per agency, each with a password and a token. Returns them and device actors."""
    users: list[dict[str, Any]] = []
    devices: dict[str, Actor] = {}
    for spec in AGENCIES:
        for role in Role:
            username = f"{role.value}@{spec.slug}"
            password = secrets.token_urlsafe(12)
            user = platform.registry.create_user(
                DEMO_ACTOR, agency_slug=spec.slug, username=username, role=role.value, password=password
            )
            token = platform.tokens.issue(DEMO_ACTOR, username, label="demo")
            users.append(
                {
                    "username": username,
                    "agency": spec.slug,
                    "role": role.value,
                    "password": password,
                    "token": token.secret,
                }
            )
            if role is Role.DEVICE:
                devices[spec.slug] = Actor(username, user.agency_id, user.id, role.value)
    return users, devices


def _register_cameras(platform: Platform, cameras: Sequence[PlacedCamera]) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = []
    for owner, spec in enumerate(AGENCIES):
        own = [c for c in cameras if c.owner == owner]
        platform.registry.add_cameras_bulk(DEMO_ACTOR, spec.slug, [c.info() for c in own])
        listed.extend(
            {
                "agency": spec.slug,
                "external_id": c.external_id,
                "name": c.name,
                "mobile": c.lat is None,
                "lat": c.lat,
                "lon": c.lon,
            }
            for c in own[:CAMERAS_LISTED]
        )
    return listed


# -- policies and sharing ------------------------------------------------------------------------------------
#: (agency, preset or None, policy) each agency's admin sets; agencies not listed keep the default (version 0).
POLICIES: tuple[tuple[str, Preset | None, Policy], ...] = (
    ("palmcrest-pd", Preset.CALIFORNIA, PRESETS[Preset.CALIFORNIA][0]),
    ("harbor-grove-pd", Preset.CALIFORNIA, PRESETS[Preset.CALIFORNIA][0]),
    ("san-aurelio-sheriff", Preset.CALIFORNIA, PRESETS[Preset.CALIFORNIA][0]),
    ("silver-state-patrol", None, Policy(warrant_after_days=180, area=AreaLimits(max_radius_m=2000))),
    ("coastline-parking", Preset.OPEN, PRESETS[Preset.OPEN][0]),
)
_CA_PURPOSES = [p.value for p in Purpose if p not in (Purpose.IMMIGRATION_ENFORCEMENT, Purpose.CIVIL_ENFORCEMENT)]


@dataclass(frozen=True)
class Share:
    """One agreement of the demo: requester, owner, requested terms, and what the owner did with it."""

    requester: str
    owner: str
    kinds: tuple[str, ...]
    purposes: tuple[str, ...]
    lookback_days: int
    outcome: str  # "accepted", "narrowed" (accepted on narrower terms), "declined" or "pending"
    narrowed_purposes: tuple[str, ...] = ()


SHARES = (
    # The three California agencies share with each other (immigration enforcement is prohibited anyway).
    *(
        Share(a, b, ("plate", "area", "alert"), tuple(_CA_PURPOSES), 365, "accepted")
        for a in ("palmcrest-pd", "harbor-grove-pd", "san-aurelio-sheriff")
        for b in ("palmcrest-pd", "harbor-grove-pd", "san-aurelio-sheriff")
        if a != b
    ),
    # The federal office has an agreement with the Nevada highway patrol, covering immigration enforcement ...
    Share(
        "federal-transit-office",
        "silver-state-patrol",
        ("plate", "alert"),
        ("immigration_enforcement", "terrorism", "human_trafficking", "drug_crime"),
        90,
        "accepted",
    ),
    # ... and asked Palmcrest, which declined (its policy would refuse a federal requester in any case).
    Share("federal-transit-office", "palmcrest-pd", ("plate",), ("immigration_enforcement",), 90, "declined"),
    # Nevada asked San Aurelio (I-15 runs through both); the request is still pending.
    Share("silver-state-patrol", "san-aurelio-sheriff", ("plate",), ("stolen_vehicle",), 30, "pending"),
    # Palmcrest asked the parking company for everything; it accepted theft and missing persons only.
    Share(
        "palmcrest-pd",
        "coastline-parking",
        ("plate", "area"),
        tuple(_CA_PURPOSES),
        90,
        "narrowed",
        narrowed_purposes=("stolen_vehicle", "stolen_plate", "missing_person"),
    ),
)
SHARE_DAYS = 365


def _share(platform: Platform, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set the demo's policies and agreements through the same services (and audit) an agency's admin uses."""
    admins = {
        u["agency"]: platform.tokens.authenticate(u["token"], where="demo")
        for u in users
        if u["role"] == Role.ADMIN.value
    }
    for slug, preset, policy in POLICIES:
        platform.policies.set_as(admins[slug], slug, policy, preset=preset.value if preset else None)
    expires = platform.clock.now_ms() + SHARE_DAYS * 86_400_000
    agreements = []
    for share in SHARES:
        terms = Terms(
            query_kinds=frozenset(QueryKind(k) for k in share.kinds),
            purposes=frozenset(Purpose(p) for p in share.purposes),
            max_lookback_days=share.lookback_days,
            expires_ms=expires,
        )
        view = platform.agreements.request(admins[share.requester], owner=share.owner, terms=terms)
        owner_admin = admins[share.owner]
        if share.outcome == "accepted":
            view = platform.agreements.accept(owner_admin, view.id)
        elif share.outcome == "narrowed":
            narrower = terms.model_copy(update={"purposes": frozenset(Purpose(p) for p in share.narrowed_purposes)})
            view = platform.agreements.accept(owner_admin, view.id, terms=narrower, note="theft and missing only")
        elif share.outcome == "declined":
            view = platform.agreements.decline(owner_admin, view.id, note="outside our policy")
        agreements.append({"id": view.id, "requester": view.requester, "owner": view.owner, "state": view.state})
    return agreements


# -- hot lists -----------------------------------------------------------------------------------------------
#: (agency, list name, purpose, visibility, covert, how many of the most-read plates it holds, plate offset)
HOT_LISTS = (
    ("palmcrest-pd", "Stolen vehicles (Palmcrest)", "stolen_vehicle", "shared", False, 6, 0),
    ("harbor-grove-pd", "Burglary series HG-2026-88", "property_crime", "private", True, 3, 10),
    ("silver-state-patrol", "NCIC stolen plates (NV)", "stolen_plate", "shared", False, 4, 20),
    # A federal list whose purpose the California preset forbids: matches on California reads are withheld
    # (no alert, nothing reaches the federal office) and counted in the California agencies' access logs.
    ("federal-transit-office", "Removal targets", "immigration_enforcement", "shared", False, 5, 30),
)
HOT_LIST_DAYS = 30


def _hot_lists(
    platform: Platform, users: list[dict[str, Any]], traffic: Traffic, cameras: Sequence[PlacedCamera]
) -> list[dict[str, Any]]:
    """The demo's hot lists, through the same services an investigator uses. Entries are plates the simulated
    traffic reads often (so a served demo's live reads match them), chosen per list from the agencies that list
    them: Palmcrest's and Harbor Grove's from their own cameras, Nevada's and the federal list from plates read
    in both states."""
    investigators = {
        u["agency"]: platform.tokens.authenticate(u["token"], where="demo")
        for u in users
        if u["role"] == Role.INVESTIGATOR.value
    }
    counts = Counter(traffic.vehicle[i] for i in traffic.kept)
    owners: dict[int, set[int]] = {}
    for i in traffic.kept:
        owners.setdefault(traffic.vehicle[i], set()).add(cameras[traffic.camera[i]].owner)
    slugs = [spec.slug for spec in AGENCIES]
    expires = platform.clock.now_ms() + HOT_LIST_DAYS * 86_400_000
    made = []
    for slug, name, purpose, visibility, covert, size, offset in HOT_LISTS:
        me = slugs.index(slug)
        if slug in ("silver-state-patrol", "federal-transit-office"):
            california = {i for i, spec in enumerate(AGENCIES) if spec.state == "CA"}
            pool = [v for v, seen in owners.items() if seen & california and slugs.index("silver-state-patrol") in seen]
        else:
            pool = [v for v, seen in owners.items() if me in seen]
        pool.sort(key=lambda v: (-counts[v], traffic.vehicles[v].plate))
        chosen = pool[offset : offset + size] or pool[:size]
        view = platform.hotlists.create(
            investigators[slug],
            name=name,
            default_purpose=purpose,
            alert_level="high" if purpose in ("stolen_vehicle", "stolen_plate") else "medium",
            visibility=visibility,
            covert=covert,
        )
        entries = [
            EntryIn(
                plate=traffic.vehicles[v].plate,
                region=traffic.vehicles[v].region,
                purpose=purpose,
                reference=f"DEMO-{slug[:4].upper()}-{n + 1:03d}",
                reason=f"demo entry: {name}",
                expires_ms=expires,
            )
            for n, v in enumerate(chosen)
        ]
        valid, errors = platform.hotlists.validate(view, entries)
        if errors:  # pragma: no cover - the demo's own entries are valid
            raise FieldInvalid("hot list", f"demo entries rejected: {errors}")
        platform.hotlists.apply(investigators[slug], view.id, add=valid, source="demo")
        made.append(
            {
                "agency": slug,
                "id": view.id,
                "name": name,
                "purpose": purpose,
                "visibility": visibility,
                "covert": covert,
                "plates": [e.plate for e in valid],
            }
        )
    return made


# -- reads ---------------------------------------------------------------------------------------------------
class ReadEncoder:
    """Turns kept sightings into canonical reads (ingest contract v1), one JSON object per line.

    Reads are assembled from fragments that ``orjson`` encoded once per vehicle and per camera, which is
    three times faster than encoding a dict per read. Confidence (0.80-0.99) is drawn from ``rng``.
    """

    def __init__(self, traffic: Traffic, cameras: Sequence[PlacedCamera], rng: Random) -> None:
        self._traffic = traffic
        self._rng = rng
        self._cameras = [_camera_fragments(c) for c in cameras]
        self._vehicles: dict[int, tuple[bytes, bytes]] = {}

    def _vehicle(self, index: int) -> tuple[bytes, bytes]:
        """(``{"plate":..,"region":..``, ``,"vehicle":{..`` without its closing brace) of one vehicle."""
        cached = self._vehicles.get(index)
        if cached is None:
            vehicle = self._traffic.vehicles[index]
            head = orjson.dumps({"plate": vehicle.plate, "region": vehicle.region})[:-1]
            attrs = b',"vehicle":' + orjson.dumps(vehicle.attributes)[:-1]
            cached = self._vehicles[index] = (head, attrs)
        return cached

    def lines(self, indexes: Sequence[int]) -> list[bytes]:
        traffic, random = self._traffic, self._rng.random
        vehicle_of, camera_of, ts_of, fixes = traffic.vehicle, traffic.camera, traffic.ts, traffic.fixes
        out = []
        for i in indexes:
            head, attrs = self._vehicle(vehicle_of[i])
            camera, heading = self._cameras[camera_of[i]]
            tail = attrs + heading if heading else b""
            fix = fixes.get(i)
            if fix is not None:
                tail += b',"lat":%s,"lon":%s' % (orjson.dumps(fix[0]), orjson.dumps(fix[1]))
            out.append(b'%s,"ts":%d,"confidence":%.3f%s%s}' % (head, ts_of[i], 0.80 + 0.19 * random(), camera, tail))
        return out


def _camera_fragments(camera: PlacedCamera) -> tuple[bytes, bytes]:
    """(``,"camera":"ID"``, the end of the vehicle object or b"" when the camera reports no attributes)."""
    ident = b',"camera":' + orjson.dumps(camera.external_id)
    if not camera.reports_vehicle:
        return ident, b""
    if camera.heading is None:
        return ident, b"}"
    return ident, b',"direction":' + orjson.dumps(camera.heading) + b"}"


def _chunks(indexes: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(indexes), CHUNK_READS):
        yield indexes[start : start + CHUNK_READS]


def _ingest(
    platform: Platform,
    traffic: Traffic,
    cameras: Sequence[PlacedCamera],
    devices: dict[str, Actor],
    *,
    seed: int,
    progress: Progress | None,
) -> BatchResult:
    total = BatchResult()
    groups = traffic.by_owner([c.owner for c in cameras])
    encoder = ReadEncoder(traffic, cameras, Random(seed))  # noqa: S311 - simulated confidences
    for owner, spec in enumerate(AGENCIES):
        agency = platform.registry.agency(spec.slug)
        for chunk in _chunks(groups.get(owner, [])):
            lines = encoder.lines(chunk)
            result = platform.ingest.store_lines(devices[spec.slug], agency, lines, channel="demo", source="demo")
            total.add(result)
            if progress is not None:
                progress(len(lines))
    return total


# -- example plates ------------------------------------------------------------------------------------------
def example_plates(
    traffic: Traffic, cameras: Sequence[PlacedCamera], count: int = EXAMPLE_PLATES
) -> list[dict[str, Any]]:
    """Plates read by more than one agency, most agencies first, with reads per agency.

    The first is read by the first agency (Palmcrest PD) and another agency of its state, when there is such
    a plate, so a walk-through can start with that agency's investigator; the others each show a different set
    of agencies, so the examples cover as many sharing situations as the traffic has.
    """
    pairs = Counter((traffic.vehicle[i], cameras[traffic.camera[i]].owner) for i in traffic.kept)
    seen: dict[int, dict[int, int]] = {}
    for (vehicle, owner), reads in pairs.items():
        seen.setdefault(vehicle, {})[owner] = reads
    shared = sorted(
        (v for v, owners in seen.items() if len(owners) > 1),
        key=lambda v: (-len(seen[v]), -sum(seen[v].values()), traffic.vehicles[v].plate),
    )
    first = [v for v in shared if 0 in seen[v] and _two_of_one_state(seen[v])]
    picked = (first or [v for v in shared if _two_of_one_state(seen[v])])[:1]
    shown = {frozenset(seen[v]) for v in picked}
    for v in shared:
        if len(picked) < count and frozenset(seen[v]) not in shown:
            picked.append(v)
            shown.add(frozenset(seen[v]))
    for v in shared:
        if len(picked) < count and v not in picked:
            picked.append(v)
    return [_example(traffic, v, seen[v]) for v in picked]


def cross_state_search(traffic: Traffic, cameras: Sequence[PlacedCamera]) -> dict[str, Any] | None:
    """The walk-through's federal search: a plate read in Nevada and by California agencies, searched by the
    federal investigator for immigration enforcement, returns the Nevada reads only (None if no plate was)."""
    nevada = next(i for i, spec in enumerate(AGENCIES) if spec.state == "NV")
    california = {i for i, spec in enumerate(AGENCIES) if spec.state == "CA" and spec.kind is not AgencyKind.PRIVATE}
    owners: dict[int, set[int]] = {}
    for i in traffic.kept:
        owners.setdefault(traffic.vehicle[i], set()).add(cameras[traffic.camera[i]].owner)
    both = sorted(
        (v for v, seen in owners.items() if nevada in seen and seen & california),
        key=lambda v: traffic.vehicles[v].plate,
    )
    if not both:
        return None
    federal = next(spec.slug for spec in AGENCIES if spec.kind is AgencyKind.FEDERAL)
    return {
        "plate": traffic.vehicles[both[0]].plate,
        "as": f"investigator@{federal}",
        "purpose": Purpose.IMMIGRATION_ENFORCEMENT.value,
        "agencies": sorted(AGENCIES[o].slug for o in owners[both[0]]),
    }


def _two_of_one_state(owners: dict[int, int]) -> bool:
    states = [AGENCIES[o].state for o in owners]
    return len(states) != len(set(states))


def _example(traffic: Traffic, vehicle: int, owners: dict[int, int]) -> dict[str, Any]:
    per_agency = {AGENCIES[o].slug: n for o, n in sorted(owners.items())}
    return {
        "plate": traffic.vehicles[vehicle].plate,
        "region": traffic.vehicles[vehicle].region,
        "agencies": list(per_agency),
        "reads": sum(owners.values()),
        "per_agency": per_agency,
    }


# -- entry point ---------------------------------------------------------------------------------------------
def seed_demo(
    platform: Platform,
    *,
    reads: int = 1_000_000,
    seed: int = 7,
    progress: Progress | None = None,
    cameras_file: Path | None = None,
) -> DemoSummary:
    """Seed the demo network into ``platform``'s (empty) data directory; see the module docstring.

    ``progress`` is called after each ingested chunk with the number of reads in it. Raises Conflict when the
    data directory was seeded before (or holds other agencies), NotFound when the camera file is missing.
    """
    if not 0 <= reads <= MAX_READS:
        raise FieldInvalid("reads", f"must be between 0 and {MAX_READS:,}")
    _refuse_if_used(platform)
    positions = load_positions(cameras_file or default_camera_file())
    cameras = place_cameras(positions, Random(seed))  # noqa: S311 - a seeded choice, not a secret
    world = build_world(cameras)
    _claim(platform)
    agencies = _create_agencies(platform, cameras)
    users, devices = _create_users(platform)
    listed = _register_cameras(platform, cameras)
    agreements = _share(platform, users)
    traffic = simulate(world, reads=reads, seed=seed, now_ms=platform.clock.now_ms())
    result = _ingest(platform, traffic, cameras, devices, seed=seed, progress=progress)
    hot_lists = _hot_lists(platform, users, traffic, cameras)
    _complete(platform)
    return DemoSummary(
        agencies=agencies,
        users=users,
        cameras=listed,
        example_plates=example_plates(traffic, cameras),
        agreements=agreements,
        hot_lists=hot_lists,
        cross_state_search=cross_state_search(traffic, cameras),
        reads={
            "stored": result.stored,
            "duplicates": result.duplicates,
            "rejected": len(result.rejected),
            "vehicles": len(traffic.vehicles),
            "since_ms": traffic.since_ms,
            "until_ms": traffic.until_ms,
        },
        notes=[
            f"cameras lists the first {CAMERAS_LISTED} of each agency; agencies gives the counts",
            "token secrets are shown only this once",
        ],
    )

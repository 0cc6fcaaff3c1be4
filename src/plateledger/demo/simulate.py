"""Simulated traffic for the demo network: vehicles with daily routines passing real camera positions.

Pure: it takes a :class:`World` (cameras, areas, trips) and returns :class:`Traffic`; it knows nothing of
stores or agencies. Everything is drawn from one ``random.Random(seed)``, so a seed and a ``now`` always give
the same traffic.

The model:

* Each vehicle lives in an area and works in one (usually the same, sometimes a neighbouring one). Its home
  route and work route are the few street cameras nearest a home point and a work point.
* Weekdays: with the vehicle's driving chance it commutes (out about 07:30, back about 17:15 local time, with
  jitter), passing its home route, then its work route, and back. Weekends: zero to three errands to a
  street or parking-lot camera of the home area.
* Some vehicles make one getaway in the window (Southern California to Las Vegas over I-15, Las Vegas to
  Orange County, a day trip to the border), so one plate can be read by agencies of two states.
* Popularity is skewed: occasional vehicles drive a few days, commuters most days, fleet vehicles (delivery,
  ride-hailing) many trips a day; each camera on a route reads a vehicle with that vehicle's exposure.
* Patrol cars (mobile cameras) read some of the vehicles their agency's fixed cameras see, with a GPS fix.
* More sightings than asked are simulated, and a random subset of exactly ``reads`` is kept (missed reads).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import IntEnum
from random import Random
from zoneinfo import ZoneInfo

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
#: Sightings simulated per read kept; the surplus is dropped at random (cameras miss vehicles).
OVERSAMPLE = 1.15
#: Chance that a patrol car also reads a vehicle one of its agency's fixed cameras saw.
PATROL_CHANCE = 0.04
#: Kinds of vehicle: (name, share, least and spread of the chance it drives on a given day).
_KINDS = (("occasional", 55, 0.03, 0.15), ("commuter", 42, 0.60, 0.35), ("fleet", 3, 0.60, 0.35))
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # plates skip I, O and Q (read as 1 and 0)
_COLOURS = (
    ("white", 25),
    ("black", 22),
    ("gray", 18),
    ("silver", 12),
    ("blue", 9),
    ("red", 9),
    ("green", 2),
    ("brown", 2),
    ("gold", 1),
)
_MODELS = (
    ("Toyota", "Camry", "sedan", 8),
    ("Toyota", "RAV4", "suv", 8),
    ("Toyota", "Tacoma", "pickup", 5),
    ("Toyota", "Corolla", "sedan", 6),
    ("Honda", "Civic", "sedan", 7),
    ("Honda", "CR-V", "suv", 6),
    ("Honda", "Accord", "sedan", 5),
    ("Ford", "F-150", "pickup", 7),
    ("Ford", "Explorer", "suv", 3),
    ("Chevrolet", "Silverado", "pickup", 5),
    ("Chevrolet", "Equinox", "suv", 3),
    ("Tesla", "Model 3", "sedan", 5),
    ("Tesla", "Model Y", "suv", 5),
    ("Nissan", "Altima", "sedan", 4),
    ("Nissan", "Rogue", "suv", 3),
    ("Hyundai", "Elantra", "sedan", 3),
    ("Kia", "Sorento", "suv", 2),
    ("Subaru", "Outback", "wagon", 2),
    ("BMW", "3 Series", "sedan", 2),
    ("Jeep", "Wrangler", "suv", 2),
    ("Ram", "1500", "pickup", 3),
    ("Ford", "Transit", "van", 2),
    ("Honda", "Odyssey", "minivan", 2),
)


@dataclass(frozen=True)
class SimCamera:
    """A camera as the simulation sees it: its owner (an index the caller chose) and its position."""

    owner: int
    lat: float
    lon: float
    mobile: bool = False


@dataclass(frozen=True)
class Area:
    """A place vehicles live, work or visit: street cameras (passed) and parking-lot cameras (destinations)."""

    name: str
    state: str  # whose plates its residents carry
    roads: tuple[int, ...]
    lots: tuple[int, ...] = ()
    #: Share of the vehicles that live here (0 for places only visited).
    residents: float = 0.0
    #: Where residents work, with weights; empty means the home area.
    work: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Getaway:
    """A trip some residents of ``origins`` make once in the window, through ``via`` cameras in outbound order."""

    origins: tuple[str, ...]
    destination: str
    via: tuple[int, ...]
    chance: float
    nights: int


@dataclass(frozen=True)
class World:
    """Everything the simulation needs: cameras (indexed by position in ``cameras``), areas and trips."""

    cameras: tuple[SimCamera, ...]
    areas: tuple[Area, ...]
    getaways: tuple[Getaway, ...] = ()
    #: Mobile camera indexes per owner: they read some vehicles that owner's fixed cameras see.
    patrols: dict[int, tuple[int, ...]] = field(default_factory=dict)
    timezone: str = "America/Los_Angeles"


@dataclass(frozen=True)
class Vehicle:
    """What cameras can tell about a vehicle: plate, its region (``US-CA``) and make/model/color/type."""

    plate: str
    region: str
    attributes: dict[str, str]


class _Phase(IntEnum):
    """Where a vehicle is on a day of a getaway."""

    OUT = 0
    THERE = 1
    BACK = 2
    DAY_TRIP = 3


#: One day away from home: the trip, the phase, and the cameras near where the vehicle stays.
_Away = tuple[Getaway, _Phase, tuple[int, ...]]


@dataclass(frozen=True)
class _Plan:
    """One vehicle's routine (the parts that stay fixed over the window)."""

    index: int
    kind: str
    home: Area
    work: Area
    home_route: tuple[int, ...]
    work_route: tuple[int, ...]
    exposure: float
    drive_chance: float
    away: dict[int, _Away]


@dataclass
class Traffic:
    """Simulated reads as columns; ``kept`` lists the sightings that became reads, in simulation order."""

    vehicles: list[Vehicle]
    vehicle: array[int]
    camera: array[int]
    ts: array[int]
    fixes: dict[int, tuple[float, float]]
    kept: list[int]
    since_ms: int
    until_ms: int

    def by_owner(self, owners: Sequence[int]) -> dict[int, list[int]]:
        """Kept sighting indexes grouped by the owner of the camera that made them (``owners[camera]``)."""
        groups: dict[int, list[int]] = {}
        camera = self.camera
        for i in self.kept:
            groups.setdefault(owners[camera[i]], []).append(i)
        return groups


def local_days(now_ms: int, days: int, timezone: str) -> list[tuple[int, int]]:
    """(local midnight in epoch ms, weekday) for each calendar day touching the last ``days`` days."""
    zone = ZoneInfo(timezone)
    last = datetime.fromtimestamp(now_ms / 1000, zone).date()
    first = last - timedelta(days=days)
    out = []
    for offset in range((last - first).days + 1):
        day: date = first + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        out.append((int(midnight.timestamp() * 1000), day.weekday()))
    return out


def _weighted(rng: Random, items: Sequence[tuple[str, float]]) -> str:
    return rng.choices([i[0] for i in items], weights=[i[1] for i in items])[0]


class _Simulation:
    def __init__(self, world: World, rng: Random, now_ms: int, days: int) -> None:
        self.world = world
        self.rng = rng
        self.since = now_ms - days * DAY_MS
        self.until = now_ms
        self.days = local_days(now_ms, days, world.timezone)
        self.areas = {a.name: a for a in world.areas}
        self.homes = [(a.name, a.residents) for a in world.areas if a.residents > 0 and a.roads]
        if not self.homes:
            raise ValueError("the world needs an area with residents and street cameras")
        visited = {w for a in world.areas for w, _ in a.work} | {g.destination for g in world.getaways}
        if any(not self.areas[name].roads for name in visited):
            raise ValueError("every area vehicles work in or travel to needs street cameras")
        self.near = {cam: self._nearest(area.roads, cam) for area in world.areas for cam in area.roads}
        self.vehicles: list[Vehicle] = []
        self.plates: set[str] = set()
        self.vehicle: array[int] = array("i")
        self.camera: array[int] = array("i")
        self.ts: array[int] = array("q")
        self.fixes: dict[int, tuple[float, float]] = {}

    # -- geometry -----------------------------------------------------------------------------------------
    def _km(self, a: int, b: int) -> float:
        ca, cb = self.world.cameras[a], self.world.cameras[b]
        dx = (cb.lon - ca.lon) * 111.32 * math.cos(math.radians(ca.lat))
        dy = (cb.lat - ca.lat) * 110.57
        return math.hypot(dx, dy)

    def _nearest(self, cameras: Sequence[int], origin: int) -> tuple[int, ...]:
        return tuple(sorted(cameras, key=lambda c: (self._km(origin, c), c)))

    def _leg_ms(self, a: int, b: int) -> int:
        km = self._km(a, b)
        speed = 95.0 if km > 20 else 40.0
        return int(km / speed * HOUR_MS * (1.0 + 0.3 * self.rng.random())) + 20_000

    # -- vehicles -----------------------------------------------------------------------------------------
    def _plate(self, state: str) -> str:
        rng = self.rng
        while True:
            if state == "NV" and rng.random() < 0.5:
                plate = f"{rng.randint(100, 999)}{rng.choice(_LETTERS)}{rng.randint(10, 99)}"
            elif state == "NV":
                letters = "".join(rng.choices(_LETTERS, k=3))
                plate = f"{rng.randint(1, 9)}{letters}{rng.randint(10, 99)}"
            else:
                letters = "".join(rng.choices(_LETTERS, k=3))
                plate = f"{rng.randint(5, 9)}{letters}{rng.randint(0, 999):03d}"
            if plate not in self.plates:
                self.plates.add(plate)
                return plate

    def _attributes(self) -> dict[str, str]:
        make, model, vtype, _ = self.rng.choices(_MODELS, weights=[m[3] for m in _MODELS])[0]
        colour = self.rng.choices([c[0] for c in _COLOURS], weights=[c[1] for c in _COLOURS])[0]
        return {"make": make, "model": model, "color": colour, "type": vtype}

    def _route(self, area: Area, length: int) -> tuple[int, ...]:
        """The ``length`` street cameras nearest a random point of ``area``, nearest first."""
        return self.near[self.rng.choice(area.roads)][:length]

    def _route_length(self) -> int:
        return 1 + min(6, int(self.rng.expovariate(0.8)))

    def _plan(self, home: Area) -> _Plan:
        rng = self.rng
        kind, _, low, span = rng.choices(_KINDS, weights=[k[1] for k in _KINDS])[0]
        work = self.areas[_weighted(rng, home.work)] if home.work else home
        drive_chance = low + span * rng.random()
        return _Plan(
            index=len(self.vehicles),
            kind=kind,
            home=home,
            work=work,
            home_route=self._route(home, self._route_length()),
            work_route=self._route(work, self._route_length()),
            exposure=0.2 + 0.7 * rng.random(),
            drive_chance=drive_chance,
            away=self._getaway(home),
        )

    def _getaway(self, home: Area) -> dict[int, _Away]:
        """The days this vehicle is away (by day index), if it makes one of the world's getaways."""
        rng = self.rng
        for trip in self.world.getaways:
            if home.name not in trip.origins or rng.random() >= trip.chance:
                continue
            starts = (4, 5) if trip.nights else (5, 6)
            candidates = [d for d, (_, weekday) in enumerate(self.days) if weekday in starts]
            if not candidates:
                return {}
            start = rng.choice(candidates)
            hotel = self._route(self.areas[trip.destination], 1 + rng.randrange(3))
            if not trip.nights:
                return {start: (trip, _Phase.DAY_TRIP, hotel)}
            away = {start + n: (trip, _Phase.THERE, hotel) for n in range(1, trip.nights)}
            return {start: (trip, _Phase.OUT, hotel), **away, start + trip.nights: (trip, _Phase.BACK, hotel)}
        return {}

    def add_vehicle(self) -> None:
        home = self.areas[_weighted(self.rng, self.homes)]
        plan = self._plan(home)
        plate = self._plate(home.state)
        self.vehicles.append(Vehicle(plate, f"US-{home.state}", self._attributes()))
        for day, (midnight, weekday) in enumerate(self.days):
            if day in plan.away:
                self._away_day(plan, midnight, *plan.away[day])
            elif plan.kind == "fleet":
                self._fleet_day(plan, midnight, weekday)
            elif weekday < 5:
                self._commute(plan, midnight)
            else:
                self._errands(plan, plan.home, plan.home_route, midnight)

    # -- days ---------------------------------------------------------------------------------------------
    def _at(self, midnight: int, hour: float, jitter_min: float) -> int:
        return midnight + int(hour * HOUR_MS + self.rng.gauss(0.0, jitter_min) * MINUTE_MS)

    def _commute(self, plan: _Plan, midnight: int) -> None:
        if self.rng.random() >= plan.drive_chance:
            return
        path = plan.home_route + plan.work_route[::-1]
        self._drive(plan, path, self._at(midnight, 7.5, 40))
        self._drive(plan, path[::-1], self._at(midnight, 17.25, 50))

    def _errands(self, plan: _Plan, area: Area, base: tuple[int, ...], midnight: int) -> None:
        rng = self.rng
        if rng.random() >= plan.drive_chance + 0.2:
            return
        for _ in range(rng.choices((1, 2, 3), weights=(5, 3, 1))[0]):
            use_lot = bool(area.lots) and rng.random() < 0.4
            target = rng.choice(area.lots) if use_lot else rng.choice(area.roads)
            path = (*base[: rng.randint(1, len(base))], target)
            arrived = self._drive(plan, path, self._at(midnight, 9 + 10 * rng.random(), 0))
            self._drive(plan, path[::-1], arrived + rng.randint(20, 120) * MINUTE_MS)

    def _fleet_day(self, plan: _Plan, midnight: int, weekday: int) -> None:
        rng = self.rng
        trips = rng.randint(4, 10) if weekday < 5 else rng.randint(0, 4)
        for hour in sorted(7 + 12 * rng.random() for _ in range(trips)):
            start, end = rng.choice((plan.home, plan.work)), rng.choice((plan.home, plan.work))
            path = self._route(start, rng.randint(1, 3)) + self._route(end, rng.randint(1, 3))[::-1]
            self._drive(plan, path, self._at(midnight, hour, 5))

    def _away_day(self, plan: _Plan, midnight: int, trip: Getaway, phase: _Phase, hotel: tuple[int, ...]) -> None:
        path = plan.home_route + trip.via + hotel[::-1]
        if phase in (_Phase.OUT, _Phase.DAY_TRIP):
            arrived = self._drive(plan, path, self._at(midnight, 8.5, 60))
            if phase == _Phase.DAY_TRIP:
                self._drive(plan, path[::-1], arrived + self.rng.randint(2, 6) * HOUR_MS)
        elif phase == _Phase.THERE:
            self._errands(plan, self.areas[trip.destination], hotel, midnight)
        else:
            self._drive(plan, path[::-1], self._at(midnight, 11, 60))

    # -- sightings ----------------------------------------------------------------------------------------
    def _drive(self, plan: _Plan, path: Sequence[int], depart_ms: int) -> int:
        """Drive ``path`` from ``depart_ms``; each camera reads the vehicle with its exposure. Returns arrival."""
        rng = self.rng
        t = depart_ms
        previous = -1
        for cam in path:
            if previous >= 0 and cam != previous:
                t += self._leg_ms(previous, cam)
            previous = cam
            if rng.random() < plan.exposure:
                self._emit(plan.index, cam, t + rng.randrange(MINUTE_MS))
        return t

    def _emit(self, vehicle: int, cam: int, ts: int) -> None:
        if not self.since <= ts < self.until:
            return
        self.vehicle.append(vehicle)
        self.camera.append(cam)
        self.ts.append(ts)
        units = self.world.patrols.get(self.world.cameras[cam].owner)
        if units and self.rng.random() < PATROL_CHANCE:
            seen = self.world.cameras[cam]
            fix = (round(seen.lat + self.rng.gauss(0, 0.01), 5), round(seen.lon + self.rng.gauss(0, 0.01), 5))
            later = ts + self.rng.randint(1, 15) * MINUTE_MS
            if later < self.until:
                self.fixes[len(self.ts)] = fix
                self.vehicle.append(vehicle)
                self.camera.append(self.rng.choice(units))
                self.ts.append(later)


def simulate(world: World, *, reads: int, seed: int, now_ms: int, days: int = 30) -> Traffic:
    """Simulate vehicles until there are enough sightings, then keep exactly ``reads`` of them at random."""
    rng = Random(seed)  # noqa: S311 - a seeded simulation, not a secret
    sim = _Simulation(world, rng, now_ms, days)
    target = math.ceil(reads * OVERSAMPLE)
    while len(sim.ts) < target:
        sim.add_vehicle()
        if len(sim.vehicles) >= 1000 and not sim.ts:
            raise ValueError("the simulated vehicles pass no camera; check the world's areas")
    total = len(sim.ts)
    dropped = set(rng.sample(range(total), total - reads))
    return Traffic(
        vehicles=sim.vehicles,
        vehicle=sim.vehicle,
        camera=sim.camera,
        ts=sim.ts,
        fixes=sim.fixes,
        kept=[i for i in range(total) if i not in dropped],
        since_ms=sim.since,
        until_ms=sim.until,
    )

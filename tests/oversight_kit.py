"""A generator of realistic audit logs for the oversight rules: ordinary honest searches, with the abuse patterns
public audits found seeded in (tests/unit/test_oversight_seeded.py, benchmarks/oversight_rules.py).

Honest searches: agencies of about 25 investigators across four states; each user works most days and runs a
handful of searches (geometric, mean about 8) between 13:00 and 23:00 UTC; each search cites one of the user's
open cases (``YY-NNNNN``, the agencies' pattern), a case lives a few days and covers one to three plates; one in
twenty is an area search (a circle of 100-1,000 m in the agency's city); notes are rare and ordinary (some with
words that must not match, such as "price" and "police"). About 1% are refused, and one in 500 reaches an owner in
another state under an agreement. Every agency but one (``agency-002``) keeps a case register, holding its cases
from the day each is opened, but one case in 200 was never entered. Entries are yielded in time order in the shape
of the audit listing (``AuditRow.as_json()``, with ``ts_ms``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from plateledger.oversight.places import Place
from plateledger.oversight.rules import CaseEntry, Context, Removal, case_key

DAY_MS = 86_400_000
START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
STATES = ("US-IL", "US-IL", "US-CA", "US-TX", "US-WI")
CASE_PATTERN = re.compile(r"[0-9]{2}-[0-9]{5}")
HONEST_NOTES = (
    "white sedan seen leaving the scene",
    "partial plate from witness",
    "follow-up on burglary suspect vehicle",
    "price sticker still on rear window",
    "vehicle parked near police office at time of theft",
    "service station robbery, grey pickup",
    "amber alert vehicle description",
    "iced coffee shop break-in, suspect car",
    "hit and run, damage to front bumper",
)
PURPOSES = ("stolen_vehicle", "stolen_plate", "property_crime", "violent_crime", "wanted_person", "hit_and_run")
#: Each seeded pattern and the rule that must flag it.
PATTERNS = {
    "immigration": "text.prohibited",
    "rotating_cases": "plate.many_cases",
    "protest": "area.sensitive_place",
    "burst": "volume.burst",
    "stale_case": "case.spread",
    "content_free": "reason.content_free",
    "off_pattern": "case.pattern",
    "training": "search.test",
    "out_of_state": "reach.out_of_state",
    "probing": "reach.refusals",
    "after_removal": "plate.after_hotlist_removal",
    "untied_plate": "plate.no_alert_or_case",
    "heavy_day": "volume.peers",
}


@dataclass
class Scenario:
    """A generated log's context (what the rules are given) and which entries each seeded pattern made."""

    days: int
    agencies: dict[str, str]  # slug -> state
    places: tuple[Place, ...]
    removals: tuple[Removal, ...]
    seeded: dict[str, set[int]] = field(default_factory=dict)
    honest: set[int] = field(default_factory=set)
    #: The case registers (filled as cases are opened), the agencies keeping one, the alerts they received.
    cases: dict[tuple[str, str], CaseEntry] = field(default_factory=dict)
    registers: set[str] = field(default_factory=set)
    alerts: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def context(self, **changes: Any) -> Context:
        base: dict[str, Any] = {
            "case_patterns": {"*": CASE_PATTERN},
            "places": self.places,
            "removals": self.removals,
            "agency_states": self.agencies,
            "cases": self.cases,
            "case_registers": self.registers,
            "alerts": self.alerts,
        }
        return Context(**{**base, **changes})


def _plate(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return str(rng.randint(1, 9)) + "".join(rng.choice(letters) for _ in range(3)) + str(rng.randint(100, 999))


class _Agency:
    def __init__(self, number: int, rng: random.Random) -> None:
        self.slug = f"agency-{number:03d}"
        self.state = STATES[number % len(STATES)]
        self.lat = 41.0 + number * 0.37 % 6
        self.lon = -88.0 - number * 0.53 % 9
        self.users = [f"officer{number:03d}_{i:02d}" for i in range(rng.randint(15, 35))]
        self.case_serial = rng.randint(100, 5000)
        self.peers: list[str] = []


class Generator:
    """Yields a log of about ``entries`` entries over ``days`` days (``seeded``: with the patterns)."""

    def __init__(
        self, entries: int, *, days: int = 180, seed: int = 18, seeded: bool = True, track: bool = True
    ) -> None:
        self.rng = random.Random(seed)
        self.track = track
        self.days = days
        self.seeded = seeded
        users = round(entries / (days * 0.75 * 8.6))
        self.agencies: list[_Agency] = []
        while len(self.agencies) < 4 or sum(len(a.users) for a in self.agencies) < users:
            self.agencies.append(_Agency(len(self.agencies), self.rng))
        for agency in self.agencies:
            agency.peers = [a.slug for a in self.agencies if a.state == agency.state and a is not agency]
        self.states = {a.slug: a.state for a in self.agencies}
        rng = self.rng
        self.home = self.agencies[0]  # US-IL
        self.places = tuple(
            Place(
                f"listed place {i}", kind, points=((a.lat + rng.uniform(-0.08, 0.08), a.lon + rng.uniform(-0.1, 0.1)),)
            )
            for i, (a, kind) in enumerate(
                (a, k) for a in self.agencies[:4] for k in ("clinic", "place of worship", "shelter")
            )
        )
        self.church = Place("St. Mark's Church", "place of worship", points=((self.home.lat + 0.01, self.home.lon),))
        self.removed_plate = "7ABC123"
        self.removed_ms = START_MS + 100 * DAY_MS + 15 * 3_600_000
        self.scenario = Scenario(
            days=days,
            agencies=self.states,
            places=(*self.places, self.church),
            removals=(Removal(self.removed_plate, self.removed_ms, "stolen vehicles"),),
            registers={a.slug for a in self.agencies if a.slug != "agency-002"},
        )
        self.alerted_plate = "4ALR789"
        self.scenario.alerts[(self.home.slug, self.alerted_plate)] = [START_MS + 33 * DAY_MS + 10 * 3_600_000]
        self._seq = 0
        self._open_cases: dict[str, list[tuple[str, list[str], int]]] = {}

    def _case(self, agency: _Agency, year: int, opened_day: int | None = None) -> str:
        """A new case number; with ``opened_day``, an honest case, entered in the agency's register (if it keeps
        one) but for one in 200."""
        agency.case_serial += 1
        number = f"{year % 100:02d}-{agency.case_serial % 100_000:05d}"
        if opened_day is not None and agency.slug in self.scenario.registers and agency.case_serial % 200:
            self.scenario.cases[case_key(agency.slug, number)] = CaseEntry(number, START_MS + opened_day * DAY_MS)
        return number

    def _entry(self, ts_ms: int, agency: _Agency, user: str, **kw: Any) -> dict[str, Any]:
        kind = kw.pop("kind", "plate")
        refused = kw.pop("refused", False)
        owners = kw.pop("owners", None)
        if owners is None:
            owners = [agency.slug, *self.rng.sample(agency.peers, min(2, len(agency.peers)))]
        query: dict[str, Any] = {"note": kw.pop("note", None)}
        if kind == "plate":
            query["plate"] = kw.pop("plate")
        else:
            query.update(lat=kw.pop("lat"), lon=kw.pop("lon"), radius_m=kw.pop("radius_m"))
        entry = {
            "ts_ms": ts_ms,
            "action": "search.refused" if refused else f"search.{kind}",
            "actor": user,
            "actor_agency_id": agency.slug,
            "purpose": kw.pop("purpose"),
            "case_number": kw.pop("case_number"),
            "outcome": "refused" if refused else "ok",
            "params": {"query": query, "withheld": {}, "withheld_others": "no_agreement", "kind": kind},
            "counts": {"per_owner": {} if refused else {o: self.rng.randint(0, 9) for o in owners}},
            "_pattern": kw.pop("pattern", None),
        }
        return entry

    def _honest_day(self, day: int) -> list[dict[str, Any]]:
        rng = self.rng
        base = START_MS + day * DAY_MS
        year = 25 if day < 365 else 26
        entries = []
        for agency in self.agencies:
            for user in agency.users:
                if rng.random() < 0.25:
                    continue
                count = min(int(rng.expovariate(1 / 8)) + 1, 40)
                cases = [c for c in self._open_cases.get(user, []) if c[2] >= day]
                for _ in range(count):
                    if not cases or rng.random() < 0.3:
                        plates = [_plate(rng) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
                        cases.append((self._case(agency, year, day), plates, day + rng.randint(0, 10)))
                    case, plates, _ = rng.choice(cases)
                    ts = base + 13 * 3_600_000 + rng.randrange(10 * 3_600_000)
                    note = rng.choice(HONEST_NOTES) if rng.random() < 0.1 else None
                    purpose = rng.choice(PURPOSES)
                    owners = None
                    if rng.random() < 0.002:
                        owners = [agency.slug, rng.choice([a.slug for a in self.agencies if a.state != agency.state])]
                    refused = rng.random() < 0.01
                    if rng.random() < 0.05:
                        entries.append(
                            self._entry(
                                ts, agency, user, kind="area", lat=agency.lat + rng.uniform(-0.09, 0.09),
                                lon=agency.lon + rng.uniform(-0.12, 0.12), radius_m=rng.randint(100, 1000),
                                note=note, purpose=purpose, case_number=case, owners=owners, refused=refused,
                            )
                        )  # fmt: skip
                    else:
                        entries.append(
                            self._entry(
                                ts, agency, user, plate=rng.choice(plates), note=note, purpose=purpose,
                                case_number=case, owners=owners, refused=refused,
                            )
                        )  # fmt: skip
                self._open_cases[user] = cases[-6:]
        return entries

    def _seeded_day(self, day: int) -> list[dict[str, Any]]:
        rng = self.rng
        base = START_MS + day * DAY_MS
        home = self.home
        county = self.agencies[1]
        out: list[dict[str, Any]] = []
        at = lambda hour, minute=0, second=0: base + ((hour * 60 + minute) * 60 + second) * 1000  # noqa: E731
        if 40 <= day < 80:  # immigration lookups under "stolen_vehicle", a new case number each time
            for i in range(6):
                note = rng.choice(("ICE ERO request", "immigration hold", "ICE+ERO", "possible deportation", None))
                out.append(
                    self._entry(
                        at(14 + i, 7), home, "rmiller", plate=f"9IMM{(day * 6 + i) % 12:03d}", note=note,
                        purpose="stolen_vehicle", case_number=self._case(home, 25),
                        pattern="immigration" if note else "rotating_cases",
                    )
                )  # fmt: skip
        if day == 75:  # protest day: area searches around a listed church
            for i in range(6):
                out.append(
                    self._entry(
                        at(16, 10 * i), home, "jdoe", kind="area", lat=self.church.points[0][0] + 0.0004 * i,
                        lon=self.church.points[0][1] + 0.0008, radius_m=150, note="crowd at protest march",
                        purpose="violent_crime", case_number="25-07501", pattern="protest",
                    )
                )  # fmt: skip
        if day == 90:  # a burst: 90 searches 4 s apart
            for i in range(90):
                out.append(
                    self._entry(
                        at(15, 0, 4 * i), county, "kbot", plate=_plate(rng), purpose="stolen_plate",
                        case_number="25-55555", pattern="burst",
                    )
                )  # fmt: skip
        if day % 3 != 2:  # a stale case cited for months by three users
            for user in ("sgarcia", "pchan", "dmorse")[: 1 + day % 2]:
                out.append(
                    self._entry(
                        at(20, 30), county, user, plate=_plate(rng), purpose="property_crime",
                        case_number="19-00042", pattern="stale_case",
                    )
                )  # fmt: skip
        if day in (30, 31, 32):  # content-free reason, a case number off the pattern
            for i in range(4):
                out.append(
                    self._entry(
                        at(17, i), home, "tlee", plate=_plate(rng), note="investigation", purpose="wanted_person",
                        case_number="n/a", pattern="content_free",
                    )
                )  # fmt: skip
            out.append(
                self._entry(
                    at(18), home, "tlee", plate=_plate(rng), purpose="wanted_person", case_number="INV2025",
                    pattern="off_pattern",
                )
            )  # fmt: skip
        if day in (20, 21):
            for i in range(3):
                out.append(
                    self._entry(
                        at(15, i), home, "trainee1", plate=_plate(rng), note="training exercise",
                        purpose="stolen_vehicle", case_number="25-00001", pattern="training",
                    )
                )  # fmt: skip
        if day == 50:
            far = [a.slug for a in self.agencies if a.state not in ("US-IL",)][:3]
            for i in range(4):
                out.append(
                    self._entry(
                        at(19, i), home, "fedtask", plate=_plate(rng), purpose="wanted_person",
                        case_number="25-04444", owners=[home.slug, *far], pattern="out_of_state",
                    )
                )  # fmt: skip
        if day == 60:
            for i in range(14):
                out.append(
                    self._entry(
                        at(21, i), county, "probe", plate=_plate(rng), purpose="wanted_person",
                        case_number="25-06060", refused=i < 12, pattern="probing" if i < 12 else None,
                    )
                )  # fmt: skip
        if day == 100:
            for hour in (17, 20, 22):
                out.append(
                    self._entry(
                        at(hour), home, "mwong", plate=self.removed_plate, purpose="stolen_vehicle",
                        case_number="25-01000", pattern="after_removal",
                    )
                )  # fmt: skip
        if day in (10, 13, 16, 19, 22, 25):  # one plate looked up again and again, a case number never registered
            out.append(
                self._entry(
                    at(22), home, "lstalk", plate="6EXP456", purpose="wanted_person", case_number="25-04321",
                    pattern="untied_plate",
                )
            )  # fmt: skip
        if day in (33, 34, 35):  # the same, twice a day, but after an alert to the agency: not flagged
            for hour in (14, 18):
                out.append(
                    self._entry(
                        at(hour), home, "bwatch", plate=self.alerted_plate, purpose="stolen_vehicle",
                        case_number="25-04322",
                    )
                )  # fmt: skip
        if day == 110:  # a heavy day: 200 searches over nine hours (not a burst)
            for i in range(200):
                out.append(
                    self._entry(
                        at(13) + i * 162_000, county, "heavy", plate=_plate(rng), purpose="property_crime",
                        case_number=self._case(county, 25), pattern="heavy_day",
                    )
                )  # fmt: skip
        return out

    def entries(self) -> Iterator[dict[str, Any]]:
        """The log, in time order; ``self.scenario`` records which sequence numbers each pattern made."""
        for day in range(self.days):
            batch = self._honest_day(day) + (self._seeded_day(day) if self.seeded else [])
            batch.sort(key=lambda e: e["ts_ms"])
            for entry in batch:
                self._seq += 1
                entry["seq"] = self._seq
                pattern = entry.pop("_pattern")
                if not self.track:
                    pass
                elif pattern is None:
                    self.scenario.honest.add(self._seq)
                else:
                    self.scenario.seeded.setdefault(pattern, set()).add(self._seq)
                yield entry

"""A small agency with searches appended through the library (real plate and area searches, audited by the
search engine), seeded with the abuse patterns the live oversight rules must flag, among honest searches.

``seed(platform)`` runs, minute by minute on the platform's clock, six honest investigators citing their own
cases (on the agency's pattern, registered open for their unit) and, among them: a user running immigration
lookups under ``stolen_vehicle`` with rotating case numbers; a protest-day area search near a listed church; a
burst of 30 searches in five minutes; a case opened years ago; content-free reasons.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from plateledger.audit.log import SYSTEM
from plateledger.auth.tokens import Principal
from plateledger.core.clock import FixedClock
from plateledger.platform import Platform
from plateledger.review.register import make_case
from plateledger.search.area import AreaSearch
from tests.support import MINUTE_MS, AgencyKit, search

CASE_PATTERN = "[0-9]{2}-[0-9]{5}"
CHURCH = {"lat": 37.7760, "lon": -122.4180}
PLACES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "St. Mark's Church", "kind": "place of worship"},
            "geometry": {"type": "Point", "coordinates": [CHURCH["lon"], CHURCH["lat"]]},
        },
        {
            "type": "Feature",
            "properties": {"name": "Women's clinic", "kind": "clinic"},
            "geometry": {"type": "Point", "coordinates": [-122.50, 37.70]},
        },
    ],
}
#: Each seeded pattern, the user who ran it, and the rule that must flag it.
SEEDED = {
    "immigration": ("city-ice", "text.prohibited"),
    "rotating_cases": ("city-ice", "plate.many_cases"),
    "protest": ("city-protest", "area.sensitive_place"),
    "burst": ("city-burst", "volume.burst"),
    "stale_case": ("city-stale", "case.stale"),
    "content_free": ("city-vague", "reason.content_free"),
}


@dataclass
class Seeded:
    kit: AgencyKit
    users: dict[str, Principal]
    honest: list[str]
    searches: int = 0
    by_pattern: dict[str, list[int]] = field(default_factory=dict)


def add_user(platform: Platform, kit: AgencyKit, username: str, role: str = "investigator") -> Principal:
    platform.registry.create_user(SYSTEM, agency_slug=kit.slug, username=username, role=role)
    return platform.tokens.authenticate(platform.tokens.issue(SYSTEM, username).secret)


def configure(platform: Platform, kit: AgencyKit) -> None:
    """The agency's policy (case-number pattern), its sensitive places, its case register and its units."""
    policy = {"oversight": {"case_pattern": CASE_PATTERN}}
    platform.policies.set_from(kit.admin, kit.slug, policy=json.dumps(policy))
    platform.places.set(kit.admin, kit.slug, json.dumps(PLACES))


def seed(platform: Platform, clock: FixedClock, kit: AgencyKit) -> Seeded:
    names = ["city-ice", "city-protest", "city-burst", "city-stale", "city-vague"]
    honest = [f"city-officer{i}" for i in range(6)]
    users = {name: add_user(platform, kit, name) for name in names + honest}
    seeded = Seeded(kit, users, honest)
    register = [make_case("19-00042", "2019-03-01", unit="Robbery")]
    for i, name in enumerate(honest):
        platform.cases.set_unit(kit.admin, kit.slug, name, "Patrol")
        register += [make_case(f"25-{i:03d}{c:02d}", "2025-05-20", unit="Patrol") for c in range(3)]
    platform.cases.put(kit.admin, kit.slug, register)
    plates = itertools.count(1000)

    def run(name: str, pattern: str | None, **ask: object) -> None:
        before = platform.audit.entries(after_seq=0, limit=1_000_000)[-1].seq
        if "lat" in ask:
            platform.areas.search(users[name], AreaSearch(**ask))  # type: ignore[arg-type]
        else:
            plate = str(ask.pop("plate"))
            search(platform, users[name], plate, **ask)
        seeded.searches += 1
        if pattern:
            seeded.by_pattern.setdefault(pattern, []).append(before + 1)

    # Honest searches: each officer, every 20 minutes for 4 hours, one of their three cases and its plate.
    for step in range(12):
        for i, name in enumerate(honest):
            case = f"25-{i:03d}{step % 3:02d}"
            note = "white sedan seen leaving the scene" if step % 4 == 0 else None
            run(name, None, plate=f"7HON{i}{step % 3}0", case_number=case, note=note)
        clock.advance(20 * MINUTE_MS)
        if step == 2:
            for number in range(4):  # rotating cases, an immigration note
                run(
                    "city-ice",
                    "immigration",
                    plate="8ICE001",
                    case_number=f"25-{90_001 + number:05d}",
                    note="ICE ERO request",
                )
                seeded.by_pattern.setdefault("rotating_cases", []).append(seeded.by_pattern["immigration"][-1])
        if step == 4:
            run(
                "city-protest",
                "protest",
                lat=CHURCH["lat"] + 0.001,
                lon=CHURCH["lon"],
                radius_m=200,
                since=clock.now_ms() - 3 * 3_600_000,
                until=clock.now_ms(),
                purpose="violent_crime",
                case_number="25-80001",
                note="protest march",
            )
        if step == 6:
            for _n in range(30):
                run("city-burst", "burst", plate=f"5BUR{next(plates)}", case_number="25-70001")
                clock.advance(10_000)
        if step == 8:
            run("city-stale", "stale_case", plate="6OLD123", case_number="19-00042")
        if step == 10:
            run("city-vague", "content_free", plate="4VAG123", case_number="n/a", note="bolo")
    return seeded

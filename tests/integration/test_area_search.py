"""Area search ("stakeout") through the real stores, the HTTP API and the CLI: the circle and the polygon, the time
window, pagination, every owner's area limits and agreements, roles, and the audit entry each page and each
refusal leaves behind. None of these returns a read the gate did not allow."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.api.schemas import SearchOut
from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.core.errors import FieldInvalid, PermissionDenied
from plateledger.platform import Platform
from plateledger.policy.gate import DEFAULT_DENY
from plateledger.policy.rules import AreaLimits, Policy, Terms
from plateledger.search.area import AreaSearch
from plateledger.search.engine import SearchResult
from plateledger.store.models import AuditEntry
from plateledger.vocab import Purpose, QueryKind
from tests.support import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    NOW_MS,
    AgencyKit,
    free_port,
    ingest,
    module_platform,
    read,
    seed_agency,
    wait_for_health,
)

#: The default camera position of tests.support, and points ~500 m and ~1.5 km north of it.
LAT, LON = 37.7749, -122.4194
NEAR = LAT + 0.0045
FAR = LAT + 0.0135
#: The window searched: two hours; T is inside it.
SINCE, UNTIL = NOW_MS - 3 * HOUR_MS, NOW_MS - HOUR_MS
T = NOW_MS - 2 * HOUR_MS
#: A square of ~600 m around the camera (bounding radius ~ 420 m).
SQUARE = ";".join(
    f"{LAT + dlat},{LON + dlon}"
    for dlat, dlon in ((-0.002, -0.0025), (0.002, -0.0025), (0.002, 0.0025), (-0.002, 0.0025))
)

#: Owners other than the requester, and the rule that must withhold each one from a 500 m, 2-hour search.
REFUSED = {
    "noarea": "owner's policy does not allow area searches",
    "smallradius": "owner's policy limits area searches to 100 m",
    "shortwindow": "owner's policy limits area searches to 1 hour",
    "stranger": DEFAULT_DENY,
    "plateonly": "does not grant area searches",
    "prohibits": "owner's policy prohibits purpose stolen_vehicle",
}
CITY_INSIDE = ["c-1", "c-2", "c-3", "c-near", "c-later"]
SHARED_INSIDE = ["s-1", "s-2"]


@dataclass
class Network:
    platform: Platform
    city: AgencyKit
    owners: dict[str, AgencyKit]


def share(platform: Platform, requester: AgencyKit, owner: AgencyKit, kinds: set[QueryKind]) -> None:
    terms = Terms(
        query_kinds=frozenset(kinds),
        purposes=frozenset({Purpose.STOLEN_VEHICLE, Purpose.VIOLENT_CRIME}),
        max_lookback_days=90,
        expires_ms=NOW_MS + 365 * DAY_MS,
    )
    view = platform.agreements.request(requester.admin, owner=owner.slug, terms=terms)
    platform.agreements.accept(owner.admin, view.id)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    """The city searches; ``shared`` shares area searches with it; each owner of REFUSED is set up so that the
    rule named there withholds it. Every owner holds a read at the camera inside the window, and one far away."""
    with module_platform(tmp_path_factory, "area") as platform:
        city = seed_agency(platform, "city", name="City PD")
        fixed, mobile = city.cameras
        result = ingest(
            platform,
            city,
            [
                read("AAA111", camera=fixed, ts=T, read_id="c-1"),
                read("AAA222", camera=fixed, ts=T, read_id="c-2"),
                read("AAA333", camera=fixed, ts=T, read_id="c-3"),
                read("AAA444", camera=fixed, ts=T + MINUTE_MS, lat=NEAR, lon=LON, read_id="c-near"),
                read("AAA555", camera=fixed, ts=T + 30 * MINUTE_MS, read_id="c-later"),
                read("BBB111", camera=fixed, ts=T, lat=FAR, lon=LON, read_id="c-far"),
                read("BBB222", camera=fixed, ts=SINCE - 1, read_id="c-before"),
                read("BBB333", camera=fixed, ts=UNTIL, read_id="c-at-until"),
                read("BBB444", camera=mobile, ts=T, read_id="c-no-position"),
            ],
        )
        assert result.stored == 9
        owners = {slug: seed_agency(platform, slug) for slug in ("shared", *REFUSED)}
        assert (
            ingest(
                platform,
                owners["shared"],
                [
                    read("AAA111", camera="shared-fixed", ts=T, read_id="s-1"),
                    read("AAA666", camera="shared-fixed", ts=T, read_id="s-2"),
                    read("BBB555", camera="shared-fixed", ts=T, lat=FAR, lon=LON, read_id="s-far"),
                ],
            ).stored
            == 3
        )
        for slug in REFUSED:
            kit = owners[slug]
            assert ingest(platform, kit, [read("AAA111", camera=f"{slug}-fixed", ts=T, read_id=f"{slug}-1")]).stored
        platform.policies.set(SYSTEM, "noarea", Policy(area=AreaLimits(allowed=False)))
        platform.policies.set(SYSTEM, "smallradius", Policy(area=AreaLimits(max_radius_m=100)))
        platform.policies.set(SYSTEM, "shortwindow", Policy(area=AreaLimits(max_window_hours=1)))
        platform.policies.set(SYSTEM, "prohibits", Policy(prohibited_purposes=frozenset({Purpose.STOLEN_VEHICLE})))
        for slug in ("shared", "noarea", "smallradius", "shortwindow", "prohibits"):
            share(platform, city, owners[slug], {QueryKind.AREA, QueryKind.PLATE})
        share(platform, city, owners["plateonly"], {QueryKind.PLATE})
        yield Network(platform, city, owners)


@pytest.fixture
def platform(network: Network) -> Platform:
    return network.platform


@pytest.fixture
def audit_mark(network: Network) -> int:
    return network.platform.audit.verify().entries


def entries_since(platform: Platform, mark: int, action: str) -> list[AuditEntry]:
    return platform.audit.entries(after_seq=mark, action=action)


def area(
    platform: Platform,
    principal: Any,
    *,
    purpose: str | None = "stolen_vehicle",
    case_number: str | None = "2025-000777",
    **fields: Any,
) -> SearchResult:
    fields.setdefault("since", SINCE)
    fields.setdefault("until", UNTIL)
    if "polygon" not in fields:
        fields.setdefault("lat", LAT)
        fields.setdefault("lon", LON)
        fields.setdefault("radius_m", 800)
    return platform.areas.search(principal, AreaSearch(purpose=purpose, case_number=case_number, **fields))


def ids(result: SearchResult) -> list[str]:
    return [r.read_id for r in result.reads]


def allowed_ids(network: Network) -> set[str]:
    return {*CITY_INSIDE, *SHARED_INSIDE}


# -- what matches --------------------------------------------------------------------------------------------
def test_circle_and_window_match_only_inside_reads_of_permitted_owners(platform: Platform, network: Network) -> None:
    result = area(platform, network.city.investigator)

    assert set(ids(result)) == allowed_ids(network)
    assert [r.ts_ms for r in result.reads] == sorted(r.ts_ms for r in result.reads)
    assert ids(result)[-2:] == ["c-near", "c-later"]
    assert result.next_cursor is None
    assert not result.truncated
    withheld = {w.owner: w.rule for w in result.withheld}
    for slug, rule in REFUSED.items():
        assert rule in withheld[f"{slug} police"], slug


def test_radius_decides_near_and_far(platform: Platform, network: Network) -> None:
    investigator = network.city.investigator
    assert "c-near" not in ids(area(platform, investigator, radius_m=300))
    assert "c-near" in ids(area(platform, investigator, radius_m=600))
    wide = ids(area(platform, investigator, radius_m=1000))
    assert "c-far" not in wide
    assert "c-no-position" not in wide


def test_window_since_inclusive_until_exclusive(platform: Platform, network: Network) -> None:
    investigator = network.city.investigator
    assert "c-before" in ids(area(platform, investigator, since=SINCE - 1))
    assert "c-at-until" not in ids(area(platform, investigator))
    assert ids(area(platform, investigator, since=T + 10 * MINUTE_MS, until=UNTIL)) == ["c-later"]
    iso = ids(area(platform, investigator, since="2025-06-01T09:00:00Z", until="2025-06-01T11:00:00+00:00"))
    assert set(iso) == allowed_ids(network)


def test_polygon(platform: Platform, network: Network) -> None:
    result = area(platform, network.city.investigator, polygon=SQUARE)
    # c-near is ~500 m north, outside the square; the reads at the camera are inside.
    assert set(ids(result)) == allowed_ids(network) - {"c-near"}
    closed = area(platform, network.city.investigator, polygon=SQUARE + f";{LAT - 0.002},{LON - 0.0025}")
    assert ids(closed) == ids(result)


def test_polygon_bounding_radius_meets_owner_limits(platform: Platform, network: Network) -> None:
    # ~1.6 km across: a bounding radius over the default 1,000 m limit of every owner, the city's own included.
    big = f"{LAT - 0.01},{LON - 0.01};{LAT + 0.01},{LON - 0.01};{LAT + 0.01},{LON + 0.01};{LAT - 0.01},{LON + 0.01}"
    result = area(platform, network.city.investigator, polygon=big)
    assert result.reads == []
    assert {w.owner: w.rule for w in result.withheld}["City PD"] == "owner's policy limits area searches to 1000 m"


def test_owner_limits_are_per_owner(platform: Platform, network: Network) -> None:
    """Within smallradius's 100 m and shortwindow's 1 hour, those owners' reads are returned."""
    result = area(platform, network.city.investigator, radius_m=50, since=T - 30 * MINUTE_MS, until=T + 30 * MINUTE_MS)
    assert {"smallradius-1", "shortwindow-1", "s-1", "c-1"} <= set(ids(result))
    assert not {"noarea-1", "stranger-1", "plateonly-1", "prohibits-1"} & set(ids(result))


def test_each_refused_owner_sees_the_area_search_in_its_access_log(platform: Platform, network: Network) -> None:
    result = area(platform, network.city.investigator)
    for slug, rule in REFUSED.items():
        kit = network.owners[slug]
        (entry,) = platform.access_log.view(kit.auditor, slug, after_seq=result.audit_seq - 1, limit=1).entries
        assert (entry.seq, entry.action, entry.outcome, entry.requester) == (
            result.audit_seq,
            "search.area",
            "withheld",
            "city",
        )
        assert entry.rule is not None
        assert rule in entry.rule
    (entry,) = platform.access_log.view(
        network.owners["shared"].admin, "shared", after_seq=result.audit_seq - 1, limit=1
    ).entries
    assert (entry.outcome, entry.rows) == ("permitted", len(SHARED_INSIDE))


# -- pagination ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_pages_return_every_read_exactly_once(
    platform: Platform, network: Network, audit_mark: int, limit: int
) -> None:
    whole = ids(area(platform, network.city.investigator))
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = area(platform, network.city.investigator, limit=limit, cursor=cursor)
        pages += 1
        assert len(page.reads) <= limit
        seen.extend(ids(page))
        cursor = page.next_cursor
        if cursor is None:
            break
        assert page.truncated
    assert seen == whole
    assert len(seen) == len(set(seen)) == 7
    # Each page is a search of its own, gated and audited (plus the one unpaginated search above).
    audited = [orjson.loads(e.params)["query"]["cursor"] for e in entries_since(platform, audit_mark, "search.area")]
    assert len(audited) == pages + 1
    assert audited[:2] == [None, None]
    assert all(audited[2:])


@pytest.mark.parametrize(
    "cursor",
    ["garbage!", "W10", "WzEsMiwiMyJd", "eyJ0IjoxfQ", "x" * 700],
    ids=["junk", "empty", "out-of-window", "object", "long"],
)
def test_foreign_cursors_are_refused(platform: Platform, network: Network, audit_mark: int, cursor: str) -> None:
    with pytest.raises(FieldInvalid) as caught:
        area(platform, network.city.investigator, cursor=cursor)
    assert caught.value.field == "cursor"
    (refusal,) = entries_since(platform, audit_mark, "search.refused")
    assert orjson.loads(refusal.params)["kind"] == "area"


# -- refusals ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["auditor", "device"])
def test_roles_that_never_read_are_refused_with_per_owner_rules(
    platform: Platform, network: Network, audit_mark: int, role: str
) -> None:
    with pytest.raises(PermissionDenied, match=role):
        area(platform, network.city.principals[role])
    assert entries_since(platform, audit_mark, "search.area") == []
    (refusal,) = entries_since(platform, audit_mark, "search.refused")
    params = orjson.loads(refusal.params)
    assert params["kind"] == "area"
    assert params["withheld_others"] == f"role {role} may not read plate data"
    assert refusal.actor_username == f"city-{role}"


@pytest.mark.parametrize(
    ("purpose", "case_number", "field"),
    [
        (None, "C-1", "purpose"),
        ("curiosity", "C-1", "purpose"),
        ("stolen_vehicle", None, "case_number"),
        ("stolen_vehicle", "\x07", "case_number"),
    ],
)
def test_purpose_and_case_required(
    platform: Platform,
    network: Network,
    audit_mark: int,
    purpose: str | None,
    case_number: str | None,
    field: str,
) -> None:
    with pytest.raises(FieldInvalid) as caught:
        area(platform, network.city.investigator, purpose=purpose, case_number=case_number)
    assert caught.value.field == field
    assert entries_since(platform, audit_mark, "search.area") == []
    (refusal,) = entries_since(platform, audit_mark, "search.refused")
    params = orjson.loads(refusal.params)
    assert (params["kind"], refusal.outcome) == ("area", "refused")
    assert params["query"]["radius_m"] == 800


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"lat": 91}, "lat"),
        ({"lat": "north"}, "lat"),
        ({"lon": -180.5}, "lon"),
        ({"lon": "nan"}, "lon"),
        ({"lat": float("inf")}, "lat"),
        ({"lat": None}, "lat"),
        ({"radius_m": None}, "radius_m"),
        ({"radius_m": 0}, "radius_m"),
        ({"radius_m": -5}, "radius_m"),
        ({"radius_m": 50_001}, "radius_m"),
        ({"radius_m": "1e9"}, "radius_m"),
        ({"polygon": SQUARE, "lat": LAT}, "polygon"),  # and a circle too
        ({"polygon": "1,2;3,4"}, "polygon"),
        ({"polygon": "1,2;1,2;1,2;1,2"}, "polygon"),
        ({"polygon": "1,1;2,2;3,3"}, "polygon"),
        ({"polygon": "0,0;0.01,0.01;0,0.01;0.01,0"}, "polygon"),
        ({"polygon": "a,b;c,d;e,f"}, "polygon"),
        ({"polygon": "95,0;0,1;1,1"}, "polygon"),
        ({"polygon": "0,0;1,0;0,1"}, "polygon"),  # ~80 km across
        ({"polygon": ";".join(f"{i / 1e4},{(i % 2) / 1e4}" for i in range(101))}, "polygon"),
        ({"since": None}, "since"),
        ({"until": ""}, "until"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2025-06-01T11:00:00"}, "until"),
        ({"since": UNTIL, "until": SINCE}, "since"),
        ({"since": SINCE, "until": SINCE}, "since"),
        ({"since": SINCE - 32 * DAY_MS}, "until"),
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"note": "n" * 501}, "note"),
        ({"warrant": "w\n"}, "warrant"),
    ],
)
def test_malformed_areas_name_the_field_and_are_audited(
    platform: Platform, network: Network, audit_mark: int, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(FieldInvalid) as caught:
        area(platform, network.city.investigator, **fields)
    assert caught.value.field == field
    assert entries_since(platform, audit_mark, "search.area") == []
    (refusal,) = entries_since(platform, audit_mark, "search.refused")
    assert orjson.loads(refusal.params)["reason"].startswith(field + ": ")


def test_an_answer_is_audited_with_area_window_and_counts(
    platform: Platform, network: Network, audit_mark: int
) -> None:
    result = area(platform, network.city.investigator, note="stakeout near the depot", warrant="W-1")
    (entry,) = entries_since(platform, audit_mark, "search.area")
    assert entry.seq == result.audit_seq
    assert (entry.purpose, entry.case_number) == ("stolen_vehicle", "2025-000777")
    params = orjson.loads(entry.params)
    assert params["query"] == {
        "lat": LAT,
        "lon": LON,
        "radius_m": 800,
        "polygon": None,
        "since": SINCE,
        "until": UNTIL,
        "cursor": None,
        "note": "stakeout near the depot",
    }
    assert params["warrant"] == "W-1"
    assert orjson.loads(entry.counts) == {"per_owner": {"city": 5, "shared": 2}}
    assert "does not grant area searches" in params["withheld"]["plateonly"]
    assert platform.audit.verify().intact


def test_lookback_beyond_the_area_limit_is_clipped(platform: Platform, network: Network) -> None:
    """Default area lookback is 30 days: an older window is answered empty and says why."""
    result = area(platform, network.city.investigator, since=NOW_MS - 40 * DAY_MS, until=NOW_MS - 39 * DAY_MS)
    assert result.reads == []
    assert any("limited to the last 30 days" in w.rule for w in result.limited)


# -- HTTP ----------------------------------------------------------------------------------------------------
@pytest.fixture
def client(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform))


def headers(network: Network, role: str = "investigator") -> dict[str, str]:
    return {"Authorization": f"Bearer {network.city.tokens[role]}"}


HTTP_ASK = {
    "purpose": "stolen_vehicle",
    "case_number": "C-7",
    "lat": str(LAT),
    "lon": str(LON),
    "radius_m": "800",
    "since": str(SINCE),
    "until": "2025-06-01T11:00:00Z",
}


def test_http_pages_through_the_area(client: TestClient, network: Network) -> None:
    seen: list[str] = []
    params = {**HTTP_ASK, "limit": "3"}
    while True:
        response = client.get("/api/v1/search/area", params=params, headers=headers(network))
        assert response.status_code == 200, response.text
        body = response.json()
        SearchOut.model_validate(body, strict=True)
        seen.extend(r["read_id"] for r in body["reads"])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert sorted(seen) == sorted(allowed_ids(network))
    assert len(seen) == len(set(seen))
    assert body["obtained_under"] == "purpose stolen_vehicle, case C-7"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"purpose": None}, "purpose"),
        ({"case_number": None}, "case_number"),
        ({"lat": "100"}, "lat"),
        ({"radius_m": "0"}, "radius_m"),
        ({"since": "soon"}, "since"),
        ({"polygon": "1,2;3,4;5"}, "polygon"),
        ({"cursor": "nope"}, "cursor"),
    ],
)
def test_http_refusals_name_the_field_and_are_audited(
    client: TestClient, platform: Platform, network: Network, audit_mark: int, params: dict[str, str | None], field: str
) -> None:
    ask = {k: v for k, v in {**HTTP_ASK, **params}.items() if v is not None}
    response = client.get("/api/v1/search/area", params=ask, headers=headers(network))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field
    assert entries_since(platform, audit_mark, "search.refused")
    assert not entries_since(platform, audit_mark, "search.area")


@pytest.mark.parametrize("role", ["auditor", "device"])
def test_http_auditor_and_device_get_403_audited(
    client: TestClient, platform: Platform, network: Network, audit_mark: int, role: str
) -> None:
    response = client.get("/api/v1/search/area", params=HTTP_ASK, headers=headers(network, role))
    assert response.status_code == 403
    (refusal,) = entries_since(platform, audit_mark, "search.refused")
    assert orjson.loads(refusal.params)["withheld_others"] == f"role {role} may not read plate data"


def test_http_hostile_strings_never_reach_other_owners(client: TestClient, network: Network) -> None:
    for hostile in ({"lat": "37.7749 OR 1=1"}, {"polygon": "1,1;2,2') OR (1=1"}, {"cursor": "' OR owner != 0 --"}):
        response = client.get("/api/v1/search/area", params={**HTTP_ASK, **hostile}, headers=headers(network))
        assert response.status_code == 422


def test_area_query_parameters_are_the_area_search_fields() -> None:
    """The CLI forwards an AreaSearch to a running server field by field (asdict), so the two must match."""
    import dataclasses
    import inspect

    from plateledger.api.routes.search import search_area

    api = set(inspect.signature(search_area).parameters) - {"platform", "principal"}
    assert api == {f.name for f in dataclasses.fields(AreaSearch)}


# -- CLI (real processes: the CLI takes the data directory, or forwards to the server that holds it) ----------
CLI = [sys.executable, "-m", "plateledger.cli.main"]
SEED = """
import sys
import orjson
from pathlib import Path
from plateledger.core.clock import SystemClock
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from tests.support import ingest, read, seed_agency

platform = Platform.open(load_settings(data=Path(sys.argv[1])), clock=SystemClock())
kit = seed_agency(platform, "bayview", roles=("investigator", "device"))
t = int(sys.argv[2])
ingest(platform, kit, [read(f"CLI{i:03d}", camera="bayview-fixed", ts=t + i, read_id=f"r{i}") for i in range(5)]
       + [read("FAR001", camera="bayview-fixed", ts=t, lat=37.9, lon=-122.4)])
print(orjson.dumps(kit.tokens).decode())
platform.close()
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
def test_cli_area_search_direct_and_through_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    t = int(time.time() * 1000) - HOUR_MS
    repo = Path(__file__).resolve().parents[2]
    seeded = subprocess.run(
        [sys.executable, "-c", SEED, str(data), str(t)], capture_output=True, text=True, timeout=120, cwd=repo
    )
    assert seeded.returncode == 0, seeded.stderr
    token = orjson.loads(seeded.stdout)["investigator"]
    base = [
        "search", "area", "--lat", str(LAT), "--lon", str(LON), "--radius-m", "500", "--since", str(t - HOUR_MS),
        "--until", str(t + HOUR_MS), "--token", token, "--data", str(data),
    ]  # fmt: skip
    direct = cli(*base, "--purpose", "stolen_vehicle", "--case", "C-1", "--limit", "3", "--json")
    assert direct.returncode == 0, direct.stderr
    first = orjson.loads(direct.stdout)
    assert [r["read_id"] for r in first["reads"]] == ["r0", "r1", "r2"]
    assert first["next_cursor"]
    human = cli(*base, "--purpose", "stolen_vehicle", "--case", "C-1", "--limit", "3")
    assert "--cursor" in human.stdout
    refused = cli(*base, "--case", "C-1")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: purpose:")

    port = free_port()
    server = subprocess.Popen([*CLI, "serve", "--data", str(data), "--port", str(port)], stdout=subprocess.DEVNULL)
    try:
        wait_for_health(f"http://127.0.0.1:{port}")
        forwarded = cli(
            *base, "--purpose", "stolen_vehicle", "--case", "C-1", "--limit", "3", "--cursor", first["next_cursor"],
            "--json",
        )  # fmt: skip
        assert forwarded.returncode == 0, forwarded.stderr
        second = orjson.loads(forwarded.stdout)
        assert [r["read_id"] for r in second["reads"]] == ["r3", "r4"]
        assert second["next_cursor"] is None
        bad = cli(*base, "--purpose", "stolen_vehicle", "--case", "C-1", "--polygon", "1,2;3,4;5,6")
        assert bad.returncode == 2
        assert bad.stderr.startswith("error: polygon:")
    finally:
        server.terminate()
        server.wait(timeout=30)

"""Policy benchmark: what the policy gate adds to a plate search with a real national sharing graph.

Reproducible end to end on a fresh data directory::

    .venv/bin/python benchmarks/policy.py [--reads 500000] [--searches 1000] [--workdir DIR] [--keep]

The graph is the one a national ALPR network published through its agencies' transparency portals (McClatchy's
"Private Eyes" data, ``../shared/data/sharing_network``, MIT): 4,620 agencies that appear in it and 37,099
grants, each "owner shares its cameras with an external agency". Owners (224 agencies with cameras) get a camera
each and a policy (the California preset for California owners, the Illinois preset for Illinois owners, the
default elsewhere); every grant becomes an accepted agreement (all query kinds and purposes, one year). Agencies,
cameras, policies and agreements are written straight into the governance store (setting up 42,000 rows through
the audited services would only measure set-up); reads go through the product's ingest path.

Measured, through the library's search service (validation, gate, reads store, audit append), ``--searches``
exact plate searches per requester, plates drawn with Zipf popularity:

* ``own_only``: an owner with no agreements as requester (it sees its own reads; every other owner is decided
  and withheld);
* ``most_grants``: the requester with the most agreements (110: a federal agency, refused by the California
  owners' policy), and ``median_grants`` (a typical agency);
* ``gate``: the policy evaluation alone per search (snapshot check, every owner's decision, withheld lists);
* ``reload``: the first search after a policy or agreement change, which reloads the snapshot.

Prints one JSON object on stdout and a table on stderr.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from core import BENCH_BUDGET, summarise_ms
from plateledger.audit.log import Actor
from plateledger.auth.tokens import Principal
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from plateledger.policy.gate import Gate, Request
from plateledger.policy.rules import ILLINOIS_ATTESTATION, PRESETS, Policy, Preset, Terms
from plateledger.search.engine import compact
from plateledger.search.plate import PlateSearch
from plateledger.store.governance import bump_policy_generation
from plateledger.store.models import Agency, AgencyPolicy, Camera, SharingAgreement
from plateledger.vocab import Purpose, QueryKind, Role

REPO = Path(__file__).resolve().parent.parent
GRAPH = REPO.parent / "shared" / "data" / "sharing_network"
SEED = 20240426
DAY_MS = 86_400_000
STATES = frozenset(
    re.findall(
        r"[A-Z]{2}",
        "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC "
        "ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC",
    )
)
FEDERAL = re.compile(r"\b(US|U\.S\.|Federal|FBI|DEA|ATF|Homeland|HSI|CBP|Marshal|Postal Inspection|Border)\b")
STATE_LEVEL = re.compile(r"\b(State Police|Highway Patrol|State Patrol|DPS|Department of Public Safety)\b")
PRIVATE = re.compile(r"\b(Demo|Training|Flock|HOA|Mall|Inc|LLC|Security)\b")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reads", type=int, default=500_000, help="reads spread over the owners (default 500k)")
    parser.add_argument("--plates", type=int, default=5_000, help="distinct plates (default 5,000)")
    parser.add_argument("--searches", type=int, default=1_000, help="searches per requester (after 20 warm-up)")
    parser.add_argument("--graph", type=Path, default=GRAPH, help="the sharing_network directory")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()), help="parent of the temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    return parser.parse_args(argv)


@dataclass(frozen=True)
class GraphAgency:
    source_id: str
    name: str
    kind: str
    state: str


def classify(name: str) -> tuple[str, str]:
    """(agency kind, state) from a portal name such as ``Sylvania OH PD`` or ``Harris County (TX) SO``."""
    codes = [c for c in re.findall(r"\b([A-Z]{2})\b", name) if c in STATES]
    state = codes[-1] if codes else "DC"
    if FEDERAL.search(name):
        return "federal", "DC" if not codes else state
    if STATE_LEVEL.search(name):
        return "state", state
    if PRIVATE.search(name):
        return "private", state
    if re.search(r"\b(SO|Sheriff|County)\b", name):
        return "county", state
    return "municipal", state


def load_graph(directory: Path) -> tuple[dict[str, GraphAgency], list[tuple[str, str]]]:
    """Agencies that appear in the graph and the (requester, owner) grants."""
    with (directory / "agency20240426.csv").open(newline="", encoding="utf-8") as handle:
        names = {row["id"]: row["name"] for row in csv.DictReader(handle)}
    with (directory / "agency_access20240426.csv").open(newline="", encoding="utf-8") as handle:
        grants = [(row["external_agency_id"], row["src_agency_id"]) for row in csv.DictReader(handle)]
    agencies = {}
    for ident in sorted({i for pair in grants for i in pair}, key=int):
        name = names.get(ident, f"agency {ident}")
        kind, state = classify(name)
        agencies[ident] = GraphAgency(ident, name, kind, state)
    return agencies, grants


def build(platform: Platform, agencies: dict[str, GraphAgency], grants: list[tuple[str, str]]) -> dict[str, int]:
    """Write agencies, one camera per owner, owner policies and accepted agreements; return source id -> row id."""
    now = platform.clock.now_ms()
    owners = {owner for _, owner in grants}
    ids: dict[str, int] = {}
    with platform.governance.session() as session:
        for ident, spec in agencies.items():
            row = Agency(
                slug=f"a{ident}", name=spec.name[:200], kind=spec.kind, country="US", state=spec.state, created_ms=now
            )
            session.add(row)
            session.flush()
            ids[ident] = row.id
        for ident in owners:
            session.add(
                Camera(
                    agency_id=ids[ident],
                    external_id="cam-1",
                    name="cam-1",
                    mobile=False,
                    lat=38.0,
                    lon=-97.0,
                    created_ms=now,
                )
            )
        for ident, spec in agencies.items():
            # Owners in California and Illinois under their state's preset; every agency, requesters included,
            # with a query budget no run reaches (each requester runs thousands of searches).
            preset = {"CA": Preset.CALIFORNIA, "IL": Preset.ILLINOIS}.get(spec.state) if ident in owners else None
            policy = PRESETS[preset][0] if preset is not None else Policy()
            session.add(
                AgencyPolicy(
                    agency_id=ids[ident],
                    version=1,
                    body=policy.model_copy(update={"query_budget": BENCH_BUDGET}).model_dump_json(),
                    preset=preset.value if preset is not None else None,
                    created_ms=now,
                    created_by="bench",
                )
            )
        terms = Terms(
            query_kinds=frozenset(QueryKind),
            purposes=frozenset(Purpose),
            max_lookback_days=365,
            expires_ms=now + 365 * DAY_MS,
        ).model_dump_json()
        session.add_all(
            SharingAgreement(
                requester_id=ids[requester],
                owner_id=ids[owner],
                state="accepted",
                requested_terms=terms,
                granted_terms=terms,
                attestation=ILLINOIS_ATTESTATION if index % 2 else None,
                note="",
                created_ms=now,
                created_by="bench",
                decided_ms=now,
                decided_by="bench",
            )
            for index, (requester, owner) in enumerate(grants)
        )
        bump_policy_generation(session)
    return ids


def make_plates(rng: np.random.Generator, count: int) -> list[str]:
    letters = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ"))
    plates: set[str] = set()
    while len(plates) < count:
        plates.add(f"{rng.integers(1, 10)}{''.join(rng.choice(letters, 3))}{rng.integers(0, 1000):03d}")
    return sorted(plates)


def zipf_weights(count: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    ranks = np.arange(1, count + 1, dtype=np.float64)
    weights = 1.0 / (ranks + 2.7) ** 1.1
    return weights / weights.sum()


def ingest_reads(platform: Platform, owners: list[int], plates: list[str], reads: int, rng: np.random.Generator) -> int:
    now = platform.clock.now_ms()
    weights = zipf_weights(len(plates))
    owner_of = rng.integers(0, len(owners), reads)
    plate_of = rng.choice(len(plates), reads, p=weights)
    ts_of = now - rng.integers(60_000, 30 * DAY_MS, reads)
    stored = 0
    for index, owner_id in enumerate(owners):
        agency = platform.registry.agency_by_id(owner_id)
        rows = np.nonzero(owner_of == index)[0]
        lines = [orjson.dumps({"plate": plates[plate_of[i]], "ts": int(ts_of[i]), "camera": "cam-1"}) for i in rows]
        actor = Actor(username="bench-device", agency_id=owner_id, role=Role.DEVICE.value)
        stored += platform.ingest.store_lines(actor, agency, lines, channel="bench", source="bench").stored
    return stored


def principal_for(platform: Platform, agency_id: int) -> Principal:
    agency = platform.registry.agency_by_id(agency_id)
    return Principal(
        user_id=0,
        username=f"bench-investigator@{agency.slug}",
        role=Role.INVESTIGATOR,
        agency_id=agency.id,
        agency_slug=agency.slug,
        agency_name=agency.name,
        agency_kind=agency.kind,
        country=agency.country,
        state=agency.state,
    )


def summarise(samples: list[float]) -> dict[str, float]:
    """Latency figures to the microsecond: the gate's own cost is well under a millisecond."""
    return summarise_ms(samples, digits=3)


def run_searches(
    platform: Platform, who: Principal, plates: list[str], count: int, rng: np.random.Generator
) -> dict[str, Any]:
    weights = zipf_weights(len(plates))
    chosen = rng.choice(len(plates), count + 20, p=weights)
    times, gate_times, reads, owners = [], [], [], []
    for n, index in enumerate(chosen):
        ask = PlateSearch(plate=plates[index], purpose="violent_crime", case_number="BENCH-1")
        started = time.perf_counter()
        result = platform.searches.search(who, ask)
        elapsed = time.perf_counter() - started
        gate = gate_seconds(platform, who)
        if n >= 20:
            times.append(elapsed)
            gate_times.append(gate)
            reads.append(len(result.reads))
            owners.append(len({r.owner for r in result.reads}))
    last = platform.searches.search(who, PlateSearch(plate=plates[0], purpose="violent_crime", case_number="B"))
    return {
        "search": summarise(times),
        "gate": summarise(gate_times),
        "reads_per_search_mean": round(statistics.fmean(reads), 1),
        "owners_with_reads_per_search_mean": round(statistics.fmean(owners), 2),
        "owners_permitted": len(last.owner_names) - len(last.withheld),
        "withheld_owners": len(last.withheld),
    }


def gate_seconds(platform: Platform, who: Principal) -> float:
    """The policy evaluation of one search on its own: snapshot check, decisions, withheld and audit summaries."""
    started = time.perf_counter()
    book = platform.books.current()
    request = Request(
        agency_id=who.agency_id,
        agency_kind=who.agency_kind,
        country=who.country,
        state=who.state,
        role=who.role,
        purpose="violent_crime",
        case_number="BENCH-1",
        query_kind=QueryKind.PLATE,
        since_ms=None,
        now_ms=platform.clock.now_ms(),
    )
    permit = Gate().permit(request, book)
    compact(list(permit.refused))
    withheld = [(d.owner.name, d.rule) for d in permit.refused]
    permit.sql_clause()
    elapsed = time.perf_counter() - started
    assert len(withheld) == len(permit.refused)
    return elapsed


def reload_seconds(platform: Platform, who: Principal, plate: str, rounds: int = 5) -> dict[str, float]:
    """The first search after a governance change (the snapshot is reloaded), against a warm one."""
    cold, warm = [], []
    ask = PlateSearch(plate=plate, purpose="violent_crime", case_number="BENCH-2")
    for _ in range(rounds):
        with platform.governance.session() as session:
            bump_policy_generation(session)
        started = time.perf_counter()
        platform.searches.search(who, ask)
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        platform.searches.search(who, ask)
        warm.append(time.perf_counter() - started)
    return {
        "first_after_change_ms": round(statistics.median(cold) * 1000, 2),
        "next_ms": round(statistics.median(warm) * 1000, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rng = np.random.default_rng(SEED)
    workdir = Path(tempfile.mkdtemp(prefix="plateledger-policy-", dir=args.workdir))
    data = workdir / "data"
    report: dict[str, Any] = {"benchmark": "policy", "reads": args.reads, "searches": args.searches}
    try:
        agencies, grants = load_graph(args.graph)
        platform = Platform.open(load_settings(data=data))
        try:
            started = time.perf_counter()
            ids = build(platform, agencies, grants)
            report["setup_governance_s"] = round(time.perf_counter() - started, 1)
            owner_ids = sorted({ids[o] for _, o in grants})
            by_requester = Counter(ids[r] for r, _ in grants)
            report["graph"] = {
                "agencies": len(agencies),
                "grants": len(grants),
                "owners_with_cameras": len(owner_ids),
                "kinds": dict(Counter(a.kind for a in agencies.values())),
            }
            log(f"graph: {report['graph']}")
            plates = make_plates(rng, args.plates)
            started = time.perf_counter()
            report["reads_stored"] = ingest_reads(platform, owner_ids, plates, args.reads, rng)
            report["setup_reads_s"] = round(time.perf_counter() - started, 1)
            log(f"stored {report['reads_stored']:,} reads in {report['setup_reads_s']} s")
            ranked = by_requester.most_common()
            requesters = {
                "own_only": next(o for o in owner_ids if o not in by_requester),
                "median_grants": ranked[len(ranked) // 2][0],
                "most_grants": ranked[0][0],
            }
            report["requesters"] = {}
            for label, agency_id in requesters.items():
                who = principal_for(platform, agency_id)
                measured = run_searches(platform, who, plates, args.searches, rng)
                measured.update(
                    agency=who.agency_name, kind=who.agency_kind, state=who.state, agreements=by_requester[agency_id]
                )
                report["requesters"][label] = measured
                log(f"{label}: {measured}")
            who = principal_for(platform, requesters["most_grants"])
            report["reload"] = reload_seconds(platform, who, plates[0])
        finally:
            platform.close()
        base = report["requesters"]["own_only"]["search"]
        most = report["requesters"]["most_grants"]
        report["added_p99_ms"] = {
            "gate_alone_most_grants": most["gate"]["p99_ms"],
            "search_most_grants_minus_own_only": round(most["search"]["p99_ms"] - base["p99_ms"], 3),
        }
        report["target_added_p99_ms"] = 2.0
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        log(table(report))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept {workdir}")
    return 0


def table(report: dict[str, Any]) -> str:
    rows = [
        f"{'requester':<16} {'agreements':>10} {'search p50':>11} {'search p99':>11} {'gate p50':>9} {'gate p99':>9}"
    ]
    for label, r in report["requesters"].items():
        rows.append(
            f"{label:<16} {r['agreements']:>10} {r['search']['p50_ms']:>9.2f}ms {r['search']['p99_ms']:>9.2f}ms "
            f"{r['gate']['p50_ms']:>7.3f}ms {r['gate']['p99_ms']:>7.3f}ms"
        )
    rows.append(f"reload after a change: {report['reload']}")
    rows.append(f"added p99: {report['added_p99_ms']} (target <= {report['target_added_p99_ms']} ms)")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())

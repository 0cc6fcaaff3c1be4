"""Oversight rules benchmark: every rule over N generated audit entries (tests/oversight_kit.py: honest searches
with the seeded patterns), fed as a stream, the way the rules run as entries are appended.

    nice -n 19 .venv/bin/python benchmarks/oversight_rules.py [--entries 1e6] [--memory-entries 100000] [--json]
        [--state-horizon-days 365]

Measured:

* ``generate_convert``: generating the audit entries and building search records from them (``from_audit``);
* per rule: the time to feed it every record, and its ``flags()`` at the end (the whole period's flags with
  their evidence);
* ``append``: the cost of one more entry once N are in (every rule, as the :class:`Monitor` does), p50 / p99 /
  mean over the next ``--append`` entries (a day's end makes the day-judging rules do their work: the p99);
* memory: the process's peak resident set for the whole run, and per rule the state it keeps (tracemalloc over
  ``--memory-entries`` records, bytes per record; records a rule holds stay alive but are counted as the source's).

Times are CPU time of the process (``time.process_time``), so a shared, busy machine does not inflate them;
``stream_s`` is wall-clock. Prints one JSON object on stdout (``--json``) and a table on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import statistics
import sys
import time
import tracemalloc
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.oversight_kit import Generator

from plateledger.oversight.records import SearchRecord, from_audit
from plateledger.oversight.rules import RULES, Context

CHUNK = 50_000


def _count(text: str) -> int:
    return int(float(text.replace("_", "")))


def _records(generator: Generator, times: dict[str, float]) -> Any:
    entries = generator.entries()
    while True:
        start = time.process_time()
        chunk = [r for e in islice(entries, CHUNK) if (r := from_audit(e)) is not None]
        times["convert"] += time.process_time() - start
        if not chunk:
            return
        yield chunk


def _context(generator: Generator, horizon: int | None) -> Context:
    context = generator.scenario.context()
    if horizon is None:
        return context
    return dataclasses.replace(context, params=dataclasses.replace(context.params, state_horizon_days=horizon))


def run(entries: int, memory_entries: int, append: int, horizon: int | None = None) -> dict[str, Any]:
    days = 180
    # the generator makes about as many entries as asked (9,859,745 for 10M): 5% more, so the append tail is there
    generator = Generator(int((entries + append) * 1.05), days=days, track=False)
    context = _context(generator, horizon)
    rules = [cls(context) for cls in RULES if cls.unavailable(context) is None]
    times = {"convert": 0.0, **{type(r).id: 0.0 for r in rules}}
    fed = 0
    tail: list[SearchRecord] = []
    start = time.perf_counter()
    for chunk in _records(generator, times):
        if fed + len(chunk) > entries:
            tail += chunk[entries - fed :]
            chunk = chunk[: entries - fed]
        for rule in rules:
            feed = rule.feed
            t0 = time.process_time()
            for record in chunk:
                feed(record)
            times[type(rule).id] += time.process_time() - t0
        fed += len(chunk)
    stream_s = time.perf_counter() - start
    per_rule = {}
    for rule in rules:
        t0 = time.process_time()
        flags = rule.flags()
        per_rule[type(rule).id] = {
            "feed_s": round(times[type(rule).id], 3),
            "us_per_entry": round(times[type(rule).id] / fed * 1e6, 3),
            "flags_s": round(time.process_time() - t0, 3),
            "flags": len(flags),
        }
    costs = []
    for record in tail[:append]:
        t0 = time.process_time_ns()
        for rule in rules:
            rule.feed(record)
        costs.append(time.process_time_ns() - t0)
    costs.sort()
    result: dict[str, Any] = {
        "entries": fed,
        "state_horizon_days": context.params.state_horizon_days,
        "days": days,
        "users": sum(len(a.users) for a in generator.agencies),
        "agencies": len(generator.agencies),
        "stream_s": round(stream_s, 1),
        "generate_convert_us_per_entry": round(times["convert"] / max(fed, 1) * 1e6, 2),
        "rules_us_per_entry": round(sum(v["us_per_entry"] for v in per_rule.values()), 2),
        "rules": per_rule,
        "append": {
            "entries": len(costs),
            "p50_us": round(costs[len(costs) // 2] / 1000, 1) if costs else None,
            "p99_us": round(costs[int(len(costs) * 0.99)] / 1000, 1) if costs else None,
            "mean_us": round(statistics.fmean(costs) / 1000, 1) if costs else None,
            "max_us": round(costs[-1] / 1000, 1) if costs else None,
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    del rules, tail
    result["state_bytes_per_entry"] = _memory(memory_entries, horizon)
    return result


def _memory(count: int, horizon: int | None) -> dict[str, float]:
    generator = Generator(count, days=120, track=False)
    records = [r for e in generator.entries() if (r := from_audit(e)) is not None]
    context = _context(generator, horizon)
    sizes = {}
    for cls in RULES:
        tracemalloc.start()
        rule = cls(context)
        for record in records:
            rule.feed(record)
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        sizes[cls.id] = round(current / len(records), 1)
        del rule
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=_count, default=1_000_000)
    parser.add_argument("--memory-entries", type=_count, default=100_000)
    parser.add_argument("--append", type=_count, default=20_000)
    parser.add_argument("--state-horizon-days", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.entries, args.memory_entries, args.append, args.state_horizon_days)
    table = [
        f"{result['entries']:,} entries ({result['users']:,} users, {result['agencies']} agencies, "
        f"{result['days']} days): stream {result['stream_s']} s; "
        f"generate+convert {result['generate_convert_us_per_entry']} us/entry; "
        f"all rules {result['rules_us_per_entry']} us/entry; peak RSS {result['peak_rss_mb']} MB",
        f"{'rule':<30}{'us/entry':>10}{'feed s':>9}{'flags s':>9}{'flags':>8}{'state B/entry':>15}",
    ]
    for rule, row in result["rules"].items():
        state = result["state_bytes_per_entry"].get(rule, 0)
        table.append(
            f"{rule:<30}{row['us_per_entry']:>10}{row['feed_s']:>9}{row['flags_s']:>9}{row['flags']:>8}{state:>15}"
        )
    a = result["append"]
    table.append(
        f"one more entry (every rule): p50 {a['p50_us']} us, p99 {a['p99_us']} us, mean {a['mean_us']} us, "
        f"max {a['max_us']} us"
    )
    print("\n".join(table), file=sys.stderr)
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()

"""Ratios and readable tables of ``run.py``'s reports.

Every ratio is Plateledger / PostgreSQL: above 1 for a rate means Plateledger is faster, below 1 for a latency or
a size means Plateledger is faster or smaller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SEARCH_KINDS = ("exact", "wildcard", "fuzzy", "area_1h", "area_24h")


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or not theirs:
        return None
    return round(ours / theirs, 3)


def ratios(report: dict[str, Any]) -> dict[str, Any]:
    """Plateledger / PostgreSQL for ingest rate, storage and each search's p50/p99."""
    pg = report["postgres"]
    bulk = report["bulk_ingest"]["reads_per_s"]
    result: dict[str, Any] = {
        "ingest_vs_copy": _ratio(bulk, pg["load"]["copy_reads_per_s"]),
        "ingest_vs_copy_and_indexes": _ratio(bulk, pg["load"]["load_reads_per_s"]),
        "bytes_per_read": _ratio(
            report["storage"]["at_end"]["bytes_per_read_active_parts"], pg["load"]["bytes_per_read_total"]
        ),
    }
    for kind in SEARCH_KINDS:
        for figure in ("p50_ms", "p99_ms"):
            theirs = pg["search"][kind].get(figure)
            result[f"{kind}_{figure}"] = _ratio(report["search"][kind].get(figure), theirs)
            result[f"store_sql_{kind}_{figure}"] = _ratio(report["store_sql"][kind].get(figure), theirs)
    return result


def _rows(report: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    pg = report.get("postgres")
    rat = report.get("ratios", {})
    bulk, http = report["bulk_ingest"], report["http_ingest"]
    storage, alerts = report["storage"]["at_end"], report["alert_latency"]

    def fmt(value: Any) -> str:
        if value is None:
            return "-"
        return f"{value:,}" if isinstance(value, int) else str(value)

    rows = [
        (
            "bulk ingest, reads/s",
            fmt(bulk["reads_per_s"]),
            f"{fmt(pg['load']['copy_reads_per_s'])} COPY / {fmt(pg['load']['load_reads_per_s'])} +indexes"
            if pg
            else "",
            f"{fmt(rat.get('ingest_vs_copy'))} / {fmt(rat.get('ingest_vs_copy_and_indexes'))}" if pg else "",
            ">= 1,000,000",
        ),
        ("  without alert processing", fmt(bulk["reads_per_s_excluding_alerts"]), "", "", ""),
        ("HTTP ingest 1 client, reads/s", fmt(http["clients_1"]["reads_per_s"]), "", "", ">= 50,000"),
        ("HTTP ingest 4 clients, reads/s", fmt(http["clients_4"]["reads_per_s"]), "", "", ">= 50,000"),
    ]
    for kind in SEARCH_KINDS:
        ours = report["search"][kind]
        theirs = pg["search"][kind] if pg else {}
        target = "p50 <= 10, p99 <= 25" if kind == "exact" else ""
        rows.append(
            (
                f"{kind} search p50/p95/p99 ms",
                f"{fmt(ours.get('p50_ms'))}/{fmt(ours.get('p95_ms'))}/{fmt(ours.get('p99_ms'))}",
                f"{fmt(theirs.get('p50_ms'))}/{fmt(theirs.get('p95_ms'))}/{fmt(theirs.get('p99_ms'))}" if pg else "",
                f"{fmt(rat.get(f'{kind}_p50_ms'))} / {fmt(rat.get(f'{kind}_p99_ms'))}" if pg else "",
                target,
            )
        )
        sql = report["store_sql"][kind]
        rows.append(
            (
                "  store SQL alone (chDB) p50/p99",
                f"{fmt(sql.get('p50_ms'))}/{fmt(sql.get('p99_ms'))}",
                "",
                f"{fmt(rat.get(f'store_sql_{kind}_p50_ms'))} / {fmt(rat.get(f'store_sql_{kind}_p99_ms'))}"
                if pg
                else "",
                "",
            )
        )
        idle = report.get("exact_merges_idle") if kind == "exact" else None
        if idle:
            rows.append(
                (
                    "  once merges idle p50/p95/p99",
                    f"{fmt(idle.get('p50_ms'))}/{fmt(idle.get('p95_ms'))}/{fmt(idle.get('p99_ms'))}",
                    "",
                    "",
                    f"waited {fmt(idle.get('waited_s'))} s",
                )
            )
        rows.append(
            (
                "  mean reads returned",
                fmt(ours.get("mean_reads_returned")),
                fmt(theirs.get("mean_reads_returned")) if pg else "",
                "",
                "",
            )
        )
    rows += [
        (
            "alert ingest -> SSE p50/p99 ms",
            f"{fmt(alerts.get('latency_ms_p50'))}/{fmt(alerts.get('latency_ms_p99'))}",
            "",
            "",
            "p99 <= 250",
        ),
        (
            "bytes/read (incl. indexes)",
            fmt(storage["bytes_per_read_active_parts"]),
            fmt(pg["load"]["bytes_per_read_total"]) if pg else "",
            fmt(rat.get("bytes_per_read")) if pg else "",
            "<= 20",
        ),
        ("server peak RSS, MiB", fmt(report["server"].get("VmHWM")), "", "", ""),
        ("server first batch (mirror load), s", fmt(report["server"].get("first_batch_s")), "", "", ""),
    ]
    return rows


def table(report: dict[str, Any]) -> str:
    """The headline figures side by side: Plateledger, PostgreSQL, ratio, the brief's target."""
    header = ("figure", "plateledger", "postgresql", "ratio pl/pg", "target")
    rows = [header, *_rows(report)]
    width = [max(len(r[i]) for r in rows) for i in range(len(header))]
    pg = report.get("postgres")
    title = (
        f"plateledger run: {report['config']['reads']:,} reads, {report['machine']['nproc']} CPUs, "
        f"PostgreSQL {pg['version'] if pg else 'skipped'}"
    )
    lines = [title] + ["  ".join(c.ljust(width[i]) for i, c in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines + mixed_lines(report.get("mixed_load")))


def mixed_lines(mixed: dict[str, Any] | None) -> list[str]:
    """The mixed-load phase (``mixed_load.py``), when it ran."""
    if not mixed:
        return []
    lines = [
        f"mixed load: {mixed['searchers']} searchers, {mixed['ingest_clients']} ingest clients at "
        f"{mixed['ingest_rate_target']:,.0f} reads/s, {mixed['seconds']} s",
    ]
    for kind, tally in mixed["search"].items():
        lines.append(
            f"  search {kind:<9} p50/p99 ms {tally.get('p50_ms', '-')}/{tally.get('p99_ms', '-')}  "
            f"{tally['per_s']}/s  errors {tally['errors']}"
        )
    ingest, alerts, after = mixed["ingest"], mixed["alerts"], mixed.get("after_run", {})
    lines.append(
        f"  ingest ack p50/p99 ms {ingest.get('p50_ms', '-')}/{ingest.get('p99_ms', '-')}  "
        f"{mixed['ingest_reads_per_s']:,} reads/s  errors {ingest['errors']}"
    )
    lines.append(f"  alert p50/p99 ms {alerts['p50_ms']}/{alerts['p99_ms']}  missing {alerts['missing']}")
    lines.append(
        f"  reads acknowledged {after.get('reads_acknowledged', '-')}, stored {after.get('reads_stored', '-')}, "
        f"lost {after.get('lost', '-')}"
    )
    return lines


def curve_table(reports: Sequence[dict[str, Any]]) -> str:
    """Search p50/p99 (and PostgreSQL's where measured) and bytes/read at each size."""
    lines = ["cost curve: search p50/p99 ms (PostgreSQL in brackets), bytes/read"]
    head = f"{'reads':>13}  " + "  ".join(f"{k:>24}" for k in SEARCH_KINDS) + f"  {'bytes/read':>14}"
    lines.append(head)
    for report in reports:
        cells = []
        for kind in SEARCH_KINDS:
            ours = report["search"][kind]
            text = f"{ours.get('p50_ms')}/{ours.get('p99_ms')}"
            if "postgres" in report:
                theirs = report["postgres"]["search"][kind]
                text += f" ({theirs.get('p50_ms')}/{theirs.get('p99_ms')})"
            cells.append(f"{text:>24}")
        size = str(report["storage"]["at_end"]["bytes_per_read_active_parts"])
        if "postgres" in report:
            size += f" ({report['postgres']['load']['bytes_per_read_total']})"
        lines.append(f"{report['config']['reads']:>13,}  " + "  ".join(cells) + f"  {size:>14}")
    return "\n".join(lines)

"""`plateledger retention run`: delete every owner's reads past its policy's limits, audited."""

from __future__ import annotations

import typer

from plateledger.cli.common import DataOpt, JsonOpt, opened, operator, out, print_json
from plateledger.core.clock import iso_ms

retention = typer.Typer(help="Retention of reads: each owner's limits enforced.", no_args_is_help=True)


@retention.command("run")
def run(data: DataOpt = None, json: JsonOpt = False) -> None:
    """Delete each owner's reads older than its retention limit (reads linked to an alert or a case: the hit
    limit), from disk; audited as one `retention.run` entry with counts per owner. A running server does this
    itself every `retention_interval_s`."""
    with opened(data) as platform:
        report = platform.retention.run(operator())
    if json:
        print_json(report.as_json())
        return
    for owner in report.owners:
        out.print(
            f"{owner.slug:<28} deleted {owner.deleted:>10,}  held {owner.held:>8,}  remaining {owner.remaining:>10,}"
            f"  before {iso_ms(owner.cutoff_ms)} (hits {iso_ms(owner.hit_cutoff_ms)})"
        )
    out.print(f"retention run: {report.deleted:,} reads deleted (audit entry {report.audit_seq})")
    if report.outdated_parts:
        out.print(f"warning: {report.outdated_parts} superseded parts were still on disk when the run returned")

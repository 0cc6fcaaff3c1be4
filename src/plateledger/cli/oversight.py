"""`plateledger oversight`: abuse-detection rules over search records (docs/oversight.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plateledger.cli.common import JsonOpt, out, print_json
from plateledger.core.errors import FieldInvalid
from plateledger.oversight.exports import Format
from plateledger.oversight.files import analyse_file, write_report

oversight = typer.Typer(
    help="Oversight rules that flag searches for review, with their evidence.", no_args_is_help=True
)


@oversight.command("analyse")
def analyse(
    file: Annotated[Path, typer.Argument(help="The audit export to analyse (CSV)")],
    format: Annotated[str, typer.Option("--format", help="flock (network search audit) or reason-datetime")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory for report.json and report.html (created if missing)")
    ] = Path("oversight-report"),
    timezone: Annotated[
        str, typer.Option(help="Zone of times written without one (IANA name, UTC, EST, +05:00)")
    ] = "UTC",
    case_pattern: Annotated[
        str | None, typer.Option(help="The agency's case-number pattern (a regular expression matched in full)")
    ] = None,
    places: Annotated[
        Path | None, typer.Option(help="GeoJSON of sensitive places (points or polygons)", show_default=False)
    ] = None,
    terms: Annotated[
        Path | None,
        typer.Option(help="JSON of prohibited-purpose terms by category, replacing the defaults", show_default=False),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Run the oversight rules its columns allow over another vendor's audit export and write report.json and a
    self-contained report.html (flags with evidence, rule-by-rule counts, volume over time). It reads FILE only:
    no data directory, no Plateledger data, and no audit entry is written. A malformed file is refused with its
    line number (exit 2)."""
    try:
        chosen = Format(format)
    except ValueError:
        raise FieldInvalid("format", "flock or reason-datetime") from None
    report = analyse_file(file, chosen, timezone=timezone, case_pattern=case_pattern, places=places, terms=terms)
    json_path, html_path = write_report(report, out_dir)
    if json:
        print_json({"summary": report["summary"], "rules": report["rules"], "report": [str(json_path), str(html_path)]})
        return
    summary = report["summary"]
    out.print(
        f"{summary['searches']:,} searches, {summary['flags']:,} flags on {summary['searches_flagged']:,} of them"
    )
    for rule in report["rules"]:
        status = f"{rule['flags']:>6} flags" if rule["ran"] else f"  not run: {rule['why_not']}"
        out.print(f"  {rule['id']:<28}{status}")
    out.print(f"wrote {json_path} and {html_path}")

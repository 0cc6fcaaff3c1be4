"""`plateledger audit ...`: verify the hash chain and the Merkle tree, list entries, export an agency's month."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from plateledger.cli.common import DataOpt, JsonOpt, opened, operator, out, print_json, settings_for
from plateledger.cli.output import printable, shown
from plateledger.reports.audit_entries import require_audit_log
from plateledger.reports.audit_export import export_bytes

audit = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@audit.command("verify")
def verify(data: DataOpt = None, json: JsonOpt = False) -> None:
    """Check the whole chain. Exit 0 when intact; 1 naming the first bad sequence number otherwise; 7 when there
    is no audit log to read (no governance database, a dropped table)."""
    require_audit_log(settings_for(data))  # before opening, which would create an empty (verifying) log
    with opened(data) as platform:
        result = platform.audit_entries.verify(operator())
    if json:
        print_json(result.__dict__)
    elif result.intact:
        out.print(f"audit log intact: {result.entries} entries")
    else:
        out.print(f"audit log BROKEN at sequence {result.first_bad_seq}: {shown(result.problem or '')}")
    if not result.intact:
        raise typer.Exit(1)


@audit.command("list")
def list_entries(
    after: Annotated[int, typer.Option(help="Show entries after this sequence number")] = 0,
    limit: Annotated[int, typer.Option(help="Most entries to show (1-1000)")] = 50,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. search.plate")] = None,
    agency: Annotated[str | None, typer.Option(help="Only the entries of this agency's users (slug)")] = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """List audit entries in sequence order (the listing is itself audited). `--json` prints what
    `GET /api/v1/audit` answers: `entries` and `next_after_seq`."""
    with opened(data) as platform:
        agency_id = platform.registry.agency(agency).id if agency else None
        listed = platform.audit_entries.listing(operator(), agency_id, after_seq=after, limit=limit, action=action)
    if json:
        print_json(listed.as_json())
        return
    stored = [{**e.as_json(), "params": e.stored["params"], "counts": e.stored["counts"]} for e in listed.entries]
    for row in printable(stored):  # stored text escaped: another agency's case numbers and notes land here
        out.print(
            f"{row['seq']:>7} {row['ts']} {row['action']:<18} {row['outcome']:<8} {row['actor'] or '':<20} "
            f"{row['client'] or '-':<15} "
            f"{row['purpose'] or ''} {row['case_number'] or ''} {row['params']} {row['counts']}",
            markup=False,
        )


@audit.command("export")
def export(
    agency: Annotated[str, typer.Option(help="The agency whose users' entries to export (slug)")],
    month: Annotated[str, typer.Option(help="The calendar month (UTC), YYYY-MM")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of standard output")
    ] = None,
    data: DataOpt = None,
) -> None:
    """Export a month of an agency's audit entries with their leaves, private parts and salts (the export is
    audited), for `plateledger-verify check-export`. Entries past the audit detail retention have no private
    part or salt any more."""
    with opened(data) as platform:
        exported = platform.audit_exports.export(operator(), agency, month)
    body = export_bytes(exported)
    if out_file is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        out_file.write_bytes(body)
        out.print(f"{len(exported['entries'])} entries of {shown(agency)} in {month} written to {shown(str(out_file))}")

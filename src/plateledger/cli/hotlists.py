"""`plateledger hotlist ...`: your agency's hot lists, their entries, and imports of hot-list files.

Each command authenticates with your token (admin or investigator) and runs on the data directory, or, while a
server holds it, sends the same request to that server (same checks, same audit log).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from plateledger.cli.common import DataOpt, JsonOpt, TokenOpt, call, err, out, print_json
from plateledger.cli.output import printable
from plateledger.core.errors import FieldInvalid, ImportRefused
from plateledger.hotlists.importer import ImportRequest, add_entries, remove_entries

hotlist = typer.Typer(help="Hot lists of your agency: lists, entries, imports of hot-list files.", no_args_is_help=True)

ListArg = Annotated[int, typer.Argument(help="Hot-list number")]
LineOpt = Annotated[str | None, typer.Option(help="For lines that carry none")]


def _show_list(view: dict[str, Any]) -> None:
    view = printable(view)
    covert = " covert" if view["covert"] else ""
    out.print(
        f"#{view['id']} {view['name']}: {view['default_purpose']}, {view['alert_level']} alerts, "
        f"{view['visibility']}{covert}; {view['active_entries']} active entries"
    )


def _show_entry(entry: dict[str, Any]) -> None:
    entry = printable(entry)
    region = f" {entry['region']}" if entry["region"] else ""
    removed = f" (removed {entry['removed']})" if entry.get("removed") else ""
    out.print(
        f"{entry['plate']}{region}: {entry['purpose']}, {entry['reference']}, until {entry['expires']}"
        f" - {entry['reason']}{removed}"
    )


def _changed(answer: dict[str, Any], json: bool) -> None:
    if json:
        print_json(answer)
    else:
        out.print(f"added {answer['added']}, removed {answer['removed']}")


@hotlist.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Name, unique in your agency")],
    token: TokenOpt,
    purpose: Annotated[str, typer.Option(help="Default purpose of its entries (closed taxonomy)")],
    alert_level: Annotated[str, typer.Option(help="low, medium or high")] = "medium",
    visibility: Annotated[str, typer.Option(help="private or shared")] = "private",
    covert: Annotated[bool, typer.Option(help="Visible only to you and the named viewers")] = False,
    viewers: Annotated[str | None, typer.Option(help="Comma-separated usernames (covert lists)")] = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Create a hot list (audited)."""
    names = [v.strip() for v in (viewers or "").split(",") if v.strip()]
    body = {
        "name": name,
        "default_purpose": purpose,
        "alert_level": alert_level,
        "visibility": visibility,
        "covert": covert,
        "viewers": names,
    }
    answer = call(
        data,
        token,
        where="cli hotlist create",
        local=lambda p, who: p.hotlists.create(
            who,
            name=name,
            default_purpose=purpose,
            alert_level=alert_level,
            visibility=visibility,
            covert=covert,
            viewers=names,
        ).as_json(),
        method="POST",
        path="/api/v1/hotlists",
        body=body,
    )
    print_json(answer) if json else _show_list(answer)


@hotlist.command("list")
def listing(token: TokenOpt, data: DataOpt = None, json: JsonOpt = False) -> None:
    """Your agency's hot lists that you may see."""
    answer = call(
        data,
        token,
        where="cli hotlist list",
        local=lambda p, who: [v.as_json() for v in p.hotlists.listing(who)],
        method="GET",
        path="/api/v1/hotlists",
    )
    if json:
        print_json(answer)
        return
    for view in answer:
        _show_list(view)
    if not answer:
        out.print("no hot lists")


@hotlist.command("show")
def show(
    list_id: ListArg,
    token: TokenOpt,
    entries: Annotated[bool, typer.Option("--entries", help="Also list its live entries")] = False,
    include_removed: Annotated[bool, typer.Option(help="With --entries: removed ones too")] = False,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """One hot list, and with --entries its entries."""
    view = call(
        data,
        token,
        where="cli hotlist show",
        local=lambda p, who: p.hotlists.get(who, list_id).as_json(),
        method="GET",
        path=f"/api/v1/hotlists/{list_id}",
    )
    rows: list[dict[str, Any]] = []
    if entries or include_removed:
        rows = call(
            data,
            token,
            where="cli hotlist show",
            local=lambda p, who: p.hotlists.entries(who, list_id, include_removed=include_removed),
            method="GET",
            path=f"/api/v1/hotlists/{list_id}/entries",
            params={"include_removed": include_removed},
        )
    if json:
        print_json({**view, "entries": rows} if entries or include_removed else view)
        return
    _show_list(view)
    for row in rows:
        _show_entry(row)


@hotlist.command("add")
def add(
    list_id: ListArg,
    plate: Annotated[str, typer.Argument(help="Plate, or a pattern: * any run, ? one character")],
    token: TokenOpt,
    reference: Annotated[str, typer.Option(help="Case number or source record id")],
    reason: Annotated[str, typer.Option(help="Why the plate is on the list")],
    expires: Annotated[str, typer.Option(help="Last day (ISO date, UTC) or an ISO time with a zone")],
    purpose: Annotated[str | None, typer.Option(help="Default: the list's purpose")] = None,
    region: Annotated[str | None, typer.Option(help="ISO 3166-2 like US-CA")] = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add one entry (audited)."""
    entry = {
        "plate": plate,
        "region": region,
        "purpose": purpose,
        "reference": reference,
        "reason": reason,
        "expires": expires,
    }
    answer = call(
        data,
        token,
        where="cli hotlist add",
        local=lambda p, who: add_entries(p.hotlists, who, list_id, [entry]),
        method="POST",
        path=f"/api/v1/hotlists/{list_id}/entries",
        body={"entries": [entry]},
    )
    _changed(answer, json)


@hotlist.command("remove")
def remove(
    list_id: ListArg,
    plates: Annotated[list[str], typer.Argument(help="Plates or patterns, as listed")],
    token: TokenOpt,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Remove the live entries of these plates (audited)."""
    answer = call(
        data,
        token,
        where="cli hotlist remove",
        local=lambda p, who: remove_entries(p.hotlists, who, list_id, plates),
        method="POST",
        path=f"/api/v1/hotlists/{list_id}/entries/remove",
        body={"plates": plates},
    )
    _changed(answer, json)


@hotlist.command("import")
def import_file(
    list_id: ListArg,
    file: Annotated[Path, typer.Argument(help="The hot-list file")],
    token: TokenOpt,
    format: Annotated[str, typer.Option("--format", help="csv, ncic, ca-doj or genetec")],
    mode: Annotated[str, typer.Option(help="complete (replaces the list) or incremental")] = "incremental",
    skip_invalid: Annotated[
        bool, typer.Option(help="Apply the valid lines only (default: any invalid line refuses the whole file)")
    ] = False,
    purpose: LineOpt = None,
    reference: LineOpt = None,
    reason: LineOpt = None,
    expires: Annotated[str | None, typer.Option(help="Expiry of lines that carry none (ISO date or time)")] = None,
    expiry_days: Annotated[
        int | None, typer.Option(help="Days until lines without an expiry expire [setting hotlist_import_expiry_days]")
    ] = None,
    country: Annotated[str, typer.Option(help="Country of two-letter states")] = "US",
    delimiter: Annotated[str, typer.Option(help="genetec: ; , : or tab")] = ";",
    columns: Annotated[str | None, typer.Option(help="genetec: PlateNumber=3,PlateState=2,...")] = None,
    kind: Annotated[str | None, typer.Option(help="ca-doj: svs, sfr or slr (default: from the file name)")] = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Import a hot-list file: every line validated, then applied in one transaction, or refused whole."""
    try:
        with file.open("rb") as handle:
            content = handle.read(1024 * 1024 * 1024 + 1)
    except OSError as exc:
        raise FieldInvalid("file", f"cannot read {file}: {exc.strerror}") from None
    ask = ImportRequest(
        format=format,
        mode=mode,
        skip_invalid=skip_invalid,
        source="cli",
        purpose=purpose,
        reference=reference,
        reason=reason,
        expires=expires,
        expiry_days=expiry_days,
        country=country,
        delimiter=delimiter,
        columns=columns,
        kind=kind,
        filename=file.name,
    )
    params = {k: v for k, v in asdict(ask).items() if k != "source"}

    try:
        answer = call(
            data,
            token,
            where="cli hotlist import",
            local=lambda p, who: p.imports.run(who, list_id, content, ask),
            method="POST",
            path=f"/api/v1/hotlists/{list_id}/import",
            params=params,
            content=content,
        )
    except ImportRefused as refused:
        for error in printable(refused.report.get("errors", [])):
            err.print(f"line {error['line']}: {error['field']}: {error['reason']}")
        raise
    if json:
        print_json(answer)
        return
    out.print(
        f"{answer['mode']} import of {answer['records']} records: added {answer['added']}, "
        f"removed {answer['removed']}, rejected {answer['rejected']}, skipped {len(answer['skipped'])}"
    )
    for error in printable(answer["errors"]):
        out.print(f"  rejected line {error['line']}: {error['field']}: {error['reason']}")

"""`plateledger access-log` (an owner's searches, for its admins and auditors) and `plateledger report transparency`
(public). Both go to the running server when it holds the data directory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from plateledger.cli.common import DataOpt, JsonOpt, call, opened, out, print_json, server_request, server_url
from plateledger.cli.output import printable
from plateledger.core.errors import DataDirectoryBusy, FieldInvalid
from plateledger.reports.access_log import page_json
from plateledger.reports.transparency import DEFAULT_DAYS, render_html
from plateledger.search.engine import parse_time

report = typer.Typer(help="Reports generated from the audit log and the stores.", no_args_is_help=True)


def access_log(
    token: Annotated[
        str, typer.Option(help="Your API token (an admin or auditor of the owner)", envvar="PLATELEDGER_TOKEN")
    ],
    agency: Annotated[str | None, typer.Option(help="Owner agency slug [default: the token's agency]")] = None,
    after: Annotated[int, typer.Option(help="Entries after this audit sequence number")] = 0,
    limit: Annotated[int, typer.Option(help="Most entries to show (1-1000)")] = 100,
    since: Annotated[str | None, typer.Option(help="ISO 8601 with zone (inclusive)")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 with zone (exclusive)")] = None,
    outcome: Annotated[str | None, typer.Option(help="permitted or withheld")] = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Every search that touched the agency's reads or was refused them, oldest first (the view is audited)."""
    path = f"/api/v1/agencies/{agency}/access-log" if agency else "/api/v1/access-log"
    body = call(
        data,
        token,
        where="cli access-log",
        local=lambda platform, principal: page_json(
            platform.access_log.view(
                principal,
                agency or principal.agency_slug,
                after_seq=after,
                limit=limit,
                since_ms=parse_time(since, "since"),
                until_ms=parse_time(until, "until"),
                outcome=outcome,
            )
        ),
        method="GET",
        path=path,
        params={"after_seq": after, "limit": limit, "since": since, "until": until, "outcome": outcome},
    )
    if json:
        print_json(body)
        return
    for entry in printable(body["entries"]):
        out.print(_line(entry))
    if body["next_after_seq"] is not None:
        out.print(f"(more: --after {body['next_after_seq']})")


def _line(entry: dict[str, Any]) -> str:
    query = " ".join(f"{k}={v}" for k, v in sorted(entry["query"].items()) if v not in (None, False, ""))
    if entry["outcome"] == "permitted":
        result = f"{entry['rows']} reads" + (f" (limited: {entry['limited']})" if entry["limited"] else "")
    else:
        result = f"withheld: {entry['rule']}"
    return (
        f"{entry['seq']:>7} {entry['ts']} {entry['requester'] or '-'}/{entry['user'] or '-'} "
        f"{entry['purpose'] or '-'} case {entry['case_number'] or '-'} {entry['kind']} {query}  {result}"
    )


@report.command("transparency")
def transparency(
    agency: Annotated[str, typer.Argument(help="Agency slug")],
    format: Annotated[str, typer.Option("--format", help="html|json")] = "html",
    days: Annotated[
        int | None, typer.Option(help=f"Length of the reporting period in days, up to now (default {DEFAULT_DAYS})")
    ] = None,
    month: Annotated[
        str | None,
        typer.Option(help="A calendar month YYYY-MM (UTC) instead of --days: what plateledger-verify report recounts"),
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write to this file instead of standard output")] = None,
    data: DataOpt = None,
) -> None:
    """An agency's public transparency report (no token: it is public), generated from the policy in force, the
    stores and the audit log; aggregate counts only."""
    if format not in ("html", "json"):
        raise FieldInvalid("format", "html or json")
    try:
        with opened(data) as platform:
            built = platform.transparency.build(agency, days=days, month=month)
        text = render_html(built) if format == "html" else _json_text(built)
    except DataDirectoryBusy:
        params = {"days": days, "month": month, "format": format}
        response = server_request(server_url(data), "GET", f"/transparency/{agency}", params=params)
        text = response.text if format == "html" else _json_text(response.json())
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n"

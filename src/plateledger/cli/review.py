"""`plateledger oversight run|queue|show|decide|places` and `plateledger cases ...`: the oversight rules on this
instance's audit log, the review queue, the sensitive places and the case register (docs/oversight.md). Each
command calls one library operation (locally, or through the server holding the data directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from plateledger.cli.common import DataOpt, JsonOpt, call, opened, operator, out, print_json
from plateledger.cli.oversight import oversight
from plateledger.core.errors import FieldInvalid
from plateledger.review.register import make_case, parse_day

AgencyOpt = Annotated[str, typer.Option("--agency", help="Your agency's slug")]
TokenOpt = Annotated[str, typer.Option(help="Your API token (an auditor or admin)", envvar="PLATELEDGER_TOKEN")]
cases = typer.Typer(help="The agency's case register and its users' units.", no_args_is_help=True)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FieldInvalid("file", f"cannot be read: {exc.strerror or exc}") from None


@oversight.command("run")
def run(
    agency: AgencyOpt,
    since: Annotated[str, typer.Option(help="Start of the period: YYYY-MM-DD (UTC) or ISO 8601 with a zone")],
    until: Annotated[str, typer.Option(help="End of the period (exclusive)")],
    token: Annotated[
        str | None, typer.Option(help="An auditor's or admin's API token (none: as the operator at the console)")
    ] = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run every oversight rule over the agency's users' searches of a period; the flags go to the review queue
    (audited as oversight.run). Without --token, as the operator at the console (the data directory must be free)."""
    since_ms, until_ms = parse_day(since, "since"), parse_day(until, "until")
    if token is None:
        with opened(data) as platform:
            answer = platform.review.run(operator(), agency, since_ms=since_ms, until_ms=until_ms)
    else:
        answer = call(
            data,
            token,
            where="cli oversight run",
            local=lambda p, who: p.review.run(who, agency, since_ms=since_ms, until_ms=until_ms),
            method="POST",
            path=f"/api/v1/agencies/{agency}/oversight/run",
            body={"since": since, "until": until},
        )
    if json:
        print_json(answer)
        return
    out.print(f"{answer['searches']:,} searches read; {answer['raised']} flags raised, {answer['updated']} updated")


@oversight.command("queue")
def queue(
    agency: AgencyOpt,
    token: TokenOpt,
    status: Annotated[str, typer.Option(help="queue (open and escalated), open, explained, dismissed, ...")] = "queue",
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """The review queue: flags grouped by user and rule, largest group first."""
    answer = call(
        data,
        token,
        where="cli oversight queue",
        local=lambda p, who: p.review.queue(who, agency, status=status),
        method="GET",
        path=f"/api/v1/agencies/{agency}/oversight/flags",
        params={"status": status},
    )
    if json:
        print_json(answer)
        return
    out.print(" ".join(f"{name} {count}" for name, count in answer["counts"].items()))
    glass = answer.get("break_glass") or []
    if glass:
        out.print(
            f"break-glass searches awaiting a supervisor's review ({len(glass)}, "
            f"{sum(1 for g in glass if g['overdue'])} overdue)",
            style="bold",
        )
    for item in glass:
        mark = " OVERDUE" if item["overdue"] else ""
        out.print(
            f"  #{item['id']}{mark} {item['kind']} search by {item['requester']}/{item['requested_by']} at "
            f"{item['created']}, review due {item['review_due']}: {item['note'] or '(no reason)'}"
        )
        query = orjson.dumps(item["query"]).decode()
        out.print(f"    query {query}  purpose {item['purpose']}  case {item['case_number']}")
    for group in answer["groups"]:
        out.print(f"{group['actor']}  {group['rule']}  ({len(group['flags'])})", style="bold")
        for flag in group["flags"]:
            out.print(f"  #{flag['id']} [{flag['status']}] {flag['explanation']}")


@oversight.command("show")
def show(
    flag_id: Annotated[int, typer.Argument(help="The flag's id")],
    agency: AgencyOpt,
    token: TokenOpt,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """One flag with its evidence: the audit entries, the numbers, the threshold (audited)."""
    answer = call(
        data,
        token,
        where="cli oversight show",
        local=lambda p, who: p.review.flag(who, agency, flag_id),
        method="GET",
        path=f"/api/v1/agencies/{agency}/oversight/flags/{flag_id}",
    )
    if json:
        print_json(answer)
        return
    _print_flag(answer)


def _print_flag(flag: dict[str, Any]) -> None:
    out.print(f"#{flag['id']} {flag['rule']} [{flag['status']}] {flag['actor']}", style="bold")
    out.print(flag["explanation"])
    if flag.get("explained_by"):
        out.print(f"explained: {flag['explained_by']}")
    out.print(f"numbers: {orjson.dumps(flag['numbers']).decode()}")
    out.print(f"threshold: {orjson.dumps(flag['threshold']).decode()}")
    for entry in flag.get("entries", []):
        query = entry["query"]
        what = query.get("plate") or f"area {query.get('lat')},{query.get('lon')}"
        out.print(
            f"  #{entry['seq']} {entry['ts']} {entry['action']} {what} {entry['purpose']} {entry['case_number']} "
            f"{query.get('note') or ''}"
        )
    if flag.get("note"):
        out.print(f"note ({flag['decided_by']}): {flag['note']}")


@oversight.command("decide")
def decide(
    flag_id: Annotated[int, typer.Argument(help="The flag's id")],
    decision: Annotated[str, typer.Argument(help="dismissed, confirmed or escalated")],
    agency: AgencyOpt,
    token: TokenOpt,
    note: Annotated[str, typer.Option(help="Why (required)")],
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Dismiss, confirm or escalate a flag, with a note (audited)."""
    answer = call(
        data,
        token,
        where="cli oversight decide",
        local=lambda p, who: p.review.decide(who, agency, flag_id, decision, note),
        method="POST",
        path=f"/api/v1/agencies/{agency}/oversight/flags/{flag_id}/decision",
        body={"decision": decision, "note": note},
    )
    if json:
        print_json(answer)
        return
    out.print(f"#{answer['id']} {answer['rule']}: {answer['status']}")


@oversight.command("places")
def places(
    agency: AgencyOpt,
    token: TokenOpt,
    file: Annotated[Path | None, typer.Option(help="GeoJSON of sensitive places, replacing the agency's")] = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show the agency's sensitive places (GeoJSON), or replace them with --file (admins; audited)."""
    if file is None:
        answer = call(
            data,
            token,
            where="cli oversight places",
            local=lambda p, who: p.places.get(who, agency),
            method="GET",
            path=f"/api/v1/agencies/{agency}/oversight/places",
        )
        print_json(answer)
        return
    body = _read(file)
    answer = call(
        data,
        token,
        where="cli oversight places",
        local=lambda p, who: p.places.set(who, agency, body),
        method="PUT",
        path=f"/api/v1/agencies/{agency}/oversight/places",
        content=body,
    )
    if json:
        print_json(answer)
        return
    out.print(f"{answer['places']} sensitive places: " + ", ".join(f"{k} {n}" for k, n in answer["kinds"].items()))


@cases.command("list")
def list_cases(agency: AgencyOpt, token: TokenOpt, data: DataOpt = None, json: JsonOpt = False) -> None:
    """The agency's case register, newest opened first."""
    answer = call(
        data,
        token,
        where="cli cases list",
        local=lambda p, who: [c.as_json() for c in p.cases.listing(who, agency)],
        method="GET",
        path=f"/api/v1/agencies/{agency}/cases",
    )
    if json:
        print_json(answer)
        return
    for case in answer:
        closed = case["closed"][:10] if case["closed"] else "open"
        out.print(f"{case['case_number']:<20} {case['opened'][:10]}  {closed:<10} {case['unit'] or ''}")


@cases.command("add")
def add_case(
    number: Annotated[str, typer.Argument(help="The case number")],
    agency: AgencyOpt,
    token: TokenOpt,
    opened_on: Annotated[str, typer.Option("--opened", help="YYYY-MM-DD or ISO 8601 with a zone")],
    closed: Annotated[str | None, typer.Option(help="When it was closed")] = None,
    unit: Annotated[str | None, typer.Option(help="The unit it is assigned to")] = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add a case to the register, or replace the one with that number (admins; audited)."""
    case = make_case(number, opened_on, closed, unit)
    answer = call(
        data,
        token,
        where="cli cases add",
        local=lambda p, who: p.cases.put(who, agency, [case]),
        method="POST",
        path=f"/api/v1/agencies/{agency}/cases",
        body={"case_number": number, "opened": opened_on, "closed": closed, "unit": unit},
    )
    print_json(answer) if json else out.print(f"{answer['added']} added, {answer['updated']} updated")


@cases.command("import")
def import_cases(
    file: Annotated[Path, typer.Argument(help="CSV: case_number,opened,closed,unit")],
    agency: AgencyOpt,
    token: TokenOpt,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Import cases from a CSV file, applied whole or not at all (the first bad line is named; audited)."""
    body = _read(file)
    answer = call(
        data,
        token,
        where="cli cases import",
        local=lambda p, who: p.cases.import_csv(who, agency, body, source=file.name),
        method="POST",
        path=f"/api/v1/agencies/{agency}/cases/import",
        content=body,
    )
    print_json(answer) if json else out.print(f"{answer['added']} added, {answer['updated']} updated")


@cases.command("unit")
def set_unit(
    username: Annotated[str, typer.Argument(help="A user of your agency")],
    unit: Annotated[str, typer.Argument(help="The unit they work in (empty: none)")],
    agency: AgencyOpt,
    token: TokenOpt,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Set the unit a user works in (admins; audited)."""
    answer = call(
        data,
        token,
        where="cli cases unit",
        local=lambda p, who: p.cases.set_unit(who, agency, username, unit),
        method="PUT",
        path=f"/api/v1/agencies/{agency}/units/{username}",
        body={"unit": unit},
    )
    print_json(answer) if json else out.print(f"{answer['username']}: unit {answer['unit'] or '(none)'}")

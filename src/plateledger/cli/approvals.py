"""`plateledger approvals ...`: searches held for your agency's approval (list, approve, refuse) and break-glass
searches to review (break-glass, review). docs/approval.md.

Each command authenticates with your token and runs on the data directory, or, while a server holds it, sends
the same request to that server (same checks, same audit log).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from plateledger.cli.common import DataOpt, JsonOpt, TokenOpt, call, out, print_json
from plateledger.cli.output import printable

approvals = typer.Typer(
    help="Two-person approval: held searches to approve or refuse, break-glass searches to review.",
    no_args_is_help=True,
)
RequestArg = Annotated[int, typer.Argument(help="Approval request id", min=1)]
NoteOpt = Annotated[str, typer.Option("--note", help="Required: why approved, refused, or reviewed")]


def _line(request: dict[str, Any]) -> str:
    query = request["query"]
    if query.get("cameras"):
        where = "cameras " + ",".join(query["cameras"])
    elif request["kind"] in ("area", "vehicle"):
        where = query.get("polygon") or f"{query.get('lat')},{query.get('lon')} r {query.get('radius_m')} m"
    else:
        where = query.get("plate") or query.get("like")
    if query.get("vehicle"):
        where = " ".join(str(v) for v in query["vehicle"].values() if v) + " at " + where
    return (
        f"#{request['id']} {request['state']:<8} {request['kind']} {where} "
        f"[{query.get('since_ms')}, {query.get('until_ms')}) {request['purpose']} case {request['case_number']} "
        f"by {request['requested_by']} ({request['requester']}); owners {', '.join(request['owners'])}"
    )


def _print(answer: dict[str, Any], key: str, json: bool) -> None:
    if json:
        print_json(answer)
        return
    answer = printable(answer)
    rows = answer.get(key, [answer])
    for request in rows:
        out.print(_line(request), markup=False)
        for why in sorted(set(request["reasons"].values())):
            out.print(f"    {why}", markup=False)
        if request.get("review_due"):
            late = " (overdue)" if request.get("overdue") else ""
            out.print(f"    review due {request['review_due']}{late}", markup=False)
        for decision in request["decisions"]:
            out.print(
                f"    {decision['decision']} by {decision['user']} ({decision['agency']}) at {decision['at']}: "
                f"{decision['note']}",
                markup=False,
            )
    if not rows:
        out.print("none")


@approvals.command("list")
def listing(
    token: TokenOpt,
    state: Annotated[str, typer.Option(help="pending, approved, refused, used or all")] = "pending",
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Searches held for approval by a supervisor of your agency, oldest first."""
    answer = call(
        data,
        token,
        where="cli approvals list",
        local=lambda p, who: p.approvals.requests_json(who, state),
        method="GET",
        path="/api/v1/approvals",
        params={"state": state},
    )
    _print(answer, "requests", json)


def _decide(token: str, request_id: int, note: str, data: Any, json: bool, *, approve: bool) -> None:
    verb = "approve" if approve else "refuse"
    answer = call(
        data,
        token,
        where=f"cli approvals {verb}",
        local=lambda p, who: p.approvals.decide(who, request_id, approve=approve, note=note).json(),
        method="POST",
        path=f"/api/v1/approvals/{request_id}/{verb}",
        body={"note": note},
    )
    _print(answer, "", json)


@approvals.command("approve")
def approve(
    token: TokenOpt, request_id: RequestArg, note: NoteOpt, data: DataOpt = None, json: JsonOpt = False
) -> None:
    """Approve a held search (a supervisor of an agency it names, not the requester): the requester may run the
    identical search once, with --approval ID, before approval_ttl_s passes."""
    _decide(token, request_id, note, data, json, approve=True)


@approvals.command("refuse")
def refuse(token: TokenOpt, request_id: RequestArg, note: NoteOpt, data: DataOpt = None, json: JsonOpt = False) -> None:
    """Refuse a held search: it can no longer run."""
    _decide(token, request_id, note, data, json, approve=False)


@approvals.command("break-glass")
def break_glass(
    token: TokenOpt,
    state: Annotated[str, typer.Option(help="open, reviewed or all")] = "open",
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Break-glass searches your agency's supervisors must review within 24 hours, oldest first."""
    answer = call(
        data,
        token,
        where="cli approvals break-glass",
        local=lambda p, who: p.approvals.break_glass_json(who, state),
        method="GET",
        path="/api/v1/break-glass",
        params={"state": state},
    )
    _print(answer, "items", json)


@approvals.command("review")
def review(token: TokenOpt, request_id: RequestArg, note: NoteOpt, data: DataOpt = None, json: JsonOpt = False) -> None:
    """Review a break-glass search (a supervisor of an agency it names, not the one who ran it)."""
    answer = call(
        data,
        token,
        where="cli approvals review",
        local=lambda p, who: p.approvals.review(who, request_id, note=note).json(),
        method="POST",
        path=f"/api/v1/break-glass/{request_id}/review",
        body={"note": note},
    )
    _print(answer, "", json)

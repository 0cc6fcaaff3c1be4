"""`plateledger alerts ...`: your agency's hot-list alerts (list, show, confirm, dismiss).

Each command authenticates with your token and runs on the data directory, or, while a server holds it, sends
the same request to that server (same checks, same audit log). A match alone is not grounds for action: every
answer repeats the verify-first rule.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from plateledger.alerts.service import VERIFY_FIRST, vehicle_line
from plateledger.cli.common import DataOpt, JsonOpt, TokenOpt, call, err, out, print_json
from plateledger.cli.output import printable

alerts = typer.Typer(help="Hot-list alerts: list, view, confirm or dismiss (verify first).", no_args_is_help=True)
AlertArg = Annotated[int, typer.Argument(help="Alert id", min=1)]
DecisionNoteOpt = Annotated[str, typer.Option("--note", help="Required: what was verified, or why it is dismissed")]


def _line(alert: dict[str, Any]) -> str:
    read, entry = alert["read"], alert["entry"]
    return (
        f"#{alert['id']} {alert['state']:<9} {read['plate']:<10} {read['ts']} {read['camera']} ({read['owner']})  "
        f"list {alert['list']['name']!r}, {entry['purpose']} {entry['reference']}, match {alert['match']}"
    )


def _print(answer: dict[str, Any], json: bool) -> None:
    if json:
        print_json(answer)
        return
    answer = printable(answer)
    out.print(_line(answer))
    vehicle = vehicle_line(answer["read"].get("vehicle"))
    if vehicle:
        out.print(f"    vehicle: {vehicle}", markup=False)
    if answer["note"]:
        decided = f"{answer['state']} by {answer['decided_by']} at {answer['decided']}"
        out.print(f"    {decided}: {answer['note']}", markup=False)
    err.print(f"note: {answer['verify_first']}", markup=False)


@alerts.command("list")
def listing(
    token: TokenOpt,
    state: Annotated[str | None, typer.Option(help="new, confirmed or dismissed")] = None,
    after_id: Annotated[int, typer.Option("--after-id", help="Only alerts with a greater id", min=0)] = 0,
    limit: Annotated[int, typer.Option(help="Most alerts to list (1-1000)")] = 100,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Your agency's alerts that you may see, oldest first."""
    answer = call(
        data,
        token,
        where="cli alerts list",
        local=lambda p, who: {
            "verify_first": VERIFY_FIRST,
            "alerts": p.alerts.listing(who, state=state, after_id=after_id, limit=limit),
        },
        method="GET",
        path="/api/v1/alerts",
        params={"state": state, "after_id": after_id, "limit": limit},
    )
    if json:
        print_json(answer)
        return
    for alert in printable(answer["alerts"]):
        out.print(_line(alert))
    err.print(f"{len(answer['alerts'])} alert(s). note: {answer['verify_first']}", markup=False)


@alerts.command("show")
def show(alert_id: AlertArg, token: TokenOpt, data: DataOpt = None, json: JsonOpt = False) -> None:
    """One alert (the viewing is audited)."""
    answer = call(
        data,
        token,
        where="cli alerts show",
        local=lambda p, who: p.alerts.view(who, alert_id),
        method="GET",
        path=f"/api/v1/alerts/{alert_id}",
    )
    _print(answer, json)


def _decide(alert_id: int, token: str, note: str, state: str, verb: str, data: Any, json: bool) -> None:
    answer = call(
        data,
        token,
        where=f"cli alerts {verb}",
        local=lambda p, who: p.alerts.decide(who, alert_id, state, note),
        method="POST",
        path=f"/api/v1/alerts/{alert_id}/{verb}",
        body={"note": note},
    )
    _print(answer, json)


@alerts.command("confirm")
def confirm(
    alert_id: AlertArg, token: TokenOpt, note: DecisionNoteOpt, data: DataOpt = None, json: JsonOpt = False
) -> None:
    """Confirm a new alert: you verified the plate characters and state against the image. Audited."""
    _decide(alert_id, token, note, "confirmed", "confirm", data, json)


@alerts.command("dismiss")
def dismiss(
    alert_id: AlertArg, token: TokenOpt, note: DecisionNoteOpt, data: DataOpt = None, json: JsonOpt = False
) -> None:
    """Dismiss a new alert (a misread, or no longer relevant), saying why. Audited."""
    _decide(alert_id, token, note, "dismissed", "dismiss", data, json)

"""`plateledger notify ...`: your alert notifications by e-mail or push (subscribe, list, remove, deliveries).

Each command authenticates with your token and runs on the data directory, or, while a server holds it, sends
the same request to that server (same checks, same audit log). ``plateledger serve`` does the sending.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from plateledger.cli.common import DataOpt, JsonOpt, TokenOpt, call, err, out, print_json
from plateledger.cli.output import printable

notify = typer.Typer(help="Alert notifications by e-mail or push (Apprise).", no_args_is_help=True)
SubscriptionArg = Annotated[int, typer.Argument(help="Subscription id", min=1)]
PATH = "/api/v1/notifications/subscriptions"


def _line(sub: dict[str, Any]) -> str:
    follows = f"list {sub['list']['name'] or '#' + str(sub['list']['id'])!r}" if sub["list"] else sub["purpose"]
    return f"#{sub['id']} {sub['user']:<20} {sub['channel']:<5} {follows}  -> {sub['target']}"


@notify.command("subscribe")
def subscribe(
    token: TokenOpt,
    email: Annotated[str | None, typer.Option("--email", help="Deliver by e-mail to this address")] = None,
    push: Annotated[
        list[str] | None, typer.Option("--push", help="Deliver by push to this Apprise URL (repeatable)")
    ] = None,
    list_id: Annotated[int | None, typer.Option("--list", help="The hot list to follow", min=1)] = None,
    purpose: Annotated[str | None, typer.Option(help="Follow every hot list of this purpose")] = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Subscribe yourself to the alerts of a hot list (--list) or a purpose (--purpose), by --email or --push.
    Audited; Apprise URLs are never shown back in full."""
    if (email is None) == (not push):
        err.print("give --email ADDRESS or --push URL (not both)")
        raise typer.Exit(2)
    channel = "email" if email is not None else "push"
    urls = list(push) if push else None
    answer = call(
        data,
        token,
        where="cli notify subscribe",
        local=lambda p, who: p.notify.subscribe(
            who, channel, list_id=list_id, purpose=purpose, address=email, push_urls=urls
        ),
        method="POST",
        path=PATH,
        body={"channel": channel, "list_id": list_id, "purpose": purpose, "address": email, "push_urls": urls},
    )
    if json:
        print_json(answer)
        return
    out.print(_line(printable(answer)), markup=False)


@notify.command("list")
def listing(
    token: TokenOpt,
    agency: Annotated[bool, typer.Option("--agency", help="Every user's of your agency (admin)")] = False,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Your subscriptions (--agency: all of your agency's, for its admin)."""
    answer = call(
        data,
        token,
        where="cli notify list",
        local=lambda p, who: p.notify.listing(who, agency_wide=agency),
        method="GET",
        path=PATH,
        params={"agency": agency},
    )
    if json:
        print_json(answer)
        return
    for sub in printable(answer):
        out.print(_line(sub), markup=False)
    err.print(f"{len(answer)} subscription(s)")


@notify.command("remove")
def remove(subscription_id: SubscriptionArg, token: TokenOpt, data: DataOpt = None) -> None:
    """Remove a subscription (yours, or as admin one of your agency's users') and its delivery log. Audited."""
    call(
        data,
        token,
        where="cli notify remove",
        local=lambda p, who: p.notify.unsubscribe(who, subscription_id),
        method="DELETE",
        path=f"{PATH}/{subscription_id}",
    )
    err.print(f"subscription #{subscription_id} removed")


@notify.command("deliveries")
def deliveries(
    subscription_id: SubscriptionArg,
    token: TokenOpt,
    limit: Annotated[int, typer.Option(help="Most attempts to list (1-1000)")] = 100,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Every attempt to deliver an alert to the subscription, newest first."""
    answer = call(
        data,
        token,
        where="cli notify deliveries",
        local=lambda p, who: p.notify.deliveries(who, subscription_id, limit=limit),
        method="GET",
        path=f"{PATH}/{subscription_id}/deliveries",
        params={"limit": limit},
    )
    if json:
        print_json(answer)
        return
    for d in printable(answer):
        line = f"{d['ts']} alert #{d['alert_id']} attempt {d['attempt']} {d['status']}"
        out.print(f"{line}  {d['error']}" if d["error"] else line, markup=False)

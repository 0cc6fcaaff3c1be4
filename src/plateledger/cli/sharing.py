"""`plateledger sharing ...` and `plateledger policy ...`: agreements and owner policies, as your agency's admin.

Each command authenticates with your token and runs on the data directory, or, while a server holds it, sends
the same request to that server (same checks, same audit log).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from plateledger.cli.common import DataOpt, JsonOpt, TokenOpt, call, out, print_json
from plateledger.cli.output import printable
from plateledger.core.errors import FieldInvalid
from plateledger.platform import Platform
from plateledger.policy.rules import PRESETS, describe
from plateledger.sharing.service import make_terms

sharing = typer.Typer(
    help="Sharing agreements between agencies (requests, acceptance, revocation).", no_args_is_help=True
)
policy = typer.Typer(help="Your agency's policy on its reads (versioned; presets to start from).", no_args_is_help=True)

KindsOpt = Annotated[str | None, typer.Option("--kinds", help="Comma-separated query kinds: plate,area,alert")]
PurposesOpt = Annotated[str | None, typer.Option("--purposes", help="Comma-separated purposes")]
LookbackOpt = Annotated[int | None, typer.Option("--lookback-days", help="Maximum lookback in days")]
ExpiresOpt = Annotated[str | None, typer.Option("--expires", help="Last day in force, e.g. 2027-06-30")]
StepNoteOpt = Annotated[str | None, typer.Option("--note", help="Note recorded with this step")]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _terms_body(kinds: str | None, purposes: str | None, lookback: int | None, expires: str | None) -> dict[str, Any]:
    if kinds is None or purposes is None or lookback is None or expires is None:
        raise FieldInvalid("terms", "give --kinds, --purposes, --lookback-days and --expires")
    body: dict[str, Any] = {
        "query_kinds": _split(kinds),
        "purposes": _split(purposes),
        "max_lookback_days": lookback,
        "expires": expires,
    }
    make_terms(**body)  # validate here too, so a local run and a forwarded one refuse alike
    return body


def _show(view: dict[str, Any]) -> None:
    view = printable(view)
    terms = view["granted_terms"] or view["requested_terms"]
    label = "granted" if view["granted_terms"] else "requested"
    out.print(
        f"#{view['id']} {view['requester']} -> {view['owner']}: {view['state']}"
        + (" (active)" if view["active"] else "")
        + (" (expired)" if view["expired"] else "")
    )
    out.print(
        f"    {label}: {', '.join(terms['query_kinds'])} for {', '.join(terms['purposes'])}; "
        f"lookback {terms['max_lookback_days']} days; until {terms['expires']}"
    )


def _print(answer: Any, json: bool) -> None:
    if json:
        print_json(answer)
        return
    for view in answer if isinstance(answer, list) else [answer]:
        _show(view)


@sharing.command("request")
def request(
    owner: Annotated[str, typer.Argument(help="Slug of the agency whose reads you ask for")],
    token: TokenOpt,
    kinds: KindsOpt = None,
    purposes: PurposesOpt = None,
    lookback_days: LookbackOpt = None,
    expires: ExpiresOpt = None,
    attest: Annotated[
        str | None, typer.Option(help="Declaration the owner's policy requires of out-of-state requesters")
    ] = None,
    note: StepNoteOpt = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Ask another agency for access to its reads on these terms."""
    terms = _terms_body(kinds, purposes, lookback_days, expires)
    body = {"owner": owner, "terms": terms, "attestation": attest, "note": note}
    answer = call(
        data,
        token,
        where="cli sharing request",
        local=lambda p, who: p.agreements.request(
            who, owner=owner, terms=make_terms(**terms), attestation=attest, note=note
        ).as_json(),
        method="POST",
        path="/api/v1/sharing/requests",
        body=body,
    )
    _print(answer, json)


@sharing.command("list")
def listing(token: TokenOpt, data: DataOpt = None, json: JsonOpt = False) -> None:
    """Your agency's agreements in both directions."""
    answer = call(
        data,
        token,
        where="cli sharing list",
        local=lambda p, who: [v.as_json() for v in p.agreements.listing(who)],
        method="GET",
        path="/api/v1/sharing/agreements",
    )
    _print(answer, json)
    if not answer and not json:
        out.print("no agreements")


@sharing.command("accept")
def accept(
    agreement_id: Annotated[int, typer.Argument(help="Agreement number")],
    token: TokenOpt,
    kinds: KindsOpt = None,
    purposes: PurposesOpt = None,
    lookback_days: LookbackOpt = None,
    expires: ExpiresOpt = None,
    note: StepNoteOpt = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Accept a request for your agency's reads, as requested or narrowed (give all four term options)."""
    narrowed = any(v is not None for v in (kinds, purposes, lookback_days, expires))
    terms = _terms_body(kinds, purposes, lookback_days, expires) if narrowed else None
    answer = call(
        data,
        token,
        where="cli sharing accept",
        local=lambda p, who: p.agreements.accept(
            who, agreement_id, terms=make_terms(**terms) if terms else None, note=note
        ).as_json(),
        method="POST",
        path=f"/api/v1/sharing/agreements/{agreement_id}/accept",
        body={"terms": terms, "note": note},
    )
    _print(answer, json)


def _step(action: str, help_text: str) -> None:
    def command(
        agreement_id: Annotated[int, typer.Argument(help="Agreement number")],
        token: TokenOpt,
        note: StepNoteOpt = None,
        data: DataOpt = None,
        json: JsonOpt = False,
    ) -> None:
        answer = call(
            data,
            token,
            where=f"cli sharing {action}",
            local=lambda p, who: getattr(p.agreements, action)(who, agreement_id, note=note).as_json(),
            method="POST",
            path=f"/api/v1/sharing/agreements/{agreement_id}/{action}",
            body={"note": note},
        )
        _print(answer, json)

    command.__doc__ = help_text
    sharing.command(action)(command)


_step("decline", "Decline a pending request for your agency's reads.")
_step("revoke", "Revoke an accepted agreement on your agency's reads.")
_step("withdraw", "Withdraw your agency's request, or give up an accepted agreement.")


def _show_policy(answer: dict[str, Any], json: bool) -> None:
    if json:
        print_json(answer)
        return
    answer = printable(answer)
    preset = f", from preset {answer['preset']}" if answer["preset"] else ""
    out.print(f"{answer['agency']} policy version {answer['version']}{preset}")
    for line in answer["text"]:
        out.print(f"  {line}")


def _policy_command(name: str, path: str, local: Callable[[Platform, str], Any], doc: str) -> None:
    def command(
        agency: Annotated[str, typer.Argument(help="Agency slug")],
        token: TokenOpt,
        data: DataOpt = None,
        json: JsonOpt = False,
    ) -> None:
        answer = call(
            data,
            token,
            where=f"cli policy {name}",
            local=lambda p, _who: local(p, agency),
            method="GET",
            path=path.format(agency=agency),
        )
        if isinstance(answer, dict):
            _show_policy(answer, json)
        elif json:
            print_json(answer)
        else:
            for version in printable(answer):
                out.print(f"version {version['version']} by {version['created_by']} at {version['created']}")

    command.__doc__ = doc
    policy.command(name)(command)


_policy_command(
    "show",
    "/api/v1/policies/{agency}",
    lambda p, agency: p.policies.current(agency).as_json(),
    "An agency's policy in force, in plain language (generated from the policy itself).",
)
_policy_command(
    "history",
    "/api/v1/policies/{agency}/history",
    lambda p, agency: [v.as_json() for v in p.policies.history(agency)],
    "Every version of an agency's policy.",
)


@policy.command("set")
def set_policy(
    agency: Annotated[str, typer.Argument(help="Your agency's slug")],
    token: TokenOpt,
    preset: Annotated[str | None, typer.Option(help="california, illinois, strict or open")] = None,
    file: Annotated[Path | None, typer.Option(help="A policy as JSON (see `policy presets --json`)")] = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Set your agency's policy from a preset and/or a JSON file; stored as a new, audited version."""
    try:
        raw = file.read_text(encoding="utf-8-sig") if file else None
    except (OSError, UnicodeDecodeError) as exc:
        raise FieldInvalid("file", f"not a readable policy file: {exc}") from None
    answer = call(
        data,
        token,
        where="cli policy set",
        local=lambda p, who: p.policies.set_from(who, agency, preset=preset, policy=raw).as_json(),
        method="PUT",
        path=f"/api/v1/policies/{agency}",
        body={"preset": preset, "policy": raw},
    )
    _show_policy(answer, json)


@policy.command("presets")
def presets(json: JsonOpt = False) -> None:
    """The presets, what each encodes, and its policy in plain language."""
    rows = [
        {
            "name": name.value,
            "encodes": encodes,
            "policy": chosen.model_dump(mode="json"),
            "text": describe(chosen, country="US", state="<your state>"),
        }
        for name, (chosen, encodes) in PRESETS.items()
    ]
    if json:
        print_json(rows)
        return
    for row in rows:
        out.print(f"{row['name']}: {row['encodes']}", style="bold")
        for line in row["text"]:
            out.print(f"  {line}")

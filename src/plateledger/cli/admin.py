"""Agencies, users, tokens and cameras at the console (operator actions, audited as cli:<user>)."""

from __future__ import annotations

from typing import Annotated

import typer

from plateledger.cli.common import DataOpt, JsonOpt, opened, operator, out, print_json
from plateledger.cli.output import printable
from plateledger.core.clock import iso_ms

agencies = typer.Typer(help="Agencies (data owners and requesters).", no_args_is_help=True)
users = typer.Typer(help="Users and their roles.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens (only a hash is stored; the secret is shown once).", no_args_is_help=True)
cameras = typer.Typer(help="Cameras of an agency.", no_args_is_help=True)


@agencies.command("add")
def agencies_add(
    slug: Annotated[str, typer.Argument(help="Short id, e.g. bayview-pd")],
    name: Annotated[str, typer.Option(help="Display name")],
    kind: Annotated[str, typer.Option(help="municipal|county|state|federal|tribal|private")],
    state: Annotated[str, typer.Option(help="State/province code, e.g. CA")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2")] = "US",
    data: DataOpt = None,
) -> None:
    """Create an agency."""
    with opened(data) as platform:
        platform.registry.create_agency(operator(), slug=slug, name=name, kind=kind, country=country, state=state)
    out.print(f"agency {slug} created")


@agencies.command("list")
def agencies_list(data: DataOpt = None, json: JsonOpt = False) -> None:
    """List agencies."""
    with opened(data) as platform:
        rows = [
            {"slug": a.slug, "name": a.name, "kind": a.kind, "country": a.country, "state": a.state}
            for a in platform.registry.agencies()
        ]
    if json:
        print_json(rows)
        return
    for row in printable(rows):
        out.print(f"{row['slug']:<28} {row['kind']:<10} {row['country']}-{row['state']:<4} {row['name']}")


@users.command("add")
def users_add(
    username: Annotated[str, typer.Argument()],
    agency: Annotated[str, typer.Option(help="Agency slug")],
    role: Annotated[str, typer.Option(help="admin|investigator|supervisor|auditor|device")],
    password: Annotated[
        str | None,
        typer.Option(help="Password for web/API sign-in, at least 12 characters (omit for token-only users)"),
    ] = None,
    data: DataOpt = None,
) -> None:
    """Create a user of an agency."""
    with opened(data) as platform:
        platform.registry.create_user(operator(), agency_slug=agency, username=username, role=role, password=password)
    out.print(f"user {username} ({role}) created in {agency}")


@users.command("time-zone")
def users_time_zone(
    username: Annotated[str, typer.Argument()],
    zone: Annotated[str, typer.Argument(help="IANA zone name, e.g. America/Chicago; UTC or an empty string for UTC")],
    data: DataOpt = None,
) -> None:
    """Set the time zone a user reads and types times in on the web pages (audited; the API stays UTC)."""
    with opened(data) as platform:
        stored = platform.registry.set_time_zone(operator(), username, zone)
    out.print(f"user {username} now sees times in {stored or 'UTC'}")


@tokens.command("create")
def tokens_create(
    username: Annotated[str, typer.Argument()],
    label: Annotated[str, typer.Option(help="What the token is for")] = "",
    days: Annotated[int | None, typer.Option(help="Lifetime in days (default: settings)")] = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Create an API token for a user; prints the secret once."""
    with opened(data) as platform:
        issued = platform.tokens.issue(operator(), username, label=label, ttl_days=days)
    if json:
        print_json(
            {
                "token_id": issued.token_id,
                "token": issued.secret,
                "expires": iso_ms(issued.expires_ms),
            }
        )
    else:
        out.print(f"token {issued.token_id} for {username}, expires {iso_ms(issued.expires_ms)}:\n{issued.secret}")


@tokens.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument()], data: DataOpt = None) -> None:
    """Revoke a token by id."""
    with opened(data) as platform:
        platform.tokens.revoke(operator(), token_id)
    out.print(f"token {token_id} revoked")


@cameras.command("add")
def cameras_add(
    external_id: Annotated[str, typer.Argument(help="The camera id its reads carry")],
    agency: Annotated[str, typer.Option(help="Agency slug")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    lat: Annotated[float | None, typer.Option(help="Fixed position latitude")] = None,
    lon: Annotated[float | None, typer.Option(help="Fixed position longitude")] = None,
    direction: Annotated[float | None, typer.Option(help="Facing, degrees")] = None,
    mobile: Annotated[bool, typer.Option("--mobile", help="A vehicle-mounted unit (reads carry GPS)")] = False,
    data: DataOpt = None,
) -> None:
    """Register a camera (fixed with --lat/--lon, or --mobile)."""
    with opened(data) as platform:
        platform.registry.add_camera(
            operator(),
            agency_slug=agency,
            external_id=external_id,
            name=name,
            mobile=mobile,
            lat=lat,
            lon=lon,
            direction=direction,
        )
    out.print(f"camera {external_id} registered to {agency}")


@cameras.command("list")
def cameras_list(
    agency: Annotated[str, typer.Option(help="Agency slug")],
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """List an agency's cameras."""
    with opened(data) as platform:
        rows = [c.__dict__ for c in platform.registry.camera_list(operator(), platform.registry.agency(agency).id)]
    if json:
        print_json(rows)
        return
    for row in printable(rows):
        where = "mobile" if row["mobile"] else f"{row['lat']:.5f},{row['lon']:.5f}"
        out.print(f"{row['external_id']:<24} {where:<24} {row['name']}")

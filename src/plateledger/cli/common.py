"""Shared CLI pieces: the --data option, opening the platform, printing."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx2
import orjson
import typer
from typer._click.globals import get_current_context

from plateledger.audit.log import Actor
from plateledger.auth.tokens import Principal
from plateledger.cli.output import err as err
from plateledger.cli.output import out as out
from plateledger.core.errors import DataDirectoryBusy, PlateledgerError, error_from_problem
from plateledger.core.logging import configure_logging, log_uncaught
from plateledger.core.settings import Settings, load_settings
from plateledger.platform import Platform
from plateledger.store.lock import read_holder

TokenOpt = Annotated[str, typer.Option(help="Your API token", envvar="PLATELEDGER_TOKEN")]
SearchTokenOpt = Annotated[
    str, typer.Option("--token", help="Your API token (investigator or admin)", envvar="PLATELEDGER_TOKEN")
]
PurposeOpt = Annotated[str | None, typer.Option(help="Purpose from the closed taxonomy (required)")]
CaseOpt = Annotated[str | None, typer.Option("--case", help="Case number (required)")]
NoteOpt = Annotated[str | None, typer.Option(help="Free-text note, in addition to purpose and case")]
WarrantOpt = Annotated[
    str | None, typer.Option(help="Warrant or court-order reference, where an owner's policy requires one")
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Data directory [env PLATELEDGER_DATA; default ./plateledger-data]",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")]


def settings_for(data: Path | None, **overrides: Any) -> Settings:
    """The settings of this command: its flags, the environment, the file of ``plateledger --config FILE``."""
    context = get_current_context(silent=True)
    config = context.find_root().params.get("config") if context is not None else None
    return load_settings(data=data, config=config, **overrides)


def start_logging(settings: Settings) -> None:
    """Log records of a long-running command (serve, demo, mqtt) on stderr, at the settings' level and format."""
    configure_logging(settings.log_level, settings.log_format)
    log_uncaught()


@contextmanager
def opened(data: Path | None, **overrides: Any) -> Iterator[Platform]:
    """Open the platform on the data directory (refused with a clear message if a server holds it)."""
    platform = Platform.open(settings_for(data, **overrides))
    try:
        yield platform
    finally:
        platform.close()


def operator(agency_id: int | None = None) -> Actor:
    """The person at the console, as recorded in the audit log."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(username=f"cli:{who}"[:64], agency_id=agency_id)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def server_request(
    url: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    content: bytes | None = None,
) -> httpx2.Response:
    """Ask the server that holds the data directory (same gate, same audit log). A refusal is raised as the
    library error its problem ``type`` names (:func:`~plateledger.core.errors.error_from_problem`), so the CLI
    exits as it would have locally."""
    clean = {k: v for k, v in (params or {}).items() if v is not None and v is not False}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        if content is not None:
            response = httpx2.request(
                method, f"{url}{path}", params=clean, content=content, headers=headers, timeout=600
            )
        else:
            response = httpx2.request(method, f"{url}{path}", params=clean, json=body, headers=headers, timeout=60)
    except httpx2.HTTPError as exc:
        raise PlateledgerError(f"the server at {url} holds the data directory but did not answer: {exc}") from None
    if response.status_code < 300:
        return response
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        answer = {"detail": f"the server at {url} answered {response.status_code}: {response.text[:200]}"}
    raise error_from_problem(response.status_code, answer)


def server_url(data: Path | None) -> str:
    """The URL of the server holding the data directory (DataDirectoryBusy if the holder serves no HTTP)."""
    holder = read_holder(settings_for(data).data)
    if holder is None or not holder.url:
        raise DataDirectoryBusy(
            f"data directory {settings_for(data).data} is in use by another Plateledger process that serves no HTTP"
        )
    return holder.url


def call(
    data: Path | None,
    token: str,
    *,
    where: str,
    local: Callable[[Platform, Principal], Any],
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    content: bytes | None = None,
    raw: bool = False,
) -> Any:
    """Run a token-authenticated command on the local data directory, or, when a server holds it, send the same
    request to that server. ``local`` must return what the API returns for ``method path`` (its bytes when
    ``raw``, else its JSON)."""
    try:
        with opened(data) as platform:
            return local(platform, platform.tokens.authenticate(token, where=where))
    except DataDirectoryBusy:
        response = server_request(
            server_url(data), method, path, token=token, params=params, body=body, content=content
        )
        if raw:
            return response.content
        return response.json() if response.content else None

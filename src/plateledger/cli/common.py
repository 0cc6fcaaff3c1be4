"""Shared CLI pieces: the --data option, opening the platform, printing."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

from plateledger.audit.log import Actor
from plateledger.core.settings import Settings, load_settings
from plateledger.platform import Platform

DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Data directory [env PLATELEDGER_DATA; default ./plateledger-data]",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def settings_for(data: Path | None, **overrides: Any) -> Settings:
    return load_settings(data=data, **overrides)


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

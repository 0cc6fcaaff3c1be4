"""The `plateledger` command: a thin layer over the library.

User mistakes print one line on stderr and exit non-zero (the error's ``exit_code``); no tracebacks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from plateledger import __version__
from plateledger.cli import (
    admin,
    alerts,
    approvals,
    audit,
    backup,
    cameras,
    doctor,
    hotlists,
    log,
    mqtt,
    notify,
    oversight,
    reads,
    reports,
    retention,
    review,
    serve,
    sharing,
)
from plateledger.cli.common import err
from plateledger.cli.output import shown
from plateledger.core.errors import PlateledgerError

app = typer.Typer(
    name="plateledger",
    help="Plateledger: ALPR data bound to owners' policies, declared purposes and a hash-chained audit log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML file of settings [env PLATELEDGER_CONFIG]; flags override the environment, which "
            "overrides the file",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit", callback=_print_version, is_eager=True)
    ] = False,
) -> None:
    """Plateledger: ALPR data bound to owners' policies, declared purposes and a hash-chained audit log."""


app.command("serve")(serve.serve)
app.command("demo")(serve.demo)
app.command("ingest")(reads.ingest)
app.command("mqtt")(mqtt.mqtt)
app.add_typer(reads.search, name="search")
app.add_typer(audit.audit, name="audit")
app.add_typer(log.log, name="log")
app.add_typer(retention.retention, name="retention")
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)
app.add_typer(admin.agencies, name="agencies")
app.add_typer(admin.users, name="users")
app.add_typer(admin.tokens, name="tokens")
app.add_typer(cameras.cameras, name="cameras")
app.add_typer(sharing.sharing, name="sharing")
app.add_typer(review.cases, name="cases")
app.add_typer(sharing.policy, name="policy")
app.add_typer(hotlists.hotlist, name="hotlist")
app.command("access-log")(reports.access_log)
app.add_typer(reports.report, name="report")
app.add_typer(alerts.alerts, name="alerts")
app.add_typer(notify.notify, name="notify")
app.add_typer(oversight.oversight, name="oversight")
app.add_typer(approvals.approvals, name="approvals")
app.command("doctor")(doctor.doctor)


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app(prog_name="plateledger")
    except PlateledgerError as error:
        err.print(f"error: {shown(error.detail)}")
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()

"""`plateledger backup DEST` and `plateledger restore SRC --data NEWDIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from plateledger.backup.service import OPERATOR_ROUTE, operator_token_to_forward
from plateledger.cli.common import DataOpt, JsonOpt, opened, operator, out, print_json, server_request, server_url
from plateledger.cli.common import settings_for as settings_for
from plateledger.cli.output import shown
from plateledger.core.clock import iso_ms
from plateledger.core.errors import DataDirectoryBusy
from plateledger.platform import Platform

DestArg = Annotated[Path, typer.Argument(help="New (or empty) directory to write the backup to", show_default=False)]
SrcArg = Annotated[Path, typer.Argument(help="A backup made by `plateledger backup`", show_default=False)]


def backup(dest: DestArg, data: DataOpt = None, json: JsonOpt = False) -> None:
    """Back up the data directory (reads store, governance database, images) to DEST, consistent with itself:
    its manifest names the audit head and the reads per owner it holds. Audited as `backup.made`. While a server
    holds the data directory, the server makes the backup (to DEST on its host): give it the instance's
    `operator_token` (the same setting as the server's)."""
    try:
        with opened(data) as platform:
            answer: dict[str, Any] = platform.backups.make(operator(), dest).as_json()
    except DataDirectoryBusy:
        token = operator_token_to_forward(settings_for(data))
        answer = server_request(
            server_url(data),
            "POST",
            OPERATOR_ROUTE,
            token=token,
            body={"dest": str(dest.absolute())},
        ).json()
    if json:
        print_json(answer)
        return
    manifest = answer["manifest"]
    reads = sum(manifest["per_owner"].values())
    out.print(
        f"backup written to {shown(answer['dest'])}: {reads:,} reads, {manifest['images']:,} images, audit log up to "
        f"entry {manifest['audit_seq']} (made {iso_ms(manifest['made_ms'])}; recorded as entry {answer['audit_seq']})"
    )


def restore(src: SrcArg, data: DataOpt = None, json: JsonOpt = False) -> None:
    """Restore the backup SRC into a new (or empty) data directory. Verifies the audit chain and the reads per
    owner against the backup's manifest before it succeeds (exit 10 and the new directory removed otherwise),
    audits the restore (`backup.restored`) and applies retention again: reads that expired since the backup was
    made are deleted, audited, and counted here."""
    report = Platform.restore(src, settings_for(data), operator())
    if json:
        print_json(report.as_json())
        return
    out.print(
        f"restored {report.manifest.reads:,} reads and {report.audit_entries:,} audit entries (chain verified up to "
        f"entry {report.manifest.audit_seq}); retention removed {report.retention.deleted:,} reads that expired "
        f"since the backup (audit entry {report.retention.audit_seq})"
    )

"""`plateledger doctor`: look for damage to the data and say what to do about it."""

from __future__ import annotations

from typing import Annotated

import typer

from plateledger.cli.common import DataOpt, JsonOpt, opened, out, print_json
from plateledger.cli.output import shown


def doctor(
    data: DataOpt = None,
    json: JsonOpt = False,
    detach_damaged: Annotated[
        bool,
        typer.Option(
            "--detach-damaged",
            help="Detach parts that fail their checksums (as broken), so searches stop failing on them",
        ),
    ] = False,
) -> None:
    """Inspect the data directory: parts ClickHouse detached as broken, parts failing their checksums (reads the
    whole reads store), and owners whose reads in the store differ from the audit log and read_keys. Names each
    part, the owners and the reads affected, and what to do. Exits 1 when damage is found."""
    with opened(data) as platform:
        if detach_damaged:
            for fault in platform.integrity.detach_damaged():
                out.print(f"detached {shown(fault.table)}/{shown(fault.part)} as broken")
        damage = platform.integrity.inspect(deep=True)
    if json:
        print_json(damage.as_json())
    elif not damage.found:
        out.print("no damage found: every part passes its checksums and the counts agree with the audit log")
    else:
        for line in damage.lines():
            out.print(f"DAMAGE: {shown(line)}")
        out.print(f"reads missing: {damage.missing}")
        out.print("what to do:")
        for number, step in enumerate(damage.advice(), 1):
            out.print(f"  {number}. {shown(step)}")
    if damage.found:
        raise typer.Exit(1)

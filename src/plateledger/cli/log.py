"""`plateledger log ...`: the audit log's signing key and its checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from plateledger.audit.logkey import new_key, policy_skeleton
from plateledger.backup.service import operator_token_to_forward
from plateledger.cli.common import DataOpt, JsonOpt, err, opened, out, print_json, server_request, server_url
from plateledger.cli.common import settings_for as settings_for
from plateledger.cli.output import shown
from plateledger.core.errors import DataDirectoryBusy

CHECKPOINT_ROUTE = "/api/v1/operator/checkpoint"

log = typer.Typer(help="The verifiable audit log: signing key and checkpoints.", no_args_is_help=True)


@log.command("init-key")
def init_key(
    origin: Annotated[
        str,
        typer.Option(
            help="The log's origin, e.g. plateledger.example-city.gov/audit (the key's name)", show_default=False
        ),
    ],
    out_file: Annotated[
        Path, typer.Option("--out", help="New file for the signing key (written mode 0600; never overwritten)")
    ],
    json: JsonOpt = False,
) -> None:
    """Make the log's Ed25519 signing key (named by its origin) in a new file readable by you only. Keep it
    outside the data directory and point `log_key_file` at it (with `log_origin` set to ORIGIN). Prints the
    verifier key (public) and a tlog-policy skeleton to hand to witnesses and verifiers."""
    signer = new_key(origin, out_file)
    vkey = str(signer.verifier)
    skeleton = policy_skeleton(signer.verifier)
    if json:
        print_json({"origin": origin, "key_file": str(out_file), "vkey": vkey, "policy": skeleton})
        return
    err.print(f"signing key written to {shown(str(out_file))} (mode 0600): keep it secret, back it up offline")
    out.print(f"verifier key: {vkey}")
    out.print("tlog-policy for verifiers (add your witnesses, set the quorum; also served at /log/policy):")
    out.print(skeleton, end="")


@log.command("checkpoint")
def checkpoint(data: DataOpt = None, json: JsonOpt = False) -> None:
    """Sign a checkpoint of the audit log now (if it grew), push it to the witnesses and publish it if their
    quorum is met. Exit 0 when the newest checkpoint is published, 4 when the quorum is not met. While a server
    holds the data directory, the server does it: give it the instance's `operator_token`."""
    try:
        with opened(data) as platform:
            answer: dict[str, Any] = platform.checkpoints.checkpoint().as_json()
    except DataDirectoryBusy:
        token = operator_token_to_forward(settings_for(data), makes="the checkpoint")
        answer = server_request(server_url(data), "POST", CHECKPOINT_ROUTE, token=token).json()
    if json:
        print_json(answer)
    else:
        _print(answer)
    if answer["checkpoint"] is not None and not answer["published"]:
        raise typer.Exit(4)


def _print(answer: dict[str, Any]) -> None:
    cp = answer["checkpoint"]
    if cp is None:
        out.print(f"no checkpoint: {answer['reason']}")
        return
    for name, result in sorted(answer["witnesses"].items()):
        state = "cosigned" if result["cosigned"] else f"failed: {shown(result['error'] or '')}"
        out.print(f"  witness {name:<24} {state} ({result['seconds']:.3f} s)")
    what = "signed" if answer["signed"] else "already signed"
    if answer["published"]:
        by = ", ".join(cp["cosigned_by"]) or "no witness: quorum none"
        out.print(f"checkpoint {cp['size']} {what} and published (cosigned by {by}); root {cp['root']}")
    elif answer["reason"] and not answer["signed"] and not answer["witnesses"]:
        out.print(f"checkpoint {cp['size']}: {shown(answer['reason'])}")
    else:
        out.print(f"checkpoint {cp['size']} {what} but NOT published: {shown(answer['reason'])}")

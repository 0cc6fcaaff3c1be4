"""``plateledger-verify witness init-key`` and ``plateledger-verify witness serve``: run a witness.

An oversight body makes a cosignature key once (``init-key``: the private key goes to a file only its owner can
read, the verifier key is printed to give to the log's operator), then runs ``serve`` with the logs it follows.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import stat
import sys
from pathlib import Path

from plateledger_verify.errors import MalformedError
from plateledger_verify.note import SIG_COSIGNATURE_V1, Signer, valid_name
from plateledger_verify.witness_server import Witness, parse_listen, parse_logs, serve
from plateledger_verify.witness_store import WitnessStore


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    witness = commands.add_parser(
        "witness",
        help="run a c2sp.org/tlog-witness that cosigns the log's checkpoints",
        description="Run a witness: it cosigns a log's checkpoints only when each extends the last one it saw.",
    )
    sub = witness.add_subparsers(dest="witness_command", required=True)
    init = sub.add_parser(
        "init-key",
        help="make the witness's cosignature key",
        description=(
            "Generate an Ed25519 cosignature (type 0x04) key; write it to FILE (mode 0600, never overwritten) and "
            "print the verifier key to give to the log's operator."
        ),
    )
    init.add_argument("--name", required=True, help="the witness's key name, e.g. auditor.example.org/witness")
    init.add_argument("--out", required=True, type=Path, metavar="FILE", help="where to write the private key")
    init.set_defaults(run=init_key)
    run = sub.add_parser(
        "serve",
        help="serve POST /add-checkpoint",
        description=(
            "Serve c2sp.org/tlog-witness: POST /add-checkpoint verifies the log's signature and the consistency "
            "proof from the last checkpoint cosigned (kept in DB), stores the new one, then cosigns it. "
            "GET / and GET /healthz answer the witness's verifier key and the logs it follows. SIGTERM stops it."
        ),
    )
    run.add_argument("--key", required=True, type=Path, metavar="FILE", help="the key file init-key wrote")
    run.add_argument("--state", required=True, type=Path, metavar="DB", help="SQLite file of the witness's state")
    run.add_argument(
        "--log",
        required=True,
        action="append",
        metavar="ORIGIN=VKEY",
        help="a log to follow: its origin and its Ed25519 verifier key (repeatable)",
    )
    run.add_argument("--listen", default="127.0.0.1:7380", metavar="HOST:PORT", help="default %(default)s")
    run.set_defaults(run=serve_command)


def init_key(args: argparse.Namespace) -> int:
    if not valid_name(args.name):
        raise MalformedError(f"--name {args.name!r} is empty or holds a space or '+'")
    signer = Signer.generate(args.name, SIG_COSIGNATURE_V1)
    # O_EXCL: never overwrite a key (a witness's key is its identity); 0600: only its owner reads it.
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(signer.private_key_text() + "\n")
        out.flush()
        os.fsync(out.fileno())
    print(signer.verifier)
    return 0


def read_key(path: Path) -> Signer:
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise MalformedError(f"{path} is readable by others: chmod 600 it")
    signer = Signer.parse(path.read_text())
    if signer.verifier.type != SIG_COSIGNATURE_V1:
        raise MalformedError(f"{path} is not a cosignature (0x04) key: make one with witness init-key")
    return signer


def serve_command(args: argparse.Namespace) -> int:
    signer = read_key(args.key)
    logs = parse_logs(args.log)
    host, port = parse_listen(args.listen)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True
    )
    try:
        store = WitnessStore(args.state)
    except (sqlite3.Error, ValueError) as exc:
        raise MalformedError(f"{args.state}: cannot open the witness state: {exc}") from exc
    try:
        serve(Witness(signer, logs, store), host, port)
    finally:
        store.close()
    return 0

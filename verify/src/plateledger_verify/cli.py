"""``plateledger-verify``: the oversight body's command line.

``init`` pins a log (policy and URL) in a state directory; ``update`` follows it (signature, quorum,
consistency with the stored checkpoint: rollback and fork detected); ``compare`` checks another verifier's
checkpoint against ours; ``check-export`` proves an agency's audit export entry by entry; ``report`` recounts an
agency's published monthly figures from the public leaves; ``proof`` writes a tlog-proof for one entry and
``proof-check`` verifies one offline; ``witness init-key`` and ``witness serve`` run a witness
(:mod:`.witness_cli`). Every failure prints one line on stderr and exits with its class's code
(:mod:`.errors`): 1 nothing to verify yet, 2 malformed, 3 bad signature, 4 quorum not met, 5 fork, 6 rollback,
7 entry missing or bad proof, 8 count mismatch, 9 the log could not be fetched.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from plateledger_verify import __version__, merkle, witness_cli
from plateledger_verify.client import DEFAULT_TIMEOUT_S, LogClient
from plateledger_verify.errors import MalformedError, VerifyError
from plateledger_verify.export import check_export, parse_export
from plateledger_verify.monitor import compare, make_proof, update, verified_log
from plateledger_verify.note import SIG_ED25519, VerifierKey, b64, b64decode_strict
from plateledger_verify.policy import Policy, parse_policy
from plateledger_verify.proof import parse_proof, verify_proof
from plateledger_verify.recount import check_report, month_hours
from plateledger_verify.state import STATE_ENV, State, default_dir, find_dir

EXIT_OK = 0
EXIT_USAGE = 2  # argparse's own code for bad usage; the same as MalformedError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plateledger-verify",
        description="Verify a Plateledger audit log without trusting its operator.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "proof-check",
        help="verify a c2sp.org/tlog-proof file offline",
        description=(
            "Check a tlog-proof file: the checkpoint is signed by the log (and cosigned by the policy's quorum of "
            "witnesses), and the entry is at the proof's index of the checkpointed tree. Exit codes: 0 verified, "
            "2 malformed, 3 bad signature, 4 quorum not met, 7 entry missing or bad proof."
        ),
    )
    check.add_argument("file", type=Path, help="the .tlog-proof file")
    trust = check.add_mutually_exclusive_group(required=True)
    trust.add_argument("--log-key", metavar="VKEY", help="the log's verifier key (no witness required)")
    trust.add_argument("--policy", type=Path, metavar="FILE", help="a c2sp.org/tlog-policy file")
    leaf = check.add_mutually_exclusive_group(required=True)
    leaf.add_argument("--entry", type=Path, metavar="FILE", help="the logged entry (leaf data), as bytes")
    leaf.add_argument("--leaf-hash", metavar="B64", help="the entry's RFC 6962 leaf hash, base64")
    _log_commands(commands)
    witness_cli.add_commands(commands)
    return parser


def _state_options(command: argparse.ArgumentParser, *, network: bool = True) -> None:
    command.add_argument(
        "--state",
        type=Path,
        metavar="DIR",
        help=f"the verifier's state directory (default: ${STATE_ENV}, or the only one under "
        "~/.local/state/plateledger-verify/)",
    )
    if network:
        command.add_argument(
            "--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S", help="seconds per HTTP request"
        )


def _log_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = commands.add_parser(
        "init",
        help="pin a log: its policy (log key, witness keys, quorum) and URL",
        description="Create a state directory that follows one log: the tlog-policy FILE (exactly one log line; its "
        "key name is the log's origin) and the server's URL. Default directory: "
        f"${STATE_ENV} or ~/.local/state/plateledger-verify/<origin>.",
    )
    init.add_argument("--policy", type=Path, required=True, metavar="FILE", help="a c2sp.org/tlog-policy file")
    init.add_argument("--url", required=True, help="the server's base URL (serving /log/checkpoint, /log/tile/...)")
    init.add_argument("--state", type=Path, metavar="DIR", help="the state directory to create")
    init.add_argument("--force", action="store_true", help="re-pin a directory that already holds checkpoints")

    upd = commands.add_parser(
        "update",
        help="fetch and verify the latest checkpoint; detect rollback and fork",
        description="Fetch the log's checkpoint; verify the log's signature and the witness quorum; verify it extends "
        "the stored checkpoint (a consistency proof computed from the log's tiles); store it. Exit codes: 0 stored, "
        "2 malformed, 3 bad signature, 4 quorum not met, 5 fork, 6 rollback, 7 tiles differ from the checkpoint, "
        "9 fetch failed.",
    )
    _state_options(upd)

    cmp = commands.add_parser(
        "compare",
        help="check another verifier's checkpoint against ours (fork detection)",
        description="Compare a checkpoint another verifier stored (its state directory's `checkpoint` file) with the "
        "ones stored here: same size, same root; different sizes, joined by a consistency proof from the log's "
        "tiles. Exit codes: 0 consistent, 3 not signed by the log, 5 fork.",
    )
    cmp.add_argument("other", type=Path, metavar="OTHER_CHECKPOINT_FILE")
    _state_options(cmp)

    exp = commands.add_parser(
        "check-export",
        help="prove every entry of an agency's audit export is in the log",
        description="Check an audit export (plateledger audit export): each entry's private part and salt reproduce "
        "its leaf, each leaf is in the stored checkpoint's tree, and no entry of the agency's month is left out. "
        "Exit codes: 0 proven, 2 malformed, 7 an entry missing (named by its number), 9 fetch failed.",
    )
    exp.add_argument("file", type=Path, metavar="FILE", help="the export (JSON)")
    _state_options(exp)

    rep = commands.add_parser(
        "report",
        help="recount an agency's published monthly figures from the public leaves",
        description="Read every public leaf up to the stored checkpoint and recount the agency's transparency "
        "figures for the month (GET <url>/transparency/<agency>.json?month=...). Exit codes: 0 equal, 1 the "
        "verified tree does not reach the month's end yet, 8 a figure differs (each named), 9 fetch failed.",
    )
    rep.add_argument("--agency", required=True, metavar="SLUG")
    rep.add_argument("--period", required=True, metavar="YYYY-MM", help="a calendar month (UTC)")
    _state_options(rep)

    prf = commands.add_parser(
        "proof",
        help="write a c2sp.org/tlog-proof for one entry",
        description="Write a tlog-proof of entry SEQ (leaf index SEQ - 1) against the stored checkpoint: what an "
        "agency hands a court or an auditor. proof-check verifies it offline.",
    )
    prf.add_argument("seq", type=int, metavar="SEQ", help="the audit entry number")
    prf.add_argument("--out", type=Path, metavar="FILE", help="the proof file (default: standard output)")
    prf.add_argument("--entry-out", type=Path, metavar="FILE", help="also write the entry's leaf data here")
    _state_options(prf)


def _policy(args: argparse.Namespace) -> Policy:
    if args.policy is not None:
        return parse_policy(args.policy.read_bytes())
    key = VerifierKey.parse(args.log_key)
    if key.type != SIG_ED25519:
        raise MalformedError(f"log key {key.name} is not an Ed25519 (0x01) key")
    return parse_policy(f"log {key}\nquorum none\n")


def _leaf_hash(args: argparse.Namespace) -> bytes:
    if args.entry is not None:
        return merkle.leaf_hash(args.entry.read_bytes())
    leaf = b64decode_strict(args.leaf_hash, "--leaf-hash")
    if len(leaf) != merkle.HASH_SIZE:
        raise MalformedError(f"--leaf-hash is {len(leaf)} bytes, not {merkle.HASH_SIZE}")
    return leaf


def proof_check(args: argparse.Namespace) -> int:
    policy = _policy(args)
    proof = parse_proof(args.file.read_bytes())
    verified = verify_proof(proof, _leaf_hash(args), policy)
    cp = verified.checkpoint
    witnesses = sorted(k.name for k in verified.cosignatures)
    cosigned = f", cosigned by {', '.join(witnesses)}" if witnesses else ""
    print(f"OK: entry {proof.index} is in {cp.origin} at tree size {cp.size}{cosigned}")
    return EXIT_OK


def _client(state: State, args: argparse.Namespace) -> LogClient:
    return LogClient(state.url, timeout=args.timeout)


def init(args: argparse.Namespace) -> int:
    policy = parse_policy(args.policy.read_bytes())
    if len(policy.logs) != 1:
        raise MalformedError(f"the policy names {len(policy.logs)} logs; a verifier follows exactly one")
    LogClient(args.url).close()  # refuses a URL that is not http(s)
    path = args.state or default_dir(policy.logs[0].key.name)
    state = State.init(path, args.policy.read_bytes(), args.url, force=args.force)
    print(f"OK: {state.path} follows {state.origin} at {state.url} (quorum {state.policy.quorum})")
    return EXIT_OK


def do_update(args: argparse.Namespace) -> int:
    state = State(find_dir(args.state))
    with _client(state, args) as client:
        done = update(state, client)
    cosigned = f", cosigned by {', '.join(done.witnesses)}" if done.witnesses else ""
    if done.old is None:
        print(f"OK: {done.new.origin} at tree size {done.new.size}{cosigned} (first checkpoint, stored)")
    elif done.old.size == done.new.size:
        print(f"OK: {done.new.origin} unchanged at tree size {done.new.size}{cosigned}")
    else:
        print(f"OK: {done.new.origin} grew from {done.old.size} to {done.new.size} consistently{cosigned}")
    return EXIT_OK


def do_compare(args: argparse.Namespace) -> int:
    state = State(find_dir(args.state))
    other = args.other.read_bytes()
    with _client(state, args) as client:
        mine, theirs = compare(state, client, other)
    print(f"OK: their tree size {theirs.size} and ours {mine.size} are one history of {mine.origin}")
    return EXIT_OK


def do_check_export(args: argparse.Namespace) -> int:
    state = State(find_dir(args.state))
    export = parse_export(args.file.read_bytes())
    stored = state.require_latest()
    with _client(state, args) as client:
        result = check_export(verified_log(state, client, stored.checkpoint), export)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    scanned = f"; entries {result.scanned[0]}-{result.scanned[1]} read for completeness" if result.scanned else ""
    print(
        f"OK: {result.entries} entries of {result.agency} for {result.month} are in {stored.checkpoint.origin} at "
        f"tree size {stored.checkpoint.size}, none left out{scanned}"
    )
    return EXIT_OK


def do_report(args: argparse.Namespace) -> int:
    month_hours(args.period)
    state = State(find_dir(args.state))
    stored = state.require_latest()
    with _client(state, args) as client:
        published = client.transparency(args.agency, args.period)
        figures = check_report(verified_log(state, client, stored.checkpoint), published, args.agency, args.period)
    print(
        f"OK: {len(figures)} non-zero figures of {args.agency} for {args.period} recounted from "
        f"{stored.checkpoint.size} public leaves: all equal ({figures.get('searches.total', 0)} searches)"
    )
    return EXIT_OK


def do_proof(args: argparse.Namespace) -> int:
    state = State(find_dir(args.state))
    with _client(state, args) as client:
        proof, leaf = make_proof(state, client, args.seq)
    if args.out is None:
        sys.stdout.buffer.write(proof.encode())
    else:
        args.out.write_bytes(proof.encode())
    if args.entry_out is not None:
        args.entry_out.write_bytes(leaf)
    where = f" to {args.out}" if args.out is not None else ""
    print(
        f"OK: proof of entry {args.seq} (index {proof.index}) at tree size {state.require_latest().checkpoint.size}"
        f"{where}; leaf hash {b64(merkle.leaf_hash(leaf))}",
        file=sys.stderr,
    )
    return EXIT_OK


COMMANDS = {
    "proof-check": proof_check,
    "init": init,
    "update": do_update,
    "compare": do_compare,
    "check-export": do_check_export,
    "report": do_report,
    "proof": do_proof,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        run = COMMANDS.get(args.command) or args.run  # the witness commands carry their own
        code: int = run(args)
        return code
    except VerifyError as exc:
        print(f"plateledger-verify: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"plateledger-verify: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

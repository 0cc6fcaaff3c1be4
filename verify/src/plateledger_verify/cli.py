"""``plateledger-verify``: the oversight body's command line.

``proof-check`` verifies a ``.tlog-proof`` file offline; ``witness init-key`` and ``witness serve`` run a
witness (:mod:`.witness_cli`). Every failure prints one line on stderr and exits with its class's code
(:mod:`.errors`): 2 malformed, 3 bad signature, 4 quorum not met, 7 entry missing or bad proof.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from plateledger_verify import __version__, merkle, witness_cli
from plateledger_verify.errors import MalformedError, VerifyError
from plateledger_verify.note import SIG_ED25519, VerifierKey, b64decode_strict
from plateledger_verify.policy import Policy, parse_policy
from plateledger_verify.proof import parse_proof, verify_proof

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
    check.set_defaults(run=proof_check)
    witness_cli.add_commands(commands)
    return parser


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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except VerifyError as exc:
        print(f"plateledger-verify: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        what = f"{exc.filename}: {exc.strerror}" if exc.filename is not None else str(exc)
        print(f"plateledger-verify: cannot use {what}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The cost of one checkpoint with witnesses: sign, push to each witness (real `plateledger-verify witness serve`
processes on this machine) with a consistency proof, verify the cosignatures, store, publish.

Starts ``--witnesses`` witness processes, a platform whose policy needs all of them, then ``--rounds`` times: append
``--entries`` audit entries, time ``Checkpointer.checkpoint()``. The same rounds without witnesses give the
signing-and-storing part alone. Prints JSON (seconds: median, p90, max; the slowest witness's answer time).

    .venv/bin/python benchmarks/checkpoint_witnesses.py --witnesses 3 --rounds 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2

from plateledger.audit.events import AuditListed
from plateledger.audit.log import SYSTEM
from plateledger.audit.logkey import new_key
from plateledger.core.settings import load_settings
from plateledger.platform import Platform

VERIFY = [sys.executable, "-m", "plateledger_verify"]
ORIGIN = "bench.plateledger.test/audit"


def start_witness(tmp: Path, name: str, port: int, log_vkey: str) -> tuple[subprocess.Popen[bytes], str]:
    key = tmp / f"{name}.key"
    vkey = subprocess.run(
        [*VERIFY, "witness", "init-key", "--name", f"{name}.bench/witness", "--out", str(key)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    proc = subprocess.Popen(
        [*VERIFY, "witness", "serve", "--key", str(key), "--state", str(tmp / f"{name}.db"),
         "--log", f"{ORIGIN}={log_vkey}", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, f"witness {name} {vkey} {url}"
        except httpx2.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"witness {name} did not start")


def rounds(platform: Platform, count: int, entries: int) -> dict[str, Any]:
    times: list[float] = []
    slowest: list[float] = []
    for _ in range(count):
        for _ in range(entries):
            platform.audit.append(SYSTEM, AuditListed(filters={}, entries=0))
        run = platform.checkpoints.checkpoint()
        if not run.published:
            raise RuntimeError(f"not published: {run.reason}")
        times.append(run.seconds)
        slowest.append(max((w.seconds for w in run.witnesses), default=0.0))
    times.sort()
    return {
        "checkpoints": count,
        "entries_between": entries,
        "tree_size": platform.checkpoints.status().tree_size,
        "seconds_median": round(statistics.median(times), 5),
        "seconds_p90": round(times[int(0.9 * (len(times) - 1))], 5),
        "seconds_max": round(times[-1], 5),
        "slowest_witness_median": round(statistics.median(slowest), 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--witnesses", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--entries", type=int, default=256, help="audit entries appended before each checkpoint")
    parser.add_argument("--base-port", type=int, default=17380)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        tmp = Path(workdir)
        key_file, signer = tmp / "log.key", new_key(ORIGIN, tmp / "log.key")
        procs: list[subprocess.Popen[bytes]] = []
        try:
            lines = []
            for i in range(args.witnesses):
                proc, line = start_witness(tmp, f"w{i}", args.base_port + i, str(signer.verifier))
                procs.append(proc)
                lines.append(line)
            names = [f"w{i}" for i in range(args.witnesses)]
            policy = tmp / "witnesses.policy"
            policy.write_text("\n".join([*lines, f"group every all {' '.join(names)}", "quorum every"]) + "\n")
            result: dict[str, Any] = {"witnesses": args.witnesses}
            for label, policy_file, data in (("without", None, "plain"), ("with", policy, "witnessed")):
                settings = load_settings(
                    data=tmp / data, log_key_file=key_file, log_origin=ORIGIN, witness_policy_file=policy_file
                )
                platform = Platform.open(settings)
                try:
                    result[f"{label}_witnesses"] = rounds(platform, args.rounds, args.entries)
                finally:
                    platform.close()
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

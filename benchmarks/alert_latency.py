"""Alert latency: from a read POSTed to ``/api/v1/reads`` to its alert on the live stream (SSE).

Sets up a fresh data directory through the library (agency ``bench-pd``, a camera, an investigator and a device
user with tokens, a hot list of ``--entries`` plates), starts ``plateledger serve``, connects an SSE client to
``/api/v1/alerts/stream`` with the investigator token, then POSTs batches of fresh reads to ``/api/v1/reads``
at about ``--rate`` reads/s for ``--seconds`` seconds, a fraction ``--match`` of them on a listed plate. The
latency of an alert is the time from the start of the POST that carried its read to the SSE event's arrival
(client clock, same machine). Prints JSON: p50/p95/p99/max in ms, alerts expected, received, missing.

Needs hot-list matching at ingest (``Alerts.process`` after each stored batch); without it no alert arrives and
the output says so.

    .venv/bin/python benchmarks/alert_latency.py --seconds 30 --rate 1000
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import orjson

from core import Server
from plateledger.audit.log import SYSTEM
from plateledger.core.clock import SystemClock
from plateledger.core.settings import load_settings
from plateledger.hotlists.service import EntryIn
from plateledger.platform import Platform

DAY_MS = 86_400_000


def plate(rng: random.Random) -> str:
    return str(rng.randint(1, 9)) + "".join(rng.choices(string.ascii_uppercase, k=3)) + f"{rng.randint(0, 999):03d}"


def setup(data: Path, listed: list[str]) -> dict[str, str]:
    """Agency, camera, users, tokens and a hot list, through the library (the server is not running)."""
    platform = Platform.open(load_settings(data=data), clock=SystemClock())
    try:
        platform.registry.create_agency(
            SYSTEM, slug="bench-pd", name="Bench PD", kind="municipal", country="US", state="CA"
        )
        platform.registry.add_camera(SYSTEM, agency_slug="bench-pd", external_id="cam-1", lat=37.8, lon=-122.27)
        tokens = {}
        for role in ("investigator", "device"):
            platform.registry.create_user(SYSTEM, agency_slug="bench-pd", username=f"bench-{role}", role=role)
            tokens[role] = platform.tokens.issue(SYSTEM, f"bench-{role}").secret
        investigator = platform.tokens.authenticate(tokens["investigator"], where="benchmark setup")
        view = platform.hotlists.create(investigator, name="bench", default_purpose="stolen_vehicle")
        expires = platform.clock.now_ms() + 30 * DAY_MS
        entries = [
            EntryIn(plate=p, purpose="stolen_vehicle", reference="BENCH-1", reason="benchmark", expires_ms=expires)
            for p in listed
        ]
        valid, errors = platform.hotlists.validate(view, entries)
        if errors:
            raise SystemExit(f"hot list entries refused: {errors[:3]}")
        platform.hotlists.apply(investigator, view.id, add=valid)
        return tokens
    finally:
        platform.close()


class StreamClient(threading.Thread):
    """Reads the SSE stream, recording the arrival time of each alert by its read id."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.base, self.token = base, token
        self.arrived: dict[str, float] = {}
        self.connected = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with (
                httpx2.Client(base_url=self.base, timeout=httpx2.Timeout(10, read=None)) as client,
                client.stream("GET", "/api/v1/alerts/stream", headers=headers) as response,
            ):
                for line in response.iter_lines():
                    if line.startswith(": connected"):
                        self.connected.set()
                    elif line.startswith("data:"):
                        body = orjson.loads(line[5:])
                        self.arrived[body["read"]["read_id"]] = time.perf_counter()
                    if self.stopping.is_set():
                        return
        except httpx2.TransportError:
            # The server stopping ends the stream mid-chunk (RemoteProtocolError): expected once told to stop.
            if not self.stopping.is_set():
                raise


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(7)
    listed = sorted({plate(rng) for _ in range(args.entries)})
    workdir = Path(tempfile.mkdtemp(prefix="alert-latency-", dir=args.workdir))
    data = workdir / "data"
    tokens = setup(data, listed)
    server = Server.start(data, workdir)
    try:
        return measure(server.base_url, tokens["device"], tokens["investigator"], listed, "cam-1", args, rng)
    finally:
        server.stop()


def measure(
    base: str,
    device_token: str,
    investigator_token: str,
    listed: list[str],
    camera: str,
    args: argparse.Namespace,
    rng: random.Random,
) -> dict[str, Any]:
    """POST reads at ``camera`` to a running server at about ``args.rate`` reads/s for ``args.seconds``, a share
    ``args.match`` on ``listed`` plates, and time each alert's arrival on the investigator's SSE stream."""
    stream = StreamClient(base, investigator_token)
    stream.start()
    if not stream.connected.wait(10):
        raise SystemExit("the alert stream did not connect")
    batches = max(1, round(args.rate * args.interval_s))
    sent: dict[str, float] = {}
    device = {"Authorization": f"Bearer {device_token}", "Content-Type": "application/json"}
    post_ms: list[float] = []
    began = time.perf_counter()
    deadline = began + args.seconds
    n = 0
    run_id = f"{rng.getrandbits(32):08x}"
    with httpx2.Client(base_url=base, timeout=30) as client:
        next_at = time.perf_counter()
        # Bounded by the clock too: when POSTs take longer than the interval the rate falls short (reported),
        # instead of the run stretching until every scheduled batch was sent.
        while next_at < deadline and time.perf_counter() < deadline:
            reads, matching = [], []
            now_ms = int(time.time() * 1000)
            for _ in range(batches):
                n += 1
                hit = rng.random() < args.match
                read_id = f"b{run_id}-{n}"
                listed_or_not = rng.choice(listed) if hit else plate(rng)
                reads.append({"read_id": read_id, "plate": listed_or_not, "ts": now_ms - 1000, "camera": camera})
                if hit:
                    matching.append(read_id)
            started = time.perf_counter()
            response = client.post("/api/v1/reads", content=orjson.dumps(reads), headers=device)
            post_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"POST /api/v1/reads: {response.status_code} {response.text[:500]}")
            for read_id in matching:
                sent[read_id] = started
            next_at += args.interval_s
            time.sleep(max(0.0, next_at - time.perf_counter()))
    posting_s = time.perf_counter() - began
    time.sleep(args.drain_s)
    stream.stopping.set()
    latencies = [(stream.arrived[r] - t) * 1000 for r, t in sent.items() if r in stream.arrived]
    result: dict[str, Any] = {
        "reads_posted": n,
        "rate_target": args.rate,
        "rate_achieved": round(n / posting_s, 1),
        "post_ms_p50": round(percentile(post_ms, 0.5), 2) if post_ms else None,
        "alerts_expected": len(sent),
        "alerts_received": len(latencies),
        "alerts_missing": len(sent) - len(latencies),
    }
    if latencies:
        result.update(
            {
                f"latency_ms_{k}": round(percentile(latencies, q), 2)
                for k, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
            }
        )
    else:
        result["note"] = "no alert arrived: is hot-list matching at ingest in this build?"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30, help="how long to POST reads")
    parser.add_argument("--rate", type=float, default=1000, help="reads per second")
    parser.add_argument("--interval-s", type=float, default=0.1, help="seconds between POSTs (batch = rate x interval)")
    parser.add_argument("--match", type=float, default=0.01, help="fraction of reads on a listed plate")
    parser.add_argument("--entries", type=int, default=1000, help="plates on the hot list")
    parser.add_argument("--drain-s", type=float, default=3, help="seconds to wait for the last alerts")
    parser.add_argument("--workdir", default="/tmp", help="parent of the temporary data directory")
    sys.stdout.write(orjson.dumps(run(parser.parse_args()), option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()

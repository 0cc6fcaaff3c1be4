"""A real log for the verifier's tests: leaves, tiles, bundles and checkpoints built with plateledger_verify's own
primitives in a temporary directory, served by a stdlib HTTP server in a thread, in the tlog-tiles layout."""

from __future__ import annotations

import base64
import json
import os
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from plateledger_verify import merkle
from plateledger_verify.checkpoint import Checkpoint, add_signatures, cosign, sign_checkpoint
from plateledger_verify.leaf import NO_OWNERS, Owners, commitment, leaf_data, public_part
from plateledger_verify.note import SIG_COSIGNATURE_V1, Signer
from plateledger_verify.tiles import decode_bundle, encode_bundle, tile_hashes_from_nodes, tiles_for_size

LOG = Signer.generate("audit.example.org/log")
W1 = Signer.generate("w1.oversight.example", SIG_COSIGNATURE_V1)
W2 = Signer.generate("w2.oversight.example", SIG_COSIGNATURE_V1)
#: 2026-11-01T00:00Z
NOV_MS = 1_793_491_200_000
HOUR_MS = 3_600_000


def policy_text(quorum: str = "any") -> str:
    return (
        f"log {LOG.verifier}\nwitness W1 {W1.verifier}\nwitness W2 {W2.verifier}\n"
        f"group any 1 W1 W2\ngroup all 2 W1 W2\nquorum {quorum}\n"
    )


@dataclass
class Entry:
    ts_ms: int
    action: str
    outcome: str
    agency: str | None
    purpose: str | None
    owners: Owners
    counts: Mapping[str, Any]
    private: dict[str, Any]
    salt: bytes = field(default_factory=lambda: os.urandom(32))

    def public(self, seq: int) -> dict[str, Any]:
        return public_part(
            seq=seq,
            ts_ms=self.ts_ms,
            action=self.action,
            outcome=self.outcome,
            agency=self.agency,
            purpose=self.purpose,
            owners=self.owners,
            counts=self.counts,
        )

    def leaf(self, seq: int) -> bytes:
        return leaf_data(self.public(seq), commitment(self.salt, self.private))


class TestLog:
    """Entries appended in order (entry ``seq`` is ``entries[seq - 1]``), published as files under ``root``."""

    __test__ = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: list[Entry] = []
        (root / "log").mkdir(parents=True, exist_ok=True)

    def add(
        self,
        *,
        ts_ms: int,
        action: str = "search.plate",
        agency: str | None = "alpha",
        purpose: str | None = "stolen_vehicle",
        owners: Owners = NO_OWNERS,
        outcome: str = "ok",
        counts: Mapping[str, Any] | None = None,
    ) -> int:
        seq = len(self.entries) + 1
        private = {
            "ts_ms": ts_ms,
            "user_id": 7,
            "user": f"officer-{seq}",
            "client": "10.0.0.1",
            "case_number": f"CASE-{seq}",
            "params": {"plate": "7ABC123", "note": "secret"},
        }
        counts = dict(counts) if counts is not None else {"rows": sum(owners.per_owner.values())}
        self.entries.append(Entry(ts_ms, action, outcome, agency, purpose, owners, counts, private))
        return seq

    def leaves(self) -> list[bytes]:
        return [e.leaf(i + 1) for i, e in enumerate(self.entries)]

    def publish(
        self,
        *,
        leaves: Sequence[bytes] | None = None,
        witnesses: Sequence[Signer] = (W1,),
        log: Signer = LOG,
        extensions: tuple[str, ...] = (),
        signed_text: str | None = None,
    ) -> bytes:
        """Write every tile and bundle of the tree of ``leaves`` (default: the entries') and a checkpoint signed
        by ``log`` and cosigned by ``witnesses``; return the signed checkpoint."""
        leaves = list(self.leaves() if leaves is None else leaves)
        shutil.rmtree(self.root / "log" / "tile", ignore_errors=True)  # the server now holds this tree only
        nodes: dict[tuple[int, int], bytes] = {}
        compact = merkle.CompactRange()
        for data in leaves:
            for node in compact.append(merkle.leaf_hash(data)):
                nodes[node.level, node.index] = node.hash
        for ref in tiles_for_size(len(leaves), entries=True):
            path = self.root / "log" / ref.path
            path.parent.mkdir(parents=True, exist_ok=True)
            if ref.is_entries:
                first = ref.index * 256
                path.write_bytes(encode_bundle(leaves[first : first + ref.width]))
            else:
                path.write_bytes(tile_hashes_from_nodes(ref, lambda lv, ix: nodes[lv, ix]))
        cp = Checkpoint(LOG.name, len(leaves), compact.root(), extensions)
        signed = sign_checkpoint(cp, log)
        for witness in witnesses:
            signed = add_signatures(signed, cosign(cp, witness, 1_800_000_000))
        if signed_text is not None:  # a body edited after signing
            signed = signed.replace(cp.text().encode(), signed_text.encode(), 1)
        (self.root / "log" / "checkpoint").write_bytes(signed)
        return signed

    def export(self, agency: str, month_start_ms: int, month_end_ms: int) -> dict[str, Any]:
        return {
            "format": "plateledger-audit-export/v1",
            "origin": LOG.name,
            "agency": agency,
            "month": "2026-11",
            "entries": [
                {
                    "seq": seq,
                    "leaf": json.loads(e.leaf(seq)),
                    "private": e.private,
                    "salt": base64.b64encode(e.salt).decode(),
                }
                for seq, e in enumerate(self.entries, start=1)
                if e.agency == agency and month_start_ms <= e.ts_ms < month_end_ms
            ],
        }

    def serve_json(self, path: str, value: Any) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))


class _Handler(SimpleHTTPRequestHandler):
    """Static files, plus what a live log server does: a partial tile or bundle narrower than the one it holds is
    cut from the wider one (``LogTree.tile(level, index, width)``). A partial tile whose tile is full is not
    derived (the client falls back to the full tile)."""

    def translate_path(self, path: str) -> str:
        return super().translate_path(urlsplit(path).path)  # the query (?month=) names no file

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if not path.exists() and path.parent.name.endswith(".p") and path.name.isdigit():
            width = int(path.name)
            wider = [p for p in path.parent.glob("*") if p.name.isdigit() and int(p.name) > width]
            if wider:
                data = wider[0].read_bytes()
                if "/entries/" in self.path:
                    body = encode_bundle(decode_bundle(data)[:width])
                else:
                    body = data[: width * merkle.HASH_SIZE]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """Serve ``root`` over HTTP on a free local port; yield the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

"""The witness an oversight body runs: c2sp.org/tlog-witness over the standard library's HTTP server.

:class:`Witness` decides one ``add-checkpoint`` request, in the specification's order:

====  =====================================================================================================
400   the body is not ``old <size>``, proof lines, a blank line and a signed checkpoint; the checkpoint carries
      extension lines (none is known here) or breaks its format; ``old`` exceeds the checkpoint's size
404   no log with the checkpoint's origin is followed
403   no signature by the origin's log key verifies (or one of its keys' signatures is bad)
409   ``old`` is not the size of the checkpoint last cosigned (0 if none): ``text/x.tlog.size`` body with that
      size; or the sizes are equal and the roots differ (a fork: ``text/plain`` body)
422   the consistency proof from the stored checkpoint to the new one does not verify
200   the cosignature line (type 0x04, ``cosignature/v1``, the current time), after the new checkpoint is stored
====  =====================================================================================================

The check of ``old`` and the write of the new checkpoint are one transaction (:meth:`.WitnessStore.advance`), so
two concurrent requests from the same old size cannot both be cosigned. :func:`serve` runs it on a
:class:`http.server.ThreadingHTTPServer` with bounded bodies, socket timeouts, one log line per request and a
clean stop on SIGTERM; ``GET /`` and ``GET /healthz`` answer the witness's verifier key and the logs it follows.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from plateledger_verify import __version__, merkle
from plateledger_verify.checkpoint import Checkpoint, check_consistent, cosign, open_checkpoint
from plateledger_verify.errors import ForkError, MalformedError, SignatureError
from plateledger_verify.note import SIG_COSIGNATURE_V1, SIG_ED25519, Signer, VerifierKey, b64, parse_note
from plateledger_verify.witness import (
    SIZE_CONTENT_TYPE,
    encode_cosignatures,
    encode_size,
    parse_add_checkpoint,
)
from plateledger_verify.witness_store import Stored, WitnessStore

log = logging.getLogger("plateledger_verify.witness")

#: Largest request body: 63 proof lines and a checkpoint with up to 100 signatures fit well below it.
MAX_BODY_BYTES = 64 * 1024
#: Seconds a connection may stay silent (while a request is read, or idle between keep-alive requests).
SOCKET_TIMEOUT_S = 15.0
#: Connections served at once (a thread each); more are closed at once rather than queued behind slow clients.
MAX_CONNECTIONS = 128
#: Seconds a stop waits for requests already being decided to answer.
STOP_GRACE_S = 10.0
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer and what the request log line says about it."""

    status: int
    body: bytes
    content_type: str = TEXT
    origin: str = "-"
    outcome: str = ""


def _refuse(status: int, message: str, origin: str = "-", content_type: str = TEXT) -> Answer:
    return Answer(status, (message + "\n").encode(), content_type, origin, message)


class _Conflict(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


class Witness:
    """The tlog-witness decision for the logs it follows, over its store, cosigning with its key."""

    def __init__(self, signer: Signer, logs: Mapping[str, Sequence[VerifierKey]], store: WitnessStore) -> None:
        if signer.verifier.type != SIG_COSIGNATURE_V1:
            raise ValueError("a witness cosigns with a key of type 0x04")
        for origin, keys in logs.items():
            if not keys or any(k.type != SIG_ED25519 for k in keys):
                raise ValueError(f"log {origin}: needs Ed25519 (0x01) verifier keys")
        self.signer = signer
        self.logs = {origin: tuple(keys) for origin, keys in logs.items()}
        self.store = store

    def add_checkpoint(self, body: bytes, *, now: int | None = None) -> Answer:
        """Decide one ``add-checkpoint`` request body; ``now`` is the cosignature's time (default: the clock)."""
        try:
            request = parse_add_checkpoint(body)
            note = parse_note(request.checkpoint)
        except MalformedError as exc:
            return _refuse(400, f"malformed request: {exc}")
        origin = note.text.split("\n", 1)[0]
        keys = self.logs.get(origin)
        if keys is None:
            return _refuse(404, f"unknown log {origin[:100]!r}")
        try:
            checkpoint = open_checkpoint(request.checkpoint, keys, origin=origin).checkpoint
        except SignatureError as exc:
            return _refuse(403, f"not signed by the log's key: {exc}", origin)
        except MalformedError as exc:
            return _refuse(400, f"malformed checkpoint: {exc}", origin)
        if request.old_size > checkpoint.size:
            return _refuse(400, f"old size {request.old_size} exceeds the checkpoint's {checkpoint.size}", origin)

        def decide(stored: Stored | None) -> tuple[Checkpoint, bytes]:
            held = stored.checkpoint if stored is not None else Checkpoint(origin, 0, merkle.EMPTY_ROOT)
            if request.old_size != held.size:
                raise _Conflict(
                    Answer(
                        409,
                        encode_size(held.size),
                        SIZE_CONTENT_TYPE,
                        origin,
                        f"old {request.old_size}, holds {held.size}",
                    )
                )
            try:
                check_consistent(held, checkpoint, request.proof)
            except ForkError as exc:
                if held.size == checkpoint.size:
                    raise _Conflict(_refuse(409, f"fork: {exc}", origin)) from exc
                raise _Conflict(_refuse(422, f"bad consistency proof: {exc}", origin)) from exc
            except MalformedError as exc:
                raise _Conflict(_refuse(422, f"bad consistency proof: {exc}", origin)) from exc
            return checkpoint, request.checkpoint

        try:
            self.store.advance(origin, decide)
        except _Conflict as conflict:
            if conflict.answer.status != 409 or conflict.answer.content_type != SIZE_CONTENT_TYPE:
                # Signed by the log yet inconsistent with what it showed us before: keep the evidence.
                log.warning(
                    "refused checkpoint of %s: size %d root %s (%s)",
                    origin,
                    checkpoint.size,
                    b64(checkpoint.root),
                    conflict.answer.outcome,
                )
            return conflict.answer
        timestamp = int(time.time()) if now is None else now
        signature = cosign(checkpoint, self.signer, timestamp)
        return Answer(200, encode_cosignatures([signature]), TEXT, origin, f"cosigned size {checkpoint.size}")

    def describe(self) -> dict[str, object]:
        """What ``GET /`` answers: the witness's key and the logs it follows, with the size it holds of each."""
        sizes = self.store.sizes()
        return {
            "witness": {"name": self.signer.name, "vkey": str(self.signer.verifier)},
            "logs": [
                {"origin": origin, "keys": [str(k) for k in keys], "size": sizes.get(origin)}
                for origin, keys in sorted(self.logs.items())
            ],
            "version": __version__,
        }


# --- HTTP ----------------------------------------------------------------------------------------------------------


class WitnessHTTPServer(ThreadingHTTPServer):
    """One thread per connection; counts the requests being decided so a stop lets them answer."""

    daemon_threads = True  # idle keep-alive connections do not hold up a stop
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], witness: Witness) -> None:
        self.witness = witness
        self.busy = 0
        self.idle = threading.Condition()
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, WitnessHandler)

    def process_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: object) -> None:
        if not self.slots.acquire(blocking=False):
            log.warning("%s refused: %d connections open", client_address, MAX_CONNECTIONS)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: object
    ) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def wait_idle(self, timeout: float) -> bool:
        with self.idle:
            return self.idle.wait_for(lambda: self.busy == 0, timeout)


class WitnessHandler(BaseHTTPRequestHandler):
    server: WitnessHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the specification recommends
    timeout = SOCKET_TIMEOUT_S
    server_version = f"plateledger-witness/{__version__}"

    def do_GET(self) -> None:
        if self.path in ("/", "/healthz"):
            body = json.dumps(self.server.witness.describe(), indent=2).encode() + b"\n"
            self._answer(Answer(200, body, "application/json", outcome="described"))
        else:
            self._answer(_refuse(404, f"no such path {self.path[:100]!r}; the witness serves POST /add-checkpoint"))

    def do_POST(self) -> None:
        if self.path != "/add-checkpoint":
            self._answer(_refuse(404, f"no such path {self.path[:100]!r}"))
            return
        if self.headers.get("Transfer-Encoding") is not None or self.headers.get("Content-Length") is None:
            self.close_connection = True
            self._answer(_refuse(411, "send the body with a Content-Length"))
            return
        try:
            length = int(self.headers["Content-Length"])
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._answer(_refuse(413 if length > 0 else 400, f"body must be 0..{MAX_BODY_BYTES} bytes"))
            return
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            return
        with self.server.idle:
            self.server.busy += 1
        try:
            self._answer(self.server.witness.add_checkpoint(body))
        finally:
            with self.server.idle:
                self.server.busy -= 1
                self.server.idle.notify_all()

    def _answer(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)
        log.info(
            "%s %s %s %d %s %s",
            self.client_address[0],
            self.command,
            self.path[:100],
            answer.status,
            answer.origin,
            answer.outcome,
        )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: :meth:`_answer` writes the one line per request."""

    def log_error(self, format: str, *args: object) -> None:
        log.info("%s %s", self.client_address[0], format % args)


def serve(witness: Witness, host: str, port: int, *, ready: threading.Event | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then let the requests being decided answer, and stop.

    Signals are caught when called from the main thread (the command line); ``ready`` is set once listening.
    """
    server = WitnessHTTPServer((host, port), witness)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("stopping on signal %d", signum)
            threading.Thread(target=server.shutdown, daemon=True).start()

    in_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)} if in_main else {}
    bound_host, bound_port = server.server_address[:2]
    log.info(
        "witness %s listening on http://%s:%d for %s",
        witness.signer.verifier,
        bound_host,
        bound_port,
        ", ".join(sorted(witness.logs)),
    )
    if ready is not None:
        ready.set()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        if not server.wait_idle(STOP_GRACE_S):
            log.warning("stopped with requests still being decided")
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("stopped")


def parse_logs(specs: Iterable[str]) -> dict[str, list[VerifierKey]]:
    """``ORIGIN=VKEY`` arguments (repeatable; several keys for one origin are allowed) to the logs followed."""
    logs: dict[str, list[VerifierKey]] = {}
    for spec in specs:
        origin, sep, vkey = spec.partition("=")
        if not sep or not origin or "\n" in origin:
            raise MalformedError(f"--log {spec[:60]!r} is not ORIGIN=VKEY")
        key = VerifierKey.parse(vkey)
        if key.type != SIG_ED25519:
            raise MalformedError(f"--log {origin}: the log key must be an Ed25519 (0x01) key")
        logs.setdefault(origin, []).append(key)
    if not logs:
        raise MalformedError("follow at least one log (--log ORIGIN=VKEY)")
    return logs


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6); port 0 picks a free one (the start-up line names it)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise MalformedError(f"--listen {text!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)

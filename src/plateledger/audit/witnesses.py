"""Pushing a signed checkpoint to the witnesses (C2SP tlog-witness ``add-checkpoint``), all at once.

Each witness gets ``old <the size it last said it holds>``, the consistency proof from that size to the new one,
and the checkpoint. A 409 answer (``text/x.tlog.size``) names the size it really holds: the push is retried once
from there. A 200 answer's cosignature is kept only when it is by the witness's policy key and verifies over the
checkpoint (timestamped Ed25519, type 0x04); anything else is that witness's failure, named. The wire format and
its checks are :func:`plateledger_verify.witness.submit` (one implementation, shared with the verifier's tests);
nothing here raises for one witness: every outcome is a :class:`WitnessResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx2

from plateledger_verify.errors import VerifyError
from plateledger_verify.note import Signature
from plateledger_verify.policy import PolicyWitness
from plateledger_verify.witness import AddCheckpoint, submit

#: Connect and read timeouts of one add-checkpoint call (a witness verifies and persists before answering).
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 10.0
ProofFor = Callable[[int, int], list[bytes]]


@dataclass(frozen=True)
class WitnessResult:
    """One witness's answer to one checkpoint: its cosignature, or why there is none."""

    name: str
    cosignature: Signature | None
    #: The tree size the witness holds after the call, when known (what ``old`` says next time).
    size: int | None
    error: str | None
    seconds: float

    @property
    def cosigned(self) -> bool:
        return self.cosignature is not None

    def as_json(self) -> dict[str, object]:
        return {"cosigned": self.cosigned, "size": self.size, "error": self.error, "seconds": round(self.seconds, 4)}


class WitnessClient:
    """An HTTP client for add-checkpoint (one connection pool, shared by the parallel pushes)."""

    def __init__(self, *, transport: httpx2.BaseTransport | None = None) -> None:
        self._http = httpx2.Client(
            timeout=httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            transport=transport,
            headers={"User-Agent": "plateledger-checkpointer"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def push_all(
        self,
        witnesses: Sequence[PolicyWitness],
        *,
        signed: bytes,
        size: int,
        old_sizes: dict[str, int],
        proof_for: ProofFor,
    ) -> list[WitnessResult]:
        """Push ``signed`` (the log's checkpoint of tree ``size``) to every witness in parallel."""
        if not witnesses:
            return []
        with ThreadPoolExecutor(max_workers=min(len(witnesses), 16), thread_name_prefix="plateledger-witness") as pool:
            futures = [
                pool.submit(self.push, w, signed=signed, size=size, old=old_sizes.get(w.name, 0), proof_for=proof_for)
                for w in witnesses
            ]
            return [f.result() for f in futures]

    def push(self, witness: PolicyWitness, *, signed: bytes, size: int, old: int, proof_for: ProofFor) -> WitnessResult:
        start = time.perf_counter()

        def result(cosignature: Signature | None, held: int | None, error: str | None) -> WitnessResult:
            return WitnessResult(witness.name, cosignature, held, error, time.perf_counter() - start)

        for _attempt in (1, 2):
            if old > size:
                return result(None, old, f"the witness holds tree size {old}, larger than this checkpoint's {size}")
            try:
                proof = proof_for(old, size) if 0 < old < size else []
                answer = submit(
                    self._http, witness.url or "", AddCheckpoint(old, tuple(proof), signed), key=witness.key
                )
            except VerifyError as exc:
                return result(None, None, f"{exc.__class__.__name__}: {str(exc)[:300]}")
            if isinstance(answer, int):  # 409: the size it holds; resend once from there
                old = answer
                continue
            return result(answer[0], size, None)
        return result(None, old, "HTTP 409 twice: the witness's tree size changed between two calls")

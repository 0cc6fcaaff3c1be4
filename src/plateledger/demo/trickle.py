"""Live reads for a served demo, so a newcomer sees alerts arrive.

Every ``interval_s`` seconds a few reads taken "now" at the demo agencies' fixed cameras are ingested through
the same service a camera integration uses (as each agency's device user, audited like any batch). About
``hit_share`` of them carry a plate of an active hot-list entry, so hot-list matching raises alerts (or, where
the camera owner's policy forbids it, withholds them) while the demo runs.
"""

from __future__ import annotations

import logging
import threading
from random import Random

import orjson

from plateledger.audit.log import Actor
from plateledger.platform import Platform
from plateledger.vocab import Role

log = logging.getLogger("plateledger.demo")
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


class Trickle:
    def __init__(
        self,
        platform: Platform,
        *,
        interval_s: float = 2.0,
        reads_per_tick: int = 4,
        hit_share: float = 0.25,
        seed: int = 7,
    ) -> None:
        self._platform = platform
        self._interval = interval_s
        self._per_tick = reads_per_tick
        self._hit_share = hit_share
        self._rng = Random(seed)  # noqa: S311 - simulated traffic, not a secret
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._found: list[tuple[Actor, int, list[str]]] | None = None

    def _sources(self) -> list[tuple[Actor, int, list[str]]]:
        """(device actor, agency id, fixed camera ids) of every agency with a device user and fixed cameras; looked
        up on the first tick and kept (the demo network does not change while it serves)."""
        if self._found is not None:
            return self._found
        found = []
        registry = self._platform.registry
        for agency in registry.agencies():
            cameras = [c.external_id for c in registry.cameras_unguarded(agency.id) if not c.mobile]
            device = next((u for u in registry.users(agency.id) if u.role == Role.DEVICE.value), None)
            if cameras and device is not None:
                actor = Actor(device.username, agency.id, device.id, Role.DEVICE.value)
                found.append((actor, agency.id, cameras))
        self._found = found
        return found

    def _random_plate(self) -> str:
        letters = "".join(self._rng.choices(_LETTERS, k=3))
        return f"{self._rng.randint(5, 9)}{letters}{self._rng.randint(0, 999):03d}"

    def tick(self) -> int:
        """Ingest one tick of live reads; return how many were stored."""
        sources = self._sources()
        if not sources:
            return 0
        now = self._platform.clock.now_ms()
        listed = [plate for _, _, _, plate, pattern, _ in self._platform.hotlists.active(now) if not pattern]
        batches: dict[int, tuple[Actor, list[bytes]]] = {}
        for _ in range(self._per_tick):
            actor, agency_id, cameras = self._rng.choice(sources)
            listed_hit = listed and self._rng.random() < self._hit_share
            plate = self._rng.choice(listed) if listed_hit else self._random_plate()
            line = orjson.dumps(
                {"plate": plate, "ts": now - self._rng.randint(0, 1500), "camera": self._rng.choice(cameras)}
            )
            batches.setdefault(agency_id, (actor, []))[1].append(line)
        stored = 0
        for agency_id, (actor, lines) in batches.items():
            agency = self._platform.registry.agency_by_id(agency_id)
            result = self._platform.ingest.store_lines(actor, agency, lines, channel="demo-live", source="demo")
            stored += result.stored
        return stored

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
            except Exception:
                log.exception("demo live reads: tick failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-live-reads", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

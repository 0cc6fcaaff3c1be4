"""Frigate NVR: license plates recognised by Frigate, received over MQTT (not HTTP, so not in ``SOURCES``).

Frigate publishes, under its topic prefix (``frigate`` by default):

* ``tracked_object_update`` with ``type: lpr`` — ``{id, plate, score (0-1), camera, timestamp (float s), name,
  plate_box}``, once per recognition attempt that produced a plate; other types (``description``, ``face``,
  ``classification``) carry no plate and are ignored;
* ``events`` — ``{type: new|update|end, before, after}``; ``after`` of a car carries ``recognized_license_plate``
  and ``recognized_license_plate_score``; ``type: end`` says the tracked object is gone.

One vehicle therefore produces several messages, all with the tracked object's ``id``. :func:`parse` turns one
message into a :class:`Sighting` (pure); :class:`Deduplicator` keeps the best plate per id and emits one
:class:`SourceRead` per vehicle: at the object's ``end`` event, or once no plate has come for the id for
``quiet_ms``, or early when more than ``max_pending`` ids are open (bounded memory). The read's ``read_id`` is the
tracked object id, so a read re-sent after a restart is stored once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from plateledger.adapters.base import SourceRead
from plateledger.adapters.normalise import Node, confidence, epoch_seconds, parse_json, plate, read_id
from plateledger.core.errors import FieldInvalid, PayloadTooLarge

#: The topics (under Frigate's prefix) the MQTT worker subscribes to.
TOPICS = ("tracked_object_update", "events")
#: Largest MQTT message accepted (Frigate's ``events`` messages are a few kB).
MAX_MESSAGE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Sighting:
    """What one message says about one tracked object: a plate (None for an ``end`` without one) and whether the
    object is gone."""

    object_id: str
    camera: str
    plate: str | None
    ts_ms: int
    source_ts: str
    score: float | None = None
    source_score: str | None = None
    final: bool = False


def parse(topic: str, payload: bytes) -> Sighting | None:
    """The sighting in one message on ``topic`` (``.../tracked_object_update`` or ``.../events``), or None for a
    message that says nothing about a plate. Bad messages raise FieldInvalid/InvalidInput/PayloadTooLarge."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    kind = topic.rsplit("/", 1)[-1]
    root = parse_json(payload)
    root.obj()
    if kind == "tracked_object_update":
        return _lpr_update(root)
    if kind == "events":
        return _event(root)
    raise FieldInvalid("topic", f"must end in one of {', '.join(TOPICS)}")


def _lpr_update(root: Node) -> Sighting | None:
    if root.require("type").text(64) != "lpr":
        return None  # description, face, classification: no plate
    text = root.get("plate")
    if text is None or not text.text(64).strip():
        return None
    score, source_score = _score(root.get("score"))
    stamp = root.require("timestamp")
    return Sighting(
        object_id=root.require("id").ident(),
        camera=root.require("camera").ident(),
        plate=plate(text),
        ts_ms=epoch_seconds(stamp),
        source_ts=stamp.raw(),
        score=score,
        source_score=source_score,
    )


def _event(root: Node) -> Sighting | None:
    kind = root.require("type").text(64)
    after = root.require("after")
    after.obj()
    final = kind == "end"
    text = after.get("recognized_license_plate")
    found = text is not None and text.text(64).strip() != ""
    if not found and not final:
        return None
    stamp = after.get("frame_time") or after.require("start_time")
    score, source_score = _score(after.get("recognized_license_plate_score")) if found else (None, None)
    return Sighting(
        object_id=after.require("id").ident(),
        camera=after.require("camera").ident(),
        plate=plate(text) if text is not None and found else None,
        ts_ms=epoch_seconds(stamp),
        source_ts=stamp.raw(),
        score=score,
        source_score=source_score,
        final=final,
    )


def _score(node: Node | None) -> tuple[float | None, str | None]:
    if node is None:
        return None, None
    return confidence(node, 1)


def _read(best: Sighting) -> SourceRead:
    assert best.plate is not None
    return SourceRead(
        plate=best.plate,
        ts_ms=best.ts_ms,
        camera=best.camera,
        source_ts=best.source_ts,
        read_id=read_id(best.object_id),
        confidence=best.score,
        source_confidence=best.source_score,
    )


def _better(new: Sighting, old: Sighting) -> bool:
    if new.score is None or old.score is None:
        return new.score is not None or old.score is None
    return new.score > old.score


class Deduplicator:
    """One read per tracked object, with the best-scored plate. Not thread-safe: one owner calls it.

    Times given to it (``now_ms``) are of a monotonic clock, independent of the reads' own times.
    """

    def __init__(self, *, quiet_ms: int, max_pending: int = 10_000, remember: int = 10_000) -> None:
        self.quiet_ms = quiet_ms
        self.max_pending = max_pending
        self.remember = remember
        #: object id -> (best sighting so far, monotonic ms of its last plate), oldest activity first
        self._open: OrderedDict[str, tuple[Sighting, int]] = OrderedDict()
        self._done: OrderedDict[str, None] = OrderedDict()
        self.late = 0

    @property
    def pending(self) -> int:
        return len(self._open)

    def offer(self, sighting: Sighting, now_ms: int) -> list[SourceRead]:
        """Take one sighting; return the reads it completes (its own at ``end``, or ones evicted by the bound)."""
        key = sighting.object_id
        if key in self._done:
            self.late += 1
            return []
        held = self._open.pop(key, None)
        best = held[0] if held else None
        if sighting.plate is not None and (best is None or _better(sighting, best)):
            best = sighting if best is None else replace(sighting, camera=best.camera)
        if sighting.final:
            return [self._emit(key, best)] if best is not None else []
        if best is None:
            return []
        self._open[key] = (best, now_ms)
        emitted: list[SourceRead] = []
        while len(self._open) > self.max_pending:
            old, (oldest, _) = self._open.popitem(last=False)
            emitted.append(self._emit(old, oldest))
        return emitted

    def flush(self, now_ms: int) -> list[SourceRead]:
        """Emit the objects that have had no plate for ``quiet_ms``."""
        emitted: list[SourceRead] = []
        while self._open:
            key, (best, seen) = next(iter(self._open.items()))
            if now_ms - seen < self.quiet_ms:
                break
            del self._open[key]
            emitted.append(self._emit(key, best))
        return emitted

    def drain(self) -> list[SourceRead]:
        """Emit every open object (at shutdown: nothing received is lost)."""
        emitted = [self._emit(key, best) for key, (best, _) in self._open.items()]
        self._open.clear()
        return emitted

    def _emit(self, key: str, best: Sighting) -> SourceRead:
        self._done[key] = None
        while len(self._done) > self.remember:
            self._done.popitem(last=False)
        return _read(best)

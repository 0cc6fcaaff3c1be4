"""The one storing layer for vendor payloads: what an adapter produced, stored for the owner agency.

HTTP (``POST /api/v1/ingest/{source}``) hands :meth:`VendorIngest.receive` the body as the equipment sent it,
with the credential's principal: the checks (a device token, a known source, the content type, the size) and the
adapter run here, and a refusal is audited (``ingest.refused``) before it is raised. MQTT, which adapts its
messages itself, calls :meth:`VendorIngest.store` with the owner agency (from the credential, never the payload)
and an :class:`~plateledger.adapters.base.Adapted`. It

* maps each read's vendor camera id onto the owner's cameras (an admin's mapping first, then the id itself);
* stores the reads of known cameras through :meth:`Ingestor.store_lines` — the same SQL validation,
  de-duplication, audit entry per batch and hot-list matching as every other read;
* holds the reads of unknown vendor camera ids in quarantine (``cameras/quarantine.py``);
* records camera health: the newest read per camera, and each heartbeat the source sent;
* stores the images sent with accepted reads, content-addressed (``images/store.py``).

The answer says what happened to every read (``stored``, ``duplicates``, ``rejected`` with index and reason,
``quarantined``) and to every other part of the payload (``ignored``, with reasons).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from plateledger.adapters import adapter
from plateledger.adapters.base import Adapted, SourceRead
from plateledger.agencies.registry import Registry
from plateledger.audit.log import Actor
from plateledger.auth.tokens import Principal, Tokens
from plateledger.cameras.health import Health
from plateledger.cameras.quarantine import Held, Quarantine
from plateledger.core.errors import InvalidInput, PlateledgerError, UnsupportedMediaType
from plateledger.core.text import check_camera_id
from plateledger.images.store import ImageStore
from plateledger.ingest.expiring import warnings
from plateledger.ingest.service import Ingestor, require_device
from plateledger.plates import normalise
from plateledger.store.models import Agency
from plateledger.store.reads import BatchResult

#: Content types an adapter may be sent (the adapter decides which of them its source uses).
CONTENT_TYPES = ("application/json", "text/json", "application/xml", "text/xml", "multipart/form-data", "text/plain")
NO_CAMERA = (
    "camera: required: this source's payload does not name its camera; "
    "send the camera id as ?camera=ID in the URL (or the source's serial-number header)"
)


@dataclass
class VendorResult:
    """What one vendor payload did. Indexes count the adapter's reads from 0."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    quarantined: int = 0
    ignored: list[str] = field(default_factory=list)
    heartbeats: int = 0
    images: int = 0
    #: What the sender should know about stored reads (``ingest/expiring.py``).
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected_count": len(self.rejected),
            "rejected": [{"index": i, "reason": r} for i, r in self.rejected],
            "quarantined": self.quarantined,
            "heartbeats": self.heartbeats,
            "images": self.images,
            "ignored": self.ignored,
            "warnings": self.warnings,
        }


def _check_media_type(content_type: str) -> None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media not in CONTENT_TYPES:
        raise UnsupportedMediaType(f"content-type: {media[:64]!r} is not one of {', '.join(CONTENT_TYPES)}")


def _default_camera(camera: str | None) -> str | None:
    return check_camera_id(camera) if camera else None


def _adapt(adapt: Callable[[bytes, str], Adapted], source: str, body: bytes, content_type: str) -> Adapted:
    """The adapter's answer; a payload it cannot read is an InvalidInput naming why, never a server error."""
    try:
        return adapt(body, content_type)
    except PlateledgerError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, OverflowError) as exc:
        raise InvalidInput(f"body: not a {source} payload this adapter can read ({exc.__class__.__name__})") from None


def image_read_id(source: str, read: SourceRead) -> str:
    """The read id given to a read that carries images but no id of its own, so the images can be linked to
    it: derived from the source, camera, time and plate, so a re-sent payload gets the same id."""
    digest = hashlib.sha256(f"{source}\0{read.camera}\0{read.ts_ms}\0{read.plate}".encode()).hexdigest()
    return f"{source[:16]}-{digest[:40]}"


class VendorIngest:
    def __init__(
        self,
        *,
        ingest: Ingestor,
        registry: Registry,
        quarantine: Quarantine,
        health: Health,
        images: ImageStore,
        tokens: Tokens,
    ) -> None:
        self._tokens = tokens
        self._ingest = ingest
        self._registry = registry
        self._quarantine = quarantine
        self._health = health
        self._images = images

    def receive(
        self,
        principal: Principal,
        source: str,
        body: bytes,
        *,
        content_type: str,
        camera: str | None = None,
        declared: int | None = None,
    ) -> VendorResult:
        """Adapt and store one payload sent over HTTP by a device of the owner agency. ``camera`` names the camera
        of reads whose payload names none (a query parameter or a serial-number header); ``declared`` the length the
        request declared, where it did. A refusal (not a device,
        an unknown source or content type, a bad camera id, a body too large or unreadable) is audited as
        ``ingest.refused`` and raised; nothing of a refused payload is stored."""
        with self._ingest.refusals(principal.actor, prefix=f"{source[:64]}: "):
            require_device(principal)
            adapt = adapter(source)
            _check_media_type(content_type)
            default_camera = _default_camera(camera)
            self._ingest.check_size(body, declared)
            adapted = _adapt(adapt, source, body, content_type)
        if default_camera is not None:
            adapted.reads = [r if r.camera else replace(r, camera=default_camera) for r in adapted.reads]
        owner = self._registry.agency_by_id(principal.agency_id)
        return self.store(principal.actor, owner, adapted, channel="http", source=source)

    def device(self, token: str | None, *, channel: str) -> Principal:
        """The device whose bearer ``token`` a worker of ``channel`` holds (checked at its start and on every
        batch): an unknown token is audited as ``auth.refused``, a user's that is not a device's as
        ``ingest.refused``, before the error is raised."""
        principal = self._tokens.authenticate(token, where=channel)
        with self._ingest.refusals(principal.actor, prefix=f"{channel}: "):  # audited as every door's refusal
            require_device(principal)
        return principal

    def receive_reads(self, token: str | None, reads: list[SourceRead], *, channel: str, source: str) -> VendorResult:
        """Store reads a long-lived worker adapted itself (MQTT: one batch of the broker's messages) for the device
        whose bearer ``token`` it holds: authenticated (a refusal audited as ``auth.refused``, where ``channel``),
        then a device's only (``ingest.refused``), then stored for the token's agency as :meth:`receive` does."""
        principal = self.device(token, channel=channel)
        owner = self._registry.agency_by_id(principal.agency_id)
        return self.store(principal.actor, owner, Adapted(reads=reads), channel=channel, source=source)

    def store(self, actor: Actor, owner: Agency, adapted: Adapted, *, channel: str, source: str) -> VendorResult:
        """Store what one payload produced for ``owner``; ``channel`` is ``http`` or ``mqtt``, ``source`` the
        adapter's name. Audited like any ingest batch (one ``ingest.batch`` entry, plus ``ingest.quarantined``
        when reads were held); raises only when the audit log or a store fails."""
        known = {c.external_id for c in self._registry.cameras_unguarded(owner.id)}
        aliases = self._quarantine.aliases(owner.id)
        result = VendorResult(ignored=list(adapted.ignored))
        reads: list[SourceRead] = []
        stored_idx: list[int] = []
        lines: list[bytes] = []
        held: list[Held] = []
        for index, read in enumerate(adapted.reads):
            if read.images and read.read_id is None:
                read = replace(read, read_id=image_read_id(source, read))
            camera = aliases.get(read.camera, read.camera)
            if camera != read.camera:
                read = replace(read, camera=camera)
            reads.append(read)
            line = orjson.dumps(read.canonical())
            if not camera:
                result.rejected.append((index, NO_CAMERA))
            elif camera in known:
                stored_idx.append(index)
                lines.append(line)
            else:
                held.append(Held(index, read.camera, line))
        rejected_at_start = {i for i, _ in result.rejected}

        def store_images(batch: BatchResult) -> None:
            # The stored reads' images, after the batch is committed and before its hot-list alerts are published:
            # an alert's image is on disk by the time the alert reaches a page, a webhook or MQTT (issue 20).
            refused = rejected_at_start | {stored_idx[i] for i, _ in batch.rejected}
            self._store_images(owner, [(i, reads[i]) for i in stored_idx if i not in refused], result)

        batch = self._ingest.store_lines(
            actor, owner, lines, channel=channel, source=source, before_alerts=store_images
        )
        result.stored, result.duplicates = batch.stored, batch.duplicates
        result.warnings = [w.message() for w in warnings(batch)]
        result.rejected.extend((stored_idx[i], reason) for i, reason in batch.rejected)
        if held:
            refused = self._quarantine.hold(actor, owner, held, channel=channel, source=source)
            result.rejected.extend(refused)
            result.quarantined = len(held) - len(refused)
            kept = {h.index for h in held} - {i for i, _ in refused}
            self._store_images(owner, [(i, reads[i]) for i in sorted(kept)], result)
        result.rejected.sort()
        for status in adapted.statuses:
            camera = aliases.get(status.camera, status.camera)
            if self._health.heartbeat(owner.id, camera, status.ts_ms, healthy=status.healthy, detail=status.detail):
                result.heartbeats += 1
            else:
                result.ignored.append(f"heartbeat: camera {status.camera[:64]!r} is not registered to this agency")
        return result

    def _store_images(self, owner: Agency, accepted: list[tuple[int, SourceRead]], result: VendorResult) -> None:
        for index, read in accepted:
            if not read.images or read.read_id is None:
                continue
            plate = normalise(read.plate)
            for image in read.images:
                problem = self._images.check(image)
                if problem is not None:
                    result.ignored.append(f"read {index}: {problem}; the read was kept without it")
                    continue
                self._images.put(owner.id, read.read_id, plate, read.ts_ms, image)
                result.images += 1

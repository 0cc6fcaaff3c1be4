"""What an adapter returns: canonical reads with the vendor's raw values, camera status, and what it ignored.

Adapters are pure: bytes in, :class:`Adapted` out, no I/O, no clock. Bad input raises
:class:`~plateledger.core.errors.FieldInvalid` with the field path and the rule (``results[0].plate``, ``must be a
string``), or :class:`~plateledger.core.errors.InvalidInput` for a body that is not the format at all; the API
turns either into a 4xx problem+json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Image:
    """A picture sent with a read: the plate crop or the overview (scene) image, decoded to bytes."""

    kind: Literal["plate", "overview"]
    content_type: str
    data: bytes


@dataclass(frozen=True)
class SourceRead:
    """One read as the canonical model holds it, plus the source's own values of time and confidence.

    ``confidence`` is on 0-1 whatever the vendor's scale; ``ts_ms`` is UTC epoch milliseconds. ``source_ts`` and
    ``source_confidence`` keep the vendor's values exactly as sent (as text), so a normalisation can be checked
    against the original later. ``vendor_alert`` names a vendor-side hot-list hit carried by the payload (it is
    recorded; Plateledger's own matching still applies). ``camera`` is the vendor's camera id, mapped to the
    owner's cameras (or quarantined) by the ingest layer.
    """

    plate: str
    ts_ms: int
    camera: str
    source_ts: str
    region: str | None = None
    read_id: str | None = None
    lat: float | None = None
    lon: float | None = None
    confidence: float | None = None
    source_confidence: str | None = None
    make: str | None = None
    model: str | None = None
    color: str | None = None
    vehicle_type: str | None = None
    direction: float | None = None
    vendor_alert: str | None = None
    images: tuple[Image, ...] = ()

    def canonical(self) -> dict[str, Any]:
        """The canonical read (ingest contract v1 plus ``source_ts``/``source_confidence``) as a JSON-able dict."""
        read: dict[str, Any] = {"plate": self.plate, "ts": self.ts_ms, "camera": self.camera}
        optional = {
            "read_id": self.read_id,
            "region": self.region,
            "lat": self.lat,
            "lon": self.lon,
            "confidence": self.confidence,
            "source_ts": self.source_ts,
            "source_confidence": self.source_confidence,
        }
        read.update({k: v for k, v in optional.items() if v is not None})
        vehicle = {
            k: v
            for k, v in {
                "make": self.make,
                "model": self.model,
                "color": self.color,
                "type": self.vehicle_type,
                "direction": self.direction,
            }.items()
            if v is not None
        }
        if vehicle:
            read["vehicle"] = vehicle
        return read


@dataclass(frozen=True)
class CameraStatus:
    """Camera health as the source reports it (a heartbeat): the camera, when, and what it said."""

    camera: str
    ts_ms: int
    healthy: bool = True
    detail: str = ""


@dataclass
class Adapted:
    """Everything one payload produced. ``ignored`` says, for each part not stored, why (a test ping, a vehicle
    without a plate ...), so the endpoint can answer what it did with every part of the payload."""

    reads: list[SourceRead] = field(default_factory=list)
    statuses: list[CameraStatus] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

"""What the reads store knows of a registered camera: a snapshot of a governance ``Camera`` row.

Ingest hands the owner's cameras to the reads store with every batch (``ReadsStore.ingest_block``), which fills a
fixed camera's position into its reads and rejects reads of unknown cameras. The registry
(``agencies/registry.py``) builds these from the governance store; the store depends on nothing above it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CameraInfo:
    external_id: str
    name: str
    mobile: bool
    lat: float | None
    lon: float | None

"""A backup's ``manifest.json``: what the backup holds, written last (a backup without one is incomplete).

The audit head (sequence and hash) is the governance snapshot's, taken while the reads store's write lock was held, so
every ingest batch audited up to that head had its reads stored in the frozen parts, and none after it had.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from plateledger.core.errors import BackupInvalid

FORMAT = 1
NAME = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    made_ms: int
    version: str
    audit_seq: int
    audit_hash: str
    per_owner: dict[str, int] = field(default_factory=dict)
    images: int = 0
    governance: str = "sqlite"
    format: int = FORMAT

    @property
    def reads(self) -> int:
        return sum(self.per_owner.values())

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, directory: Path) -> None:
        path = directory / NAME
        tmp = directory / (NAME + ".tmp")
        with open(tmp, "wb") as handle:
            handle.write(orjson.dumps(self.as_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        path = directory / NAME
        try:
            raw = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise BackupInvalid(f"{directory} is not a complete backup: it has no {NAME}") from None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise BackupInvalid(f"{path} cannot be read: {exc}") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise BackupInvalid(f"{path}: not a backup manifest of format {FORMAT}")
        try:
            return cls(
                made_ms=int(raw["made_ms"]),
                version=str(raw["version"]),
                audit_seq=int(raw["audit_seq"]),
                audit_hash=str(raw["audit_hash"]),
                per_owner={str(k): int(v) for k, v in dict(raw["per_owner"]).items()},
                images=int(raw.get("images", 0)),
                governance=str(raw.get("governance", "sqlite")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupInvalid(f"{path}: missing or bad field {exc}") from None

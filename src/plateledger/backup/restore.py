"""``plateledger restore``, first half: put a backup's files into a new data directory (``Platform.restore`` then
opens it and has :meth:`Backups.check_restored` verify it)."""

from __future__ import annotations

from pathlib import Path

from plateledger.backup.manifest import Manifest
from plateledger.backup.service import copy_images, empty_target
from plateledger.core.errors import BackupInvalid, ConfigurationError, StoreUnavailable
from plateledger.core.settings import Settings
from plateledger.store.reads import ReadsStore
from plateledger.store.snapshot import TABLES, attach, copy_file


def check_source(src: Path, settings: Settings) -> Manifest:
    """The backup's manifest, once the source looks complete and the target is new and empty."""
    if settings.database_url is not None:
        raise ConfigurationError(
            "plateledger restore writes a SQLite governance store in the new directory: unset database_url "
            "(with PostgreSQL, restore the database with pg_restore as docs/operations.md describes)"
        )
    manifest = Manifest.load(src)
    missing = [str(p) for p in (src / "governance.db", *(src / "reads" / t for t in TABLES)) if not p.exists()]
    if missing:
        raise BackupInvalid(f"{src} is incomplete: {', '.join(missing)} missing")
    empty_target(settings.data)
    return manifest


def unpack(src: Path, settings: Settings) -> None:
    """Copy the governance database, attach the reads store's parts and copy the images."""
    settings.data.mkdir(parents=True, exist_ok=True)
    copy_file(str(src / "governance.db"), str(settings.data / "governance.db"))
    store = ReadsStore(settings.reads_dir)
    try:
        attach(store, src / "reads")
    except (StoreUnavailable, RuntimeError, OSError) as exc:
        text = (getattr(exc, "__notes__", None) or [str(exc)])[0]  # the engine's message, kept as a note
        first = text.splitlines()[0][:300] if text else exc.__class__.__name__
        raise BackupInvalid(f"the backup's reads store cannot be restored: {first}") from exc
    finally:
        store.close()
    copy_images(src / "images", settings.images_dir)

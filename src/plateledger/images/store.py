"""Plate crops and overview images, stored content-addressed under ``DATA/images``.

Each picture is written once as ``images/ab/cdef...`` (its SHA-256), however many reads link to it; the link
(owner, read id, kind) is a ``read_images`` row in the governance store that also keeps the read's plate and time,
so the image is served only through a gate-decided plate search for that read (``search/image.py``) and expires
with the read (:meth:`ImageStore.expire`, called by retention after the reads are deleted). A blob no link refers
to any more is deleted from disk, with its thumbnail (``images/thumbs/ab/cdef...``, made on first view:
``images/thumbs.py``).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select

from plateledger.adapters.base import Image
from plateledger.core.clock import Clock
from plateledger.core.errors import NotFound
from plateledger.images import thumbs
from plateledger.store.governance import Governance, owners_holding
from plateledger.store.models import ReadImage

#: Content types stored; anything else sent as an image is refused (it is not served back as HTML, scripts ...).
CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"})
_SHA = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredImage:
    owner_id: int
    read_id: str
    kind: str
    sha256: str
    content_type: str
    size: int
    plate: str
    read_ms: int


class ImageStore:
    def __init__(self, *, root: Path, governance: Governance, clock: Clock, max_bytes: int) -> None:
        self._root = root
        self._gov = governance
        self._clock = clock
        self.max_bytes = max_bytes

    def _path(self, sha256: str) -> Path:
        if not _SHA.fullmatch(sha256):
            raise ValueError("not a sha256")
        return self._root / sha256[:2] / sha256[2:]

    def _thumb_path(self, sha256: str) -> Path:
        blob = self._path(sha256)
        return self._root / "thumbs" / blob.parent.name / blob.name

    def check(self, image: Image) -> str | None:
        """Why ``image`` cannot be stored, or None."""
        if image.content_type not in CONTENT_TYPES:
            return f"{image.kind} image: content type {image.content_type[:64]!r} is not one of " + ", ".join(
                sorted(CONTENT_TYPES)
            )
        if len(image.data) > self.max_bytes:
            return f"{image.kind} image: larger than {self.max_bytes} bytes"
        if not image.data:
            return f"{image.kind} image: empty"
        return None

    def put(self, owner_id: int, read_id: str, plate: str, read_ms: int, image: Image) -> StoredImage:
        """Write the blob (once, atomically) and link it to the read; a second image of the same kind for the
        same read replaces the link. Call :meth:`check` first."""
        digest = hashlib.sha256(image.data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
                handle.write(image.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(handle.name, path)
        with self._gov.session() as session:
            link = session.scalars(
                select(ReadImage).where(
                    ReadImage.owner_id == owner_id, ReadImage.read_id == read_id, ReadImage.kind == image.kind
                )
            ).one_or_none()
            if link is None:
                link = ReadImage(owner_id=owner_id, read_id=read_id, kind=image.kind, created_ms=self._clock.now_ms())
                session.add(link)
            link.sha256, link.content_type, link.size = digest, image.content_type, len(image.data)
            link.plate, link.read_ms = plate, read_ms
        return StoredImage(owner_id, read_id, image.kind, digest, image.content_type, len(image.data), plate, read_ms)

    def find(self, owner_id: int, read_id: str, kind: str) -> StoredImage:
        """The link of a read's image (no bytes: those come from :meth:`data`, after the gate said yes)."""
        found = self.find_link(owner_id, read_id, kind)
        if found is None:
            raise NotFound(f"no {kind} image for that read")
        return found

    def find_link(self, owner_id: int, read_id: str, kind: str) -> StoredImage | None:
        """:meth:`find`, with None for a read without such an image."""
        with self._gov.session() as session:
            link = session.scalars(
                select(ReadImage).where(
                    ReadImage.owner_id == owner_id, ReadImage.read_id == read_id, ReadImage.kind == kind
                )
            ).one_or_none()
        if link is None:
            return None
        return StoredImage(
            link.owner_id, link.read_id, link.kind, link.sha256, link.content_type, link.size, link.plate, link.read_ms
        )

    def linked(self, reads: Mapping[int, Iterable[str]]) -> dict[tuple[int, str], set[str]]:
        """The kinds of image each of ``reads`` (read ids per owner id) has, by (owner id, read id); a read without
        any is left out."""
        found: dict[tuple[int, str], set[str]] = {}
        with self._gov.session() as session:
            for owner_id, read_ids in reads.items():
                wanted = sorted(set(read_ids))
                for start in range(0, len(wanted), 500):
                    rows = session.execute(
                        select(ReadImage.owner_id, ReadImage.read_id, ReadImage.kind).where(
                            ReadImage.owner_id == owner_id, ReadImage.read_id.in_(wanted[start : start + 500])
                        )
                    ).all()
                    for row_owner, row_read, kind in rows:
                        found.setdefault((row_owner, row_read), set()).add(kind)
        return found

    def data(self, image: StoredImage) -> bytes:
        try:
            return self._path(image.sha256).read_bytes()
        except FileNotFoundError:
            raise NotFound("the image's file is missing from the data directory") from None

    def thumbnail(self, image: StoredImage) -> tuple[bytes, str]:
        """The thumbnail of ``image`` and its content type: from the cache, else made from the blob and cached
        (written atomically; two first views at once both write the same bytes). An image Pillow cannot read is
        answered as stored. Only after the gate said yes, like :meth:`data`."""
        path = self._thumb_path(image.sha256)
        try:
            return path.read_bytes(), thumbs.CONTENT_TYPE
        except FileNotFoundError:
            pass
        data = self.data(image)
        small = thumbs.render(data)
        if small is None:
            return data, image.content_type
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(small)
        os.replace(handle.name, path)
        return small, thumbs.CONTENT_TYPE

    def expire(self, limits: Mapping[int, tuple[int, int]], held: Iterable[tuple[int, str]]) -> int:
        """Delete the links of reads retention deleted: per owner id (cutoff ms, hit cutoff ms), a read older than
        the hit cutoff, or older than the cutoff and not in ``held`` (the rule of ``store/sql.py``'s EXPIRED).
        Blobs left without a link are removed from disk. Returns the links deleted."""
        held_set = set(held)
        deleted = 0
        orphans: set[str] = set()
        with self._gov.session() as session:
            for owner_id in owners_holding(session, ReadImage.owner_id, limits):
                cutoff, hit_cutoff = limits[owner_id]
                rows = session.execute(
                    select(ReadImage.id, ReadImage.read_id, ReadImage.sha256, ReadImage.read_ms).where(
                        ReadImage.owner_id == owner_id, ReadImage.read_ms < cutoff
                    )
                ).all()
                gone = [
                    (row_id, sha)
                    for row_id, read_id, sha, ts in rows
                    if ts < hit_cutoff or (owner_id, read_id) not in held_set
                ]
                for start in range(0, len(gone), 500):
                    chunk = gone[start : start + 500]
                    session.execute(delete(ReadImage).where(ReadImage.id.in_([i for i, _ in chunk])))
                deleted += len(gone)
                orphans.update(sha for _, sha in gone)
            # Files go inside the links' transaction, before it commits: a crash after the commit would otherwise
            # leave files no link refers to, which no later run finds. A failed commit leaves links to missing
            # files of expired reads, which the rerun of the retention run deletes.
            for sha in sorted(orphans):
                if session.scalar(select(ReadImage.id).where(ReadImage.sha256 == sha).limit(1)) is None:
                    self._path(sha).unlink(missing_ok=True)
                    self._thumb_path(sha).unlink(missing_ok=True)
        return deleted

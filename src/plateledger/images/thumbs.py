"""Thumbnails of stored images: small JPEGs made with Pillow on first view and kept in a cache beside the blobs.

A thumbnail is made from the blob it shows, so it is keyed by the blob's SHA-256 (``images/thumbs/ab/cdef...``,
a folder name no blob folder has) and is removed with the blob when retention deletes the last link to it
(:meth:`ImageStore.expire`). The cache is not backed up: any thumbnail can be made again from its blob.

It is only ever made and read after the gate let the caller see the image (``search/image.py``): a thumbnail is
the same access to the read as its full image, decided and audited the same way.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

#: The largest width and height of a thumbnail, in pixels (a table cell or an alert card at twice its CSS size).
BOX = (240, 160)
CONTENT_TYPE = "image/jpeg"
QUALITY = 80


def render(data: bytes) -> bytes | None:
    """A JPEG of ``data`` fitted into :data:`BOX` (upright by its EXIF orientation; never enlarged), or None when
    Pillow cannot read it (a corrupt or unusual file, or one far larger in pixels than an image should be): the
    caller then serves the image as stored."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                opened.draft("RGB", BOX)  # JPEG: decode at a reduced scale, far faster for large overviews
                picture = ImageOps.exif_transpose(opened).convert("RGB")
        picture.thumbnail(BOX)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=QUALITY, optimize=True)
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        return None
    return out.getvalue()

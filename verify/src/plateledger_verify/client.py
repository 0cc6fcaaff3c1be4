"""An HTTP client for a log served in the C2SP tlog-tiles layout, and for an agency's transparency figures.

Under a base URL (a Plateledger server, or any static mirror of its ``/log/`` tree)::

    <url>/log/checkpoint                         the latest published checkpoint (a signed note)
    <url>/log/tile/<L>/<N>[.p/<W>]               hash tiles
    <url>/log/tile/entries/<N>[.p/<W>]           entry bundles (leaf data, uint16-length-prefixed)
    <url>/transparency/<agency>.json?month=M     the agency's published figures for a calendar month

Nothing the client returns is trusted: :mod:`.logview` proves every hash and leaf against a verified checkpoint.
The client only bounds what it reads (a size limit per kind of response, a timeout per request) and turns every
transport failure into a :class:`~.errors.FetchError` naming the URL. As tlog-tiles allows, a partial tile or
bundle that is gone (the tile filled up) is fetched full, and a full answer to a partial request is accepted
(its first ``W`` hashes or entries are the partial tile).
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx2

from plateledger_verify import __version__, merkle
from plateledger_verify.errors import FetchError, MalformedError
from plateledger_verify.tiles import FULL_TILE_BYTES, MAX_ENTRY_SIZE, TILE_WIDTH, TileRef, decode_bundle

#: A checkpoint is a few lines and at most 100 signatures: far below this.
MAX_CHECKPOINT_BYTES = 64 * 1024
#: The largest bundle the format allows: 256 entries of the largest size.
MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_SIZE)
MAX_JSON_BYTES = 4 * 1024 * 1024
DEFAULT_TIMEOUT_S = 30.0


class LogClient:
    """Reads a log (and transparency figures) from ``url``; use as a context manager, or call :meth:`close`."""

    def __init__(
        self, url: str, *, timeout: float = DEFAULT_TIMEOUT_S, transport: httpx2.BaseTransport | None = None
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise MalformedError(f"log URL {url!r} is not http:// or https://")
        self.url = url.rstrip("/")
        self._client = httpx2.Client(
            timeout=timeout,
            follow_redirects=True,
            max_redirects=5,
            transport=transport,
            headers={"User-Agent": f"plateledger-verify/{__version__}"},
        )

    def __enter__(self) -> LogClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, path: str, limit: int, *, params: dict[str, str] | None = None, missing_ok: bool = False) -> bytes:
        """The body of ``GET <url>/<path>``, at most ``limit`` bytes; b"" for a 404 when ``missing_ok``."""
        url = f"{self.url}/{path}"
        try:
            with self._client.stream("GET", url, params=params) as response:
                if response.status_code == 404 and missing_ok:
                    return b""
                if response.status_code != 200:
                    raise FetchError(f"GET {url}: HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    raise FetchError(f"GET {url}: {declared} bytes, more than the {limit} allowed")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise FetchError(f"GET {url}: more than the {limit} bytes allowed")
                return bytes(body)
        except httpx2.HTTPError as exc:
            raise FetchError(f"GET {url}: {type(exc).__name__}: {exc}") from exc

    def checkpoint(self) -> bytes:
        """The latest published checkpoint, as served (verify it with :mod:`.policy`)."""
        return self.get("log/checkpoint", MAX_CHECKPOINT_BYTES)

    def tile(self, ref: TileRef) -> bytes:
        """The hashes of tile ``ref``: ``ref.width`` hashes (a partial tile's full tile cut to its width)."""
        if ref.is_entries:
            raise ValueError("an entry bundle is fetched with bundle()")
        data = self.get(f"log/{ref.path}", FULL_TILE_BYTES, missing_ok=ref.is_partial)
        if not data and ref.is_partial:
            data = self.get(f"log/{ref.full().path}", FULL_TILE_BYTES)
        want = ref.width * merkle.HASH_SIZE
        if ref.is_partial and len(data) > want and len(data) % merkle.HASH_SIZE == 0:
            data = data[:want]  # the tile grew since: its first W hashes are the partial tile
        if len(data) != want:
            raise MalformedError(f"tile {ref.path} is {len(data)} bytes, not {ref.width} hashes")
        return data

    def bundle(self, ref: TileRef) -> list[bytes]:
        """The entries of bundle ``ref`` (``ref.width`` of them; a grown bundle is cut to that width)."""
        if not ref.is_entries:
            raise ValueError("a hash tile is fetched with tile()")
        data = self.get(f"log/{ref.path}", MAX_BUNDLE_BYTES, missing_ok=ref.is_partial)
        if not data and ref.is_partial:
            data = self.get(f"log/{ref.full().path}", MAX_BUNDLE_BYTES)
        entries = decode_bundle(data)
        if len(entries) < ref.width or (len(entries) > ref.width and not ref.is_partial):
            raise MalformedError(f"bundle {ref.path} holds {len(entries)} entries, not {ref.width}")
        return entries[: ref.width]

    def transparency(self, agency: str, month: str) -> dict[str, Any]:
        """The agency's published transparency report for ``month`` (``YYYY-MM``), as JSON."""
        path = f"transparency/{quote(agency, safe='')}.json"
        data = self.get(path, MAX_JSON_BYTES, params={"month": month})
        try:
            report = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedError(f"{self.url}/{path}: not JSON: {exc}") from exc
        if not isinstance(report, dict):
            raise MalformedError(f"{self.url}/{path}: not a JSON object")
        return report

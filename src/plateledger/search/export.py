"""A search's answer as a file (CSV, GeoJSON, KML or a PDF case packet), and the audit entry of the download.

An export runs the search again, through the gate and audited like any other (so a refused export is a refused
search, answered and audited as one); the file is made from that answer only, then the download is recorded
(``search.exported``, naming the search's entry, the format and the rows of each owner, so each owner's access
log shows it) before the file is handed over. Every CSV row states the purpose and case the reads were obtained
under. Text cells that a spreadsheet would run as a formula are escaped (:mod:`plateledger.core.csvsafe`);
numbers stay numbers. GeoJSON and KML: :mod:`plateledger.search.geoexport`; the case packet:
:mod:`plateledger.search.packet` (its plate images go through the image gate, each audited).
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from plateledger.agencies.registry import Registry
from plateledger.audit.checkpoints import Checkpointer
from plateledger.audit.events import SearchExported
from plateledger.audit.log import AuditLog
from plateledger.audit.proofs import entry_proof
from plateledger.audit.tree import LogTree
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.csvsafe import SafeWriter
from plateledger.core.errors import ApprovalRequired, FieldInvalid, NotFound, PermissionDenied, TooManyRequests
from plateledger.images.store import ImageStore
from plateledger.search.area import AreaSearch, AreaSearches
from plateledger.search.description import DescriptionSearch, DescriptionSearches
from plateledger.search.engine import SearchResult
from plateledger.search.geoexport import flat_rows, geojson_bytes, kml_bytes
from plateledger.search.image import ImageAsk, ImageViews
from plateledger.search.packet import MAX_IMAGES, Camera, Packet, PacketImage, render_pdf
from plateledger.search.plate import PlateSearch, PlateSearches

COLUMNS = (
    "ts",
    "plate",
    "plate_as_read",
    "region",
    "camera",
    "lat",
    "lon",
    "confidence",
    "make",
    "model",
    "color",
    "type",
    "direction",
    "owner",
    "read_id",
    "purpose",
    "case_number",
    "warrant",
)


def csv_text(result: SearchResult) -> str:
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(COLUMNS)
    for row in flat_rows(result):
        row.update(purpose=result.purpose, case_number=result.case_number, warrant=result.warrant)
        writer.writerow(row.get(c) for c in COLUMNS)
    return buffer.getvalue()


def record_export(audit: AuditLog, principal: Principal, result: SearchResult, fmt: str) -> int:
    """Put the download of ``result`` as ``fmt`` on the audit log (fails closed like any access): its entry."""
    return audit.append(
        principal.actor,
        SearchExported(
            purpose=result.purpose,
            case_number=result.case_number,
            search_seq=result.audit_seq,
            format=fmt,
            rows=len(result.reads),
            per_owner=dict(Counter(result.owner_slugs[read.owner] for read in result.reads)),
        ),
    )


#: Each format's media type and file extension.
FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "geojson": ("application/geo+json", "geojson"),
    "kml": ("application/vnd.google-earth.kml+xml", "kml"),
    "pdf": ("application/pdf", "pdf"),
}
#: The searches an export can run, by the API's path name.
#: What a search asks for.
Ask = PlateSearch | AreaSearch | DescriptionSearch
KINDS: dict[str, type[Ask]] = {"plate": PlateSearch, "area": AreaSearch, "description": DescriptionSearch}
#: Parameters whose API name is not the field's (a Python keyword or builtin).
PARAMETER_FIELDS = {"type": "vehicle_type"}


def check_format(fmt: str | None) -> str:
    if fmt not in FORMATS:
        raise FieldInvalid("format", "one of " + ", ".join(FORMATS))
    return fmt


def ask_of(kind: str, params: Mapping[str, str]) -> Ask:
    """The search an export asks for, from the parameters of the search it exports (those of ``GET
    /api/v1/search/{kind}``, as strings: the search service validates each). An unknown name is refused."""
    cls = KINDS.get(kind)
    if cls is None:
        raise NotFound(f"no {kind[:32]!r} search to export; one of " + ", ".join(KINDS))
    params = {PARAMETER_FIELDS.get(name, name): value for name, value in params.items()}
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - names)
    if unknown:
        raise FieldInvalid(unknown[0][:64], f"not a parameter of the {kind} search")
    given = {"purpose": None, "case_number": None, **params}
    if cls is PlateSearch:
        given.setdefault("plate", None)
    return cls(**given)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ExportFile:
    result: SearchResult
    body: bytes
    format: str
    #: The download's ``search.exported`` entry.
    audit_seq: int

    @property
    def media_type(self) -> str:
        return FORMATS[self.format][0]

    @property
    def filename(self) -> str:
        case = re.sub(r"[^A-Za-z0-9_-]", "_", self.result.case_number)
        return f"plateledger-{case}-{self.result.audit_seq}.{FORMATS[self.format][1]}"


class SearchExports:
    """A search's answer as a download, in one call: the search (gated and audited like any other), the file
    made from its answer (a case packet's images each through the image gate), then the ``search.exported``
    entry, then the file."""

    def __init__(
        self,
        *,
        audit: AuditLog,
        plates: PlateSearches,
        areas: AreaSearches,
        descriptions: DescriptionSearches,
        image_views: ImageViews,
        images: ImageStore,
        registry: Registry,
        checkpoints: Checkpointer,
        clock: Clock,
        font: Path | None,
    ) -> None:
        self._audit = audit
        self._plates = plates
        self._areas = areas
        self._descriptions = descriptions
        self._image_views = image_views
        self._store = images
        self._registry = registry
        self._checkpoints = checkpoints
        self._clock = clock
        self._font = font

    def export(self, principal: Principal, ask: Ask, fmt: str | None) -> ExportFile:
        """Run ``ask`` for ``principal`` and return its answer as ``fmt``, once the download is audited."""
        fmt = check_format(fmt)
        if isinstance(ask, AreaSearch):
            result = self._areas.search(principal, ask)
        elif isinstance(ask, DescriptionSearch):
            result = self._descriptions.search(principal, ask)
        else:
            result = self._plates.search(principal, ask)
        if fmt == "csv":
            body = csv_text(result).encode()
        elif fmt == "geojson":
            body = geojson_bytes(result)
        elif fmt == "kml":
            body = kml_bytes(result)
        else:
            body = self._packet(principal, result)
        seq = record_export(self._audit, principal, result, fmt)
        return ExportFile(result=result, body=body, format=fmt, audit_seq=seq)

    def csv(self, principal: Principal, ask: Ask) -> tuple[SearchResult, str]:
        """Run ``ask`` for ``principal`` and return its result with the CSV, once the download is audited."""
        done = self.export(principal, ask, "csv")
        return done.result, done.body.decode()

    def _packet(self, principal: Principal, result: SearchResult) -> bytes:
        tree: LogTree = self._audit.tree
        proof = entry_proof(tree, self._checkpoints, result.audit_seq)
        cameras = [
            Camera(c.name, c.lat, c.lon)
            for c in self._registry.camera_list(principal, principal.agency_id)
            if c.lat is not None and c.lon is not None
        ]
        images, left_out = self._images(principal, result)
        packet = Packet(
            result=result,
            requester=principal,
            generated_ms=self._clock.now_ms(),
            proof=proof,
            cameras=cameras,
            images=images,
            images_left_out=left_out,
        )
        return render_pdf(packet, self._font)

    def _images(self, principal: Principal, result: SearchResult) -> tuple[list[PacketImage], int]:
        """The plate images of the answer's reads that the requester may see, each through the image gate (an
        ``image.viewed`` entry each, in the owner's access log); at most MAX_IMAGES, the rest counted."""
        images: list[PacketImage] = []
        left_out = 0
        for number, read in enumerate(result.reads, 1):
            if self._store.find_link(read.owner, read.read_id, "plate") is None:
                continue  # no image of a read the gate just let the requester see: nothing to fetch
            if len(images) >= MAX_IMAGES:
                left_out += 1
                continue
            ask = ImageAsk(
                owner=result.owner_slugs[read.owner],
                read_id=read.read_id,
                kind="plate",
                purpose=result.purpose,
                case_number=result.case_number,
                warrant=result.warrant,
            )
            try:
                viewed = self._image_views.view(principal, ask)
            except (NotFound, PermissionDenied, ApprovalRequired, TooManyRequests):
                continue  # refused or gone since the search: audited by the image gate, and not in the packet
            caption = f"{read.plate} {iso_ms(read.ts_ms)} {read.camera}"
            images.append(PacketImage(number=number, caption=caption, data=viewed.data, audit_seq=viewed.audit_seq))
        return images, left_out

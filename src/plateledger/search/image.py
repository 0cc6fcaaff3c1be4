"""Serving a read's image: a plate search for that one read, through the same gate and audit as any search.

An image is an access to the read it shows, so it needs what a search of that read needs — a purpose, a case
(and a warrant where the owner's policy requires one for the read's age) — and the gate decides it exactly as
it decides a plate search (``SearchEngine.run`` with the image link's plate and time). The bytes leave only
when the gate returned the read; the access is on the audit log (``image.viewed``, or ``search.refused``)
before the answer. An image that does not exist and one the caller may not see get the same 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from plateledger.agencies.registry import Registry
from plateledger.audit.events import ImageViewed
from plateledger.auth.tokens import Principal
from plateledger.core.errors import FieldInvalid, NotFound, PlateledgerError
from plateledger.core.text import VISIBLE_64
from plateledger.images.store import ImageStore, StoredImage
from plateledger.search.engine import SearchEngine, validate_purpose_case, validate_warrant
from plateledger.store.queries import PlateQuery
from plateledger.store.reads import ReadsStore
from plateledger.vocab import QueryKind

KINDS = ("plate", "overview")
UNAVAILABLE = "no such image, or no image of that read you may see under this purpose and case"


@dataclass(frozen=True)
class ImageAsk:
    """An image request as sent (validated by :meth:`ImageViews.view`)."""

    owner: str
    read_id: str
    kind: str
    purpose: str | None
    case_number: str | None
    warrant: str | None = None

    def audit_params(self) -> dict[str, object]:
        return {"owner": self.owner[:64], "read_id": self.read_id[:64], "image": self.kind[:16]}


@dataclass(frozen=True)
class ViewedImage:
    image: StoredImage
    data: bytes
    audit_seq: int


class ImageViews:
    def __init__(self, *, reads: ReadsStore, engine: SearchEngine, images: ImageStore, registry: Registry) -> None:
        self._reads = reads
        self._engine = engine
        self._images = images
        self._registry = registry

    def view(self, principal: Principal, ask: ImageAsk) -> ViewedImage:
        try:
            purpose, case_number = validate_purpose_case(ask.purpose, ask.case_number)
            warrant = validate_warrant(ask.warrant)
            if ask.kind not in KINDS:
                raise FieldInvalid("kind", "plate or overview")
            if not VISIBLE_64.fullmatch(ask.read_id):
                raise FieldInvalid("read_id", "1-64 printable characters")
            owner = self._registry.agency(ask.owner)
            link = self._images.find(owner.id, ask.read_id, ask.kind)
        except PlateledgerError as refusal:
            reason = UNAVAILABLE if isinstance(refusal, NotFound) else refusal.detail
            self._engine.refuse(
                principal,
                QueryKind.PLATE,
                reason,
                purpose=ask.purpose,
                case_number=ask.case_number,
                query=ask.audit_params(),
            )
            if isinstance(refusal, NotFound):
                raise NotFound(UNAVAILABLE) from None
            raise
        query = PlateQuery(plate=link.plate, since_ms=link.read_ms, until_ms=link.read_ms + 1, limit=10_000)
        result = self._engine.run(
            principal,
            event=ImageViewed,
            kind=QueryKind.PLATE,
            purpose=purpose,
            case_number=case_number,
            query=ask.audit_params(),
            since_ms=link.read_ms,
            limit=1,
            fetch=lambda permit: [
                r for r in self._reads.plate_history(permit, query) if r.owner == owner.id and r.read_id == link.read_id
            ],
            warrant=warrant,
        )
        if not result.reads:
            raise NotFound(UNAVAILABLE)
        return ViewedImage(image=link, data=self._images.data(link), audit_seq=result.audit_seq)

"""Serving a read's image: a plate search for that one read, through the same gate and audit as any search.

An image is an access to the read it shows, so it needs what a search of that read needs — a purpose, a case
(and a warrant where the owner's policy requires one for the read's age) — and the gate decides it exactly as
it decides a plate search (``SearchEngine.run`` with the image link's plate and time). The bytes leave only
when the gate returned the read; the access is on the audit log (``image.viewed``, or ``search.refused``)
before the answer, naming the image's owner only (so it is in that owner's access log, and no other's).

An image that does not exist and one the caller may not see get the same 404 *and the same audit entry*: the
owner is decided first, and its images are looked at only when it lets the caller see reads of that age; a
refusal names the owner with the gate's rule. When the owner lets the caller see reads of that age and there is
no such image in that window (not stored yet, never sent, a made-up id, or a read older than the window), the
request is a permitted search that found nothing: ``image.viewed`` with 0 reads, never ``search.refused``.

A thumbnail (``size`` ``thumb``: a small JPEG made on first view, ``images/thumbs.py``) is the same access as the
full image and takes the same path: each thumbnail shown is its own ``image.viewed`` entry (its parameters say
``"size": "thumb"``), decided by the gate when it is viewed. docs/audit.md gives the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from plateledger.agencies.registry import Registry
from plateledger.audit.events import ImageViewed
from plateledger.auth.tokens import Principal
from plateledger.core.errors import FieldInvalid, NotFound, PlateledgerError
from plateledger.core.text import VISIBLE_64
from plateledger.images.store import ImageStore, StoredImage
from plateledger.policy.actions import Action, allowed
from plateledger.search.engine import SearchEngine, SearchResult, validate_purpose_case, validate_warrant
from plateledger.store.queries import PlateQuery
from plateledger.store.reads import ReadsStore
from plateledger.vocab import QueryKind

KINDS = ("plate", "overview")
SIZES = ("full", "thumb")
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
    #: ``full`` (the image as stored) or ``thumb`` (a small JPEG of it).
    size: str = "full"

    def audit_params(self) -> dict[str, object]:
        params: dict[str, object] = {"owner": self.owner[:64], "read_id": self.read_id[:64], "image": self.kind[:16]}
        if self.size != "full":  # a full view's parameters are what they were before thumbnails existed
            params["size"] = self.size[:16]
        return params


@dataclass(frozen=True)
class ViewedImage:
    image: StoredImage
    data: bytes
    audit_seq: int
    #: The content type of ``data``: the stored image's, or a thumbnail's.
    content_type: str


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
            if ask.size not in SIZES:
                raise FieldInvalid("size", "full or thumb")
            if not VISIBLE_64.fullmatch(ask.read_id):
                raise FieldInvalid("read_id", "1-64 printable characters")
            owner = self._registry.agency(ask.owner)
        except PlateledgerError as refusal:
            self._engine.refuse(
                principal,
                QueryKind.PLATE,
                refusal.detail,
                purpose=ask.purpose,
                case_number=ask.case_number,
                query=ask.audit_params(),
            )
            raise
        # A role that may not search is refused and audited by the engine, whatever the read id.
        if not allowed(principal, Action.SEARCH, None).allowed:
            self._engine.run(
                principal, event=ImageViewed, kind=QueryKind.PLATE, purpose=purpose, case_number=case_number,
                query=ask.audit_params(), since_ms=None, limit=1, fetch=lambda permit: [], warrant=warrant,
                owner_id=owner.id,
            )  # fmt: skip
        # The owner is decided before its images are looked at, so that whether the read exists shows in neither
        # the answer nor the requester's audit entry unless the owner lets the requester see that read.
        permit = self._engine.permit(
            principal, kind=QueryKind.PLATE, purpose=purpose, case_number=case_number, since_ms=None, warrant=warrant
        )
        decision = next((d for d in permit.decisions if d.owner.agency_id == owner.id), None)
        link = None
        if decision is not None and decision.allowed:
            link = self._images.find_link(owner.id, ask.read_id, ask.kind)
            if link is not None and decision.earliest_ms is not None and link.read_ms < decision.earliest_ms:
                link = None  # outside the window the owner allows: as if it did not exist
        if link is None and decision is not None and decision.allowed:
            # The owner lets the requester see reads of that age, and there is no such image (not yet stored, never
            # sent, or outside the window): a permitted search of that read that found nothing (``image.viewed``,
            # 0 reads), not a refusal. A made-up id and a real one outside the window are answered alike.
            self._engine.run(
                principal, event=ImageViewed, kind=QueryKind.PLATE, purpose=purpose, case_number=case_number,
                query=ask.audit_params(), since_ms=None, limit=1, fetch=lambda permit: [], warrant=warrant,
                owner_id=owner.id,
            )  # fmt: skip
            raise NotFound(UNAVAILABLE)
        if link is None:
            refused = [decision] if decision is not None and not decision.allowed else []
            self._engine.refuse(
                principal,
                QueryKind.PLATE,
                UNAVAILABLE,
                purpose=purpose.value,
                case_number=case_number,
                query=ask.audit_params(),
                refused=refused,
                by_owner=True,
            )
            raise NotFound(UNAVAILABLE)
        found = link
        query = PlateQuery(plate=found.plate, since_ms=found.read_ms, until_ms=found.read_ms + 1, limit=10_000)
        result = self._engine.run(
            principal,
            event=ImageViewed,
            query=ask.audit_params(),
            since_ms=found.read_ms,
            limit=1,
            fetch=lambda permit: [
                r
                for r in self._reads.plate_history(permit, query)
                if r.owner == owner.id and r.read_id == found.read_id
            ],
            owner_id=owner.id,
            kind=QueryKind.PLATE,
            purpose=purpose,
            case_number=case_number,
            warrant=warrant,
        )
        if not result.reads:  # the read is gone (retention) while its image link was still there
            raise NotFound(UNAVAILABLE)
        if ask.size == "thumb":
            data, content_type = self._images.thumbnail(found)
        else:
            data, content_type = self._images.data(found), found.content_type
        return ViewedImage(image=found, data=data, audit_seq=result.audit_seq, content_type=content_type)

    def linked(self, result: SearchResult) -> dict[tuple[str, str], tuple[str, ...]]:
        """The images of a search answer's reads, as (owner slug, read id) -> their kinds (plate crop first); a
        read without any is left out. The answer's reads were returned by the gate, so whether they have an image
        is part of that answer; the images themselves are not: each is viewed through :meth:`view`."""
        by_owner: dict[int, list[str]] = {}
        for read in result.reads:
            by_owner.setdefault(read.owner, []).append(read.read_id)
        return {
            (result.owner_slugs.get(owner_id, str(owner_id)), read_id): tuple(k for k in KINDS if k in kinds)
            for (owner_id, read_id), kinds in self._images.linked(by_owner).items()
        }

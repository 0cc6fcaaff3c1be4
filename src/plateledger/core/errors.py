"""The one exception hierarchy of Plateledger.

Every error the library raises on purpose is a :class:`PlateledgerError`. The HTTP layer maps each class to
an RFC 9457 problem (``status`` and ``type`` below) in one handler; the CLI prints ``str(error)`` on one line
and exits with ``exit_code``. The domain never raises HTTP exceptions. A problem comes back to its class through
:func:`error_from_problem` (the CLI forwarding to the server that holds the data directory exits as it would have
locally).

::

    PlateledgerError
    ├── InvalidInput            400  a request or file that cannot be used (bad field, bad format)
    │   ├── FieldInvalid        422  one named field breaks a rule (purpose, case_number, plate pattern ...)
    │   ├── ImportRefused       422  a hot-list file with invalid lines, refused whole; ``report`` names each
    │   ├── PayloadTooLarge     413  body or batch over its limit
    │   └── UnsupportedMediaType 415 a body whose content type the endpoint does not take
    ├── AuthenticationFailed    401  missing, unknown, expired or revoked credential; bad password
    ├── PermissionDenied        403  the credential's role may not do this
    │   └── ApprovalRequired    403  the search waits for a supervisor's approval; ``request_id`` names the request
    ├── NotFound                404  no such agency, user, camera or token
    ├── Conflict                409  already exists; a data directory already seeded
    ├── DataDirectoryBusy       409  another process holds the embedded store
    ├── TooManyRequests         429  a user's query budget is spent; ``retry_after_s`` says when it returns
    ├── ConfigurationError      500  settings refused at start-up
    ├── BackupInvalid           422  a backup that is incomplete or does not match its manifest: nothing restored
    ├── AuditUnavailable        503  the audit log could not be written: the request fails closed
    ├── StoreUnavailable        503  the reads store's engine refused or failed a query (its text is logged, never sent)
    └── StorageFull             507  a store's disk is full: nothing of the write was acknowledged
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "https://plateledger.org/problems/"


class PlateledgerError(Exception):
    """Base of every error Plateledger raises on purpose."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Plateledger error"
    slug: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 1

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def type_uri(self) -> str:
        return self.problem_type()

    @classmethod
    def problem_type(cls) -> str:
        """The problem ``type`` URI of this class."""
        return PROBLEM_TYPE_BASE + cls.slug

    @classmethod
    def from_problem(cls, problem: Mapping[str, Any]) -> PlateledgerError:
        """This error again, from the problem+json body the HTTP handler made of it."""
        return cls(str(problem.get("detail") or cls.title))


class InvalidInput(PlateledgerError):
    status = 400
    title = "Invalid input"
    slug = "invalid-input"
    exit_code = 2


class FieldInvalid(InvalidInput):
    """One named field breaks a rule; ``field`` names it."""

    status = 422
    title = "Invalid field"
    slug = "invalid-field"

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule

    @classmethod
    def from_problem(cls, problem: Mapping[str, Any]) -> PlateledgerError:
        field = str(problem.get("field") or "request")
        detail = str(problem.get("detail") or cls.title)
        return cls(field, detail.removeprefix(f"{field}: "))


class ImportRefused(InvalidInput):
    """A hot-list import with invalid lines, refused as a whole; ``report`` names each line, field and reason."""

    status = 422
    title = "Import refused"
    slug = "import-refused"

    def __init__(self, detail: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.report: dict[str, Any] = report or {}

    @classmethod
    def from_problem(cls, problem: Mapping[str, Any]) -> PlateledgerError:
        report = problem.get("report")
        return cls(str(problem.get("detail") or cls.title), dict(report) if isinstance(report, Mapping) else None)


class PayloadTooLarge(InvalidInput):
    status = 413
    title = "Payload too large"
    slug = "payload-too-large"


class UnsupportedMediaType(InvalidInput):
    status = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"


class AuthenticationFailed(PlateledgerError):
    status = 401
    title = "Authentication failed"
    slug = "authentication-failed"
    exit_code = 3


class PermissionDenied(PlateledgerError):
    status = 403
    title = "Permission denied"
    slug = "permission-denied"
    exit_code = 3


class ApprovalRequired(PermissionDenied):
    """A search that policy holds for a supervisor's approval: nothing was read. It is stored as approval request
    ``request_id`` (the problem's ``approval_request`` member); once approved, the requester runs the identical
    search again with that id. A 403, not a 202: the search was not answered, and a client that knows nothing of
    approvals must see a refusal, never an empty answer (fail closed)."""

    title = "Approval required"
    slug = "approval-required"
    exit_code = 12

    def __init__(self, detail: str, request_id: int) -> None:
        super().__init__(detail)
        self.request_id = request_id

    @classmethod
    def from_problem(cls, problem: Mapping[str, Any]) -> PlateledgerError:
        request_id = problem.get("approval_request")
        return cls(str(problem.get("detail") or cls.title), request_id if isinstance(request_id, int) else 0)


class NotFound(PlateledgerError):
    status = 404
    title = "Not found"
    slug = "not-found"
    exit_code = 4


class Conflict(PlateledgerError):
    status = 409
    title = "Conflict"
    slug = "conflict"
    exit_code = 5


class DataDirectoryBusy(Conflict):
    title = "Data directory busy"
    slug = "data-directory-busy"


class TooManyRequests(PlateledgerError):
    """A user's query budget is spent (searches or reads per window, from its agency's policy).

    ``retry_after_s``: seconds until the window lets the next request through (the HTTP ``Retry-After``)."""

    status = 429
    title = "Too many requests"
    slug = "too-many-requests"
    exit_code = 9

    def __init__(self, detail: str, retry_after_s: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_s = max(1, retry_after_s)


class ConfigurationError(PlateledgerError):
    status = 500
    title = "Configuration error"
    slug = "configuration-error"
    exit_code = 6


class BackupInvalid(PlateledgerError):
    status = 422
    title = "Backup invalid"
    slug = "backup-invalid"
    exit_code = 10


class AuditUnavailable(PlateledgerError):
    status = 503
    title = "Audit log unavailable"
    slug = "audit-unavailable"
    exit_code = 7


class StoreUnavailable(PlateledgerError):
    """The reads store's engine refused or failed a statement. The engine's own text goes to the log, never to
    the client; a search that meets it is refused and audited."""

    status = 503
    title = "Reads store unavailable"
    slug = "store-unavailable"
    exit_code = 8


class StorageFull(PlateledgerError):
    """A store's disk is full: the write was not acknowledged.

    ``detail`` names the store and the path; the audit log says exactly what was stored."""

    status = 507
    title = "Insufficient storage"
    slug = "storage-full"
    exit_code = 11


def all_error_classes() -> list[type[PlateledgerError]]:
    """Every class of the hierarchy, root first (used by the error-shape test and the docs)."""
    found: list[type[PlateledgerError]] = []
    stack: list[type[PlateledgerError]] = [PlateledgerError]
    while stack:
        cls = stack.pop(0)
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


def error_from_problem(status: int, problem: Mapping[str, Any] | None) -> PlateledgerError:
    """The error a problem+json answer stands for: the class its ``type`` names, else (a ``type`` of no class here,
    such as ``about:blank``) the first class of the tree with its ``status``, else :class:`PlateledgerError`.
    Derived from the classes, so a class added to the tree is mapped without a change here."""
    body: Mapping[str, Any] = problem if problem is not None else {}
    classes = all_error_classes()
    by_type = {cls.problem_type(): cls for cls in classes}
    found = by_type.get(str(body.get("type", "")))
    if found is None:
        found = next((cls for cls in classes if cls.status == status), PlateledgerError)
    return found.from_problem(body)

"""An agency's case register: case numbers, when each was opened (and closed), the unit it is assigned to; and the
unit each user works in. Optional; where an agency keeps one, the oversight rules use it (``case.stale``) and a
flag on a search of an open case of the user's unit is marked explained (:mod:`plateledger.review.explain`).

Kept by the agency's admins (``case.manage``), seen by its people (``case.view``): by hand or from a CSV file,
``case_number,opened,closed,unit`` (header in any case; ``number`` for ``case_number``; dates ``YYYY-MM-DD`` or
ISO 8601 with a zone; ``closed`` and ``unit`` may be blank). A file is applied whole or not at all: the first bad
line is named. Each change is one audit entry (``case.changed``, ``user.unit_set``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plateledger.audit.events import CasesChanged, UserUnitSet
from plateledger.audit.log import Actor, AuditLog
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.errors import FieldInvalid, InvalidInput, NotFound
from plateledger.oversight.rules import CaseEntry, case_key
from plateledger.policy.actions import Action, HasActor, actor_of, require
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, CaseRecord, User

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 200_000


@dataclass(frozen=True)
class Case:
    number: str
    opened_ms: int
    closed_ms: int | None
    unit: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "case_number": self.number,
            "opened": iso_ms(self.opened_ms),
            "closed": iso_ms(self.closed_ms) if self.closed_ms is not None else None,
            "unit": self.unit,
        }


def parse_day(text: str, field: str) -> int:
    """A date (``YYYY-MM-DD``, the start of that UTC day) or an ISO 8601 time with a zone, as epoch ms."""
    text = text.strip()
    try:
        if len(text) == 10:
            return int(datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC).timestamp() * 1000)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FieldInvalid(field, "a date YYYY-MM-DD or an ISO 8601 time with a zone") from None
    if parsed.tzinfo is None:
        raise FieldInvalid(field, "a date YYYY-MM-DD or an ISO 8601 time with a zone")
    return int(parsed.timestamp() * 1000)


def _unit(value: str | None, field: str = "unit") -> str | None:
    value = (value or "").strip()
    if len(value) > 64 or any(not c.isprintable() for c in value):
        raise FieldInvalid(field, "at most 64 printable characters")
    return value or None


def make_case(number: str, opened: str, closed: str | None = None, unit: str | None = None) -> Case:
    """A case from the fields as entered (checked: a number of 1-64 printable characters, closed not before
    opened)."""
    number = number.strip().upper()
    if not 1 <= len(number) <= 64 or any(not c.isprintable() for c in number):
        raise FieldInvalid("case_number", "1-64 printable characters")
    opened_ms = parse_day(opened, "opened")
    closed_ms = parse_day(closed, "closed") if closed and closed.strip() else None
    if closed_ms is not None and closed_ms < opened_ms:
        raise FieldInvalid("closed", "not before opened")
    return Case(number, opened_ms, closed_ms, _unit(unit))


def parse_csv(data: bytes) -> list[Case]:
    """The cases of a CSV file, or :class:`InvalidInput` naming the first bad line (nothing is applied)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"case register file: over {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("case register file: not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise InvalidInput("case register file line 1: empty file, expected case_number,opened,closed,unit")
    names = [h.strip().lower().replace(" ", "_") for h in header]
    names = ["case_number" if n == "number" else n for n in names]
    if "case_number" not in names or "opened" not in names:
        raise InvalidInput("case register file line 1: the header needs case_number and opened (closed, unit)")
    cases: dict[str, Case] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names):
            raise InvalidInput(f"case register file line {line}: {len(row)} fields, the header has {len(names)}")
        fields = dict(zip(names, row, strict=False))
        try:
            case = make_case(
                fields.get("case_number", ""), fields.get("opened", ""), fields.get("closed"), fields.get("unit")
            )
        except FieldInvalid as exc:
            raise InvalidInput(f"case register file line {line}: {exc}") from None
        cases[case.number] = case
        if len(cases) > MAX_IMPORT_ROWS:
            raise InvalidInput(f"case register file line {line}: more than {MAX_IMPORT_ROWS} cases")
    return list(cases.values())


def _case(row: CaseRecord) -> Case:
    return Case(row.number, row.opened_ms, row.closed_ms, row.unit)


class CaseRegister:
    def __init__(self, governance: Governance, audit: AuditLog, clock: Clock) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        #: Changes made through this object (the live rules reload the registers when it or the table moves).
        self.changes = 0

    def _agency_id(self, slug: str) -> int:
        return self._gov.agency(slug).id

    def listing(self, who: Actor | HasActor, agency: str) -> list[Case]:
        """The agency's cases, newest opened first (``case.view``; refusals audited)."""
        agency_id = self._agency_id(agency)
        require(who, Action.CASE_VIEW, agency_id, audit=self._audit)
        with self._gov.session() as session:
            rows = session.scalars(
                select(CaseRecord).where(CaseRecord.agency_id == agency_id).order_by(CaseRecord.opened_ms.desc())
            )
            return [_case(r) for r in rows]

    def put(self, who: Actor | HasActor, agency: str, cases: list[Case], *, source: str = "manual") -> dict[str, int]:
        """Add or replace cases (by number) in the agency's register, in one audited change (``case.manage``)."""
        agency_id = self._agency_id(agency)
        require(who, Action.CASE_MANAGE, agency_id, audit=self._audit)
        if not cases:
            raise FieldInvalid("cases", "at least one case")
        actor = actor_of(who)
        now = self._clock.now_ms()

        def change(session: Session) -> tuple[CasesChanged, dict[str, int]]:
            existing = {
                r.number: r
                for r in session.scalars(select(CaseRecord).where(CaseRecord.agency_id == agency_id))
                if r.number in {c.number for c in cases}
            }
            added = updated = 0
            for case in cases:
                row = existing.get(case.number)
                if row is None:
                    added += 1
                    session.add(
                        CaseRecord(
                            agency_id=agency_id,
                            number=case.number,
                            opened_ms=case.opened_ms,
                            closed_ms=case.closed_ms,
                            unit=case.unit,
                            updated_ms=now,
                            updated_by=actor.username,
                        )
                    )
                    continue
                updated += 1
                row.opened_ms, row.closed_ms, row.unit = case.opened_ms, case.closed_ms, case.unit
                row.updated_ms, row.updated_by = now, actor.username
            counts = {"added": added, "updated": updated}
            event = CasesChanged(
                agency=agency, source=source[:200], cases=[c.number for c in cases[:100]], added=added, updated=updated
            )
            return event, counts

        counts = self._audit.record(actor, change)[1]
        self.changes += 1
        return counts

    def import_csv(self, who: Actor | HasActor, agency: str, data: bytes, *, source: str = "upload") -> dict[str, int]:
        """Cases from a CSV file (:func:`parse_csv`), applied whole or not at all. Authorised before the file is
        read (a refusal is audited whatever the file holds)."""
        require(who, Action.CASE_MANAGE, self._agency_id(agency), audit=self._audit)
        return self.put(who, agency, parse_csv(data), source=source)

    def set_unit(self, who: Actor | HasActor, agency: str, username: str, unit: str | None) -> dict[str, Any]:
        """Set (or clear, with None or blank) the unit of one of the agency's users (``case.manage``)."""
        agency_id = self._agency_id(agency)
        require(who, Action.CASE_MANAGE, agency_id, audit=self._audit)
        new = _unit(unit)

        def change(session: Session) -> tuple[UserUnitSet, dict[str, Any]]:
            user = session.scalars(
                select(User).where(User.username == username, User.agency_id == agency_id)
            ).one_or_none()
            if user is None:
                raise NotFound(f"no user named {username!r} in {agency}")
            old, user.unit = user.unit, new
            return UserUnitSet(username=username, old=old, new=new), {"username": username, "unit": new}

        return self._audit.record(actor_of(who), change)[1]

    def units_unguarded(self, agency_id: int) -> dict[str, str]:
        """Each of the agency's users with a unit, for the library's own use (explaining flags)."""
        with self._gov.session() as session:
            rows = session.execute(
                select(User.username, User.unit).where(User.agency_id == agency_id, User.unit.is_not(None))
            )
            return {name: unit for name, unit in rows if unit}

    def entries_unguarded(self) -> dict[tuple[str, str], CaseEntry]:
        """Every agency's register, keyed as the rules look cases up (:func:`case_key`), for the library's own use
        (the live rules); never called by an entry point."""
        with self._gov.session() as session:
            rows = session.execute(
                select(Agency.slug, CaseRecord).join(Agency, Agency.id == CaseRecord.agency_id)
            ).all()
            return {
                case_key(slug, row.number): CaseEntry(row.number, row.opened_ms, row.closed_ms, row.unit)
                for slug, row in rows
            }

    def version_unguarded(self) -> tuple[int, int, int]:
        """Something that moves whenever any register changes (the live rules reload when it does)."""
        with self._gov.session() as session:
            count, newest = session.execute(select(func.count(CaseRecord.id), func.max(CaseRecord.updated_ms))).one()
            return self.changes, int(count or 0), int(newest or 0)

"""Storing the oversight rules' flags in the governance store, and marking those a case or an alert explains.

A flag is stored once per (agency, rule, key) and its evidence replaced as it grows (the live rules and an
on-demand run write the same rows; a run over a shorter period never shrinks the evidence already stored). A flag
the reviewers have not decided is judged again each time it is written:

*explained* (kept out of the review queue) when its rule is one a case or an alert can explain
(:attr:`Rule.explainable`), it names a user, and either every case it cites is in the agency's case register, open
over the flagged searches and assigned to the user's unit, or the agency was alerted to each of its plates within
``alert_explains_hours`` before the first flagged search. Explanation-based auditing, as hospital record audits do
it: most accesses are explained by data the system already holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from plateledger.oversight.flags import Flag, iso
from plateledger.oversight.rules import BY_ID
from plateledger.store.models import Alert, CaseRecord, OversightFlag, User

OPEN, EXPLAINED = "open", "explained"
DECISIONS = ("dismissed", "confirmed", "escalated")
STATUSES = (OPEN, EXPLAINED, *DECISIONS)
#: Statuses still waiting for a reviewer (the queue), and those the rules may still move (open <-> explained).
QUEUED = (OPEN, "escalated")
UNDECIDED = (OPEN, EXPLAINED)
MAX_KEY = 500


def stored_key(key: str) -> str:
    """A flag's key as stored: long keys (a long reason in it) end in a digest of the whole key."""
    if len(key) <= MAX_KEY:
        return key
    return key[: MAX_KEY - 65] + "#" + hashlib.sha256(key.encode()).hexdigest()


def evidence(flag: Flag) -> str:
    return orjson.dumps(
        {
            "refs": list(flag.refs),
            "numbers": flag.numbers,
            "threshold": flag.threshold,
            "cases": list(flag.cases),
            "plates": list(flag.plates),
        }
    ).decode()


def explain(session: Session, agency_id: int, flag: Flag, alert_hours: int) -> str | None:
    """Why ``flag`` is explained, in one sentence, or None (see the module's docstring)."""
    rule = BY_ID.get(flag.rule)
    if rule is None or not rule.explainable or flag.user is None:
        return None
    if flag.cases:
        unit = session.scalars(
            select(User.unit).where(User.agency_id == agency_id, User.username == flag.user)
        ).one_or_none()
        numbers = [c.strip().upper() for c in flag.cases]
        rows = {
            r.number: r
            for r in session.scalars(
                select(CaseRecord).where(CaseRecord.agency_id == agency_id, CaseRecord.number.in_(numbers))
            )
        }
        if unit and all(
            (row := rows.get(n)) is not None
            and row.unit == unit
            and row.opened_ms <= flag.first_ms
            and (row.closed_ms is None or flag.last_ms <= row.closed_ms)
            for n in numbers
        ):
            listed = ", ".join(numbers[:5])
            return (
                f"case {listed} open in the case register over these searches and assigned to unit {unit} "
                f"({flag.user}'s)"
            )
    if flag.plates:
        since = flag.first_ms - alert_hours * 3_600_000
        alerts = {
            plate: created
            for plate, created in session.execute(
                select(Alert.plate, Alert.created_ms).where(
                    Alert.agency_id == agency_id,
                    Alert.plate.in_(list(flag.plates)),
                    Alert.created_ms >= since,
                    Alert.created_ms <= flag.first_ms,
                )
            )
        }
        if all(p in alerts for p in flag.plates):
            plate = flag.plates[0]
            return (
                f"the agency was alerted to plate {plate} at {iso(alerts[plate])}, within {alert_hours} hours before "
                "the first flagged search"
            )
    return None


def save(session: Session, agency_id: int, flag: Flag, *, now_ms: int, alert_hours: int) -> str | None:
    """Write ``flag`` for ``agency_id``: ``raised`` (new), ``updated`` (more evidence) or None (nothing new)."""
    key = stored_key(flag.key)
    row = session.scalars(
        select(OversightFlag).where(
            OversightFlag.agency_id == agency_id, OversightFlag.rule == flag.rule, OversightFlag.key == key
        )
    ).one_or_none()
    why = explain(session, agency_id, flag, alert_hours)
    if row is None:
        session.add(
            OversightFlag(
                agency_id=agency_id,
                rule=flag.rule,
                key=key,
                actor=flag.actor[:200],
                username=flag.user,
                first_ms=flag.first_ms,
                last_ms=flag.last_ms,
                evidence=evidence(flag),
                explanation=flag.explanation,
                status=EXPLAINED if why else OPEN,
                explained_by=why,
                raised_ms=now_ms,
                updated_ms=now_ms,
                note="",
            )
        )
        return "raised"
    stored_refs = len(orjson.loads(row.evidence)["refs"])
    if len(flag.refs) <= stored_refs:
        return None
    row.first_ms, row.last_ms = min(row.first_ms, flag.first_ms), max(row.last_ms, flag.last_ms)
    row.evidence, row.explanation, row.updated_ms = evidence(flag), flag.explanation, now_ms
    if row.status in UNDECIDED:
        row.status, row.explained_by = (EXPLAINED, why) if why else (OPEN, None)
    return "updated"


def save_all(
    session: Session, agency_id: int, flags: Iterable[Flag], *, now_ms: int, alert_hours: int
) -> dict[str, int]:
    counts = {"raised": 0, "updated": 0}
    for flag in flags:
        outcome = save(session, agency_id, flag, now_ms=now_ms, alert_hours=alert_hours)
        if outcome:
            counts[outcome] += 1
    return counts


def view(row: OversightFlag) -> dict[str, Any]:
    """A stored flag as the doors show it."""
    found = orjson.loads(row.evidence)
    rule = BY_ID.get(row.rule)
    return {
        "id": row.id,
        "rule": row.rule,
        "title": rule.title if rule else row.rule,
        "actor": row.actor,
        "user": row.username,
        "first": iso(row.first_ms),
        "last": iso(row.last_ms),
        "searches": len(found["refs"]),
        "refs": found["refs"],
        "numbers": found["numbers"],
        "threshold": found["threshold"],
        "cases": found["cases"],
        "plates": found["plates"],
        "explanation": row.explanation,
        "status": row.status,
        "explained_by": row.explained_by,
        "raised": iso(row.raised_ms),
        "decided": iso(row.decided_ms) if row.decided_ms is not None else None,
        "decided_by": row.decided_by,
        "note": row.note,
    }

"""``report``: recount an agency's published transparency figures for one month from the public leaves.

Every leaf of the verified tree is read (entry bundles proven against the checkpoint, :mod:`.logview`); those
whose hour falls in the month are attributed to the agency with :func:`.leaf.touch` — the rule the server's
access log and transparency report use — and counted the way the report counts them:

* hot-list alerts (``alert.raised`` / ``alert.withheld``): ``searches.alerts.raised``, ``.withheld`` and
  ``.withheld_by_rule``;
* every other touching entry (searches, image views, refusals, exports): ``searches.total``, ``.permitted``,
  ``.withheld``, ``.reads_returned`` (permitted ones), ``.by_purpose`` (``none`` when the entry gave none),
  ``.by_requester`` (the requesting agency, ``unknown`` when none), ``.refusals_by_rule``.

Each differing figure is named (``searches.by_purpose[stolen_vehicle].withheld: published 4, recounted 5``). The
month must be over in the verified tree (a leaf of a later hour exists), or entries of the month could still be
missing from it. The agency's ``cameras.first_added_hour`` is taken from the published report: it decides only
whether a search that withheld "every other agency" concerns this one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from plateledger_verify.errors import CountMismatchError, MalformedError, ProofError, VerifyError
from plateledger_verify.leaf import ALERT_ACTIONS, HOUR_MS, PERMITTED, Leaf, parse_leaf, touch
from plateledger_verify.logview import VerifiedLog

_MONTH = re.compile(r"(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])")


def month_hours(month: str) -> tuple[int, int]:
    """``[start, end)`` of the calendar month ``YYYY-MM`` (UTC) in hours since the epoch (a leaf's ``hour``)."""
    m = _MONTH.fullmatch(month)
    if not m:
        raise MalformedError(f"period {month!r} is not a calendar month YYYY-MM")
    year, number = int(m[1]), int(m[2])
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC) if number == 12 else datetime(year, number + 1, 1, tzinfo=UTC)
    return int(start.timestamp()) * 1000 // HOUR_MS, int(end.timestamp()) * 1000 // HOUR_MS


def proven_leaves(log: VerifiedLog) -> Iterable[Leaf]:
    """Every leaf of the tree, parsed, each at the index its entry number says."""
    for index, data in log.iter_leaves():
        leaf = parse_leaf(data)
        if leaf.seq != index + 1:
            raise ProofError(f"leaf {index} of the tree claims to be entry {leaf.seq}, not {index + 1}")
        yield leaf


def recount(leaves: Iterable[Leaf], slug: str, month: str, first_camera_hour: int | None) -> dict[str, int]:
    """The figures of ``slug``'s month, recounted from public leaves, by figure name (zeros left out)."""
    start, end = month_hours(month)
    figures: Counter[str] = Counter()
    for leaf in leaves:
        if not start <= leaf.hour < end:
            continue
        touched = touch(leaf.public, slug, first_camera_hour)
        if touched is None:
            continue
        permitted = touched.outcome == PERMITTED
        if leaf.public["action"] in ALERT_ACTIONS:
            if permitted:
                figures["searches.alerts.raised"] += 1
            else:
                figures["searches.alerts.withheld"] += 1
                figures[f"searches.alerts.withheld_by_rule[{touched.rule or 'unknown'}]"] += 1
            continue
        outcome = "permitted" if permitted else "withheld"
        purpose = leaf.public["purpose"] or "none"
        requester = leaf.public["agency"] or "unknown"
        figures["searches.total"] += 1
        figures[f"searches.{outcome}"] += 1
        figures[f"searches.by_purpose[{purpose}].{outcome}"] += 1
        figures[f"searches.by_requester[{requester}].{outcome}"] += 1
        if permitted:
            figures["searches.reads_returned"] += touched.rows or 0
        else:
            figures[f"searches.refusals_by_rule[{touched.rule or 'unknown'}]"] += 1
    return {name: n for name, n in figures.items() if n}


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedError(f"published report: {where} is not an integer")
    return value


def _rows(value: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise MalformedError(f"published report: {where} is not a list of objects")
    return value


def published_figures(report: Mapping[str, Any]) -> dict[str, int]:
    """The recountable figures of a published report, by the names :func:`recount` uses (zeros left out)."""
    searches = report.get("searches")
    if not isinstance(searches, dict) or not isinstance(searches.get("alerts"), dict):
        raise MalformedError("published report has no searches.alerts object")
    figures: dict[str, int] = {}

    def put(name: str, value: Any) -> None:
        if name in figures:
            raise MalformedError(f"published report lists {name} twice")
        figures[name] = _int(value, name)

    for name in ("total", "permitted", "withheld", "reads_returned"):
        put(f"searches.{name}", searches.get(name))
    for row in _rows(searches.get("by_purpose"), "searches.by_purpose"):
        for outcome in ("permitted", "withheld"):
            put(f"searches.by_purpose[{row.get('purpose')}].{outcome}", row.get(outcome))
    for row in _rows(searches.get("by_requester"), "searches.by_requester"):
        for outcome in ("permitted", "withheld"):
            put(f"searches.by_requester[{row.get('agency')}].{outcome}", row.get(outcome))
    for row in _rows(searches.get("refusals_by_rule"), "searches.refusals_by_rule"):
        put(f"searches.refusals_by_rule[{row.get('rule')}]", row.get("count"))
    alerts = searches["alerts"]
    put("searches.alerts.raised", alerts.get("raised"))
    put("searches.alerts.withheld", alerts.get("withheld"))
    for row in _rows(alerts.get("withheld_by_rule"), "searches.alerts.withheld_by_rule"):
        put(f"searches.alerts.withheld_by_rule[{row.get('rule')}]", row.get("count"))
    return {name: n for name, n in figures.items() if n}


def first_camera_hour(report: Mapping[str, Any]) -> int | None:
    cameras = report.get("cameras")
    if not isinstance(cameras, dict) or "first_added_hour" not in cameras:
        raise MalformedError("published report has no cameras.first_added_hour (a server older than the verifier?)")
    hour = cameras["first_added_hour"]
    return None if hour is None else _int(hour, "cameras.first_added_hour")


def differences(published: Mapping[str, int], recounted: Mapping[str, int]) -> list[str]:
    """One line per figure that differs, in name order."""
    return [
        f"{name}: published {published.get(name, 0)}, recounted {recounted.get(name, 0)}"
        for name in sorted(set(published) | set(recounted))
        if published.get(name, 0) != recounted.get(name, 0)
    ]


def check_report(log: VerifiedLog, report: Mapping[str, Any], slug: str, month: str) -> dict[str, int]:
    """Recount ``report`` (the agency's published JSON for ``month``) from every leaf of ``log``; return the
    figures, or raise :class:`CountMismatchError` naming each figure that differs."""
    _, end = month_hours(month)
    agency = report.get("agency")
    if not isinstance(agency, dict) or agency.get("slug") != slug:
        raise MalformedError(f"the published report is not agency {slug!r}'s")
    period = report.get("period")
    if not isinstance(period, dict) or period.get("month") != month:
        raise MalformedError(f"the published report is not for the month {month} (a server without month=?)")
    published = published_figures(report)
    first = first_camera_hour(report)
    latest: list[int] = []

    def watched() -> Iterable[Leaf]:
        for leaf in proven_leaves(log):
            latest[:] = [max(latest[0], leaf.hour)] if latest else [leaf.hour]
            yield leaf

    recounted = recount(watched(), slug, month, first)
    if not latest or latest[0] < end:
        raise VerifyError(
            f"the verified tree ({log.size} entries) does not reach past the end of {month}: entries of the month "
            "may still be missing from it; run plateledger-verify update once the month is over"
        )
    diff = differences(published, recounted)
    if diff:
        raise CountMismatchError(f"{len(diff)} figure(s) of {slug} for {month} differ: " + "; ".join(diff))
    return recounted

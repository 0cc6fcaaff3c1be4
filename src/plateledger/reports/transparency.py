"""An agency's transparency report, computed on demand from the configured policy, the stores and the audit log.

Nothing in it is written separately (invariant 7): the policy text is :func:`plateledger.policy.rules.describe`
of the policy in force, searches come from the owner's access log (itself derived from the audit log), camera
and read counts from the stores, sharing partners from the agreements the gate decides from. The report is
public, so it holds aggregate counts only: no plate, read, position, case number, note or user name.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jinja2

from plateledger.agencies.registry import Registry
from plateledger.approvals.service import Approvals
from plateledger.audit.checkpoints import Checkpointer
from plateledger.audit.log import AuditLog
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.errors import FieldInvalid
from plateledger.policy.rules import DAY_MS, PRESETS, Preset, describe
from plateledger.reports.access_log import PERMITTED, WITHHELD, AccessLog
from plateledger.review.places import Places
from plateledger.review.queue import ReviewQueue
from plateledger.sharing.service import Agreements, AgreementView, Policies
from plateledger.store.reads import ReadsStore
from plateledger.subjects.requests import SubjectRequests
from plateledger_verify.leaf import hour_of

DEFAULT_DAYS = 30
MAX_DAYS = 3650
_MONTH = re.compile(r"(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])")


def month_window(month: str) -> tuple[int, int]:
    """``[start, end)`` in epoch milliseconds of the calendar month ``YYYY-MM`` in UTC (1970-01 to 9999-12)."""
    m = _MONTH.fullmatch(month)
    if not m:
        raise FieldInvalid("month", "a calendar month YYYY-MM from 1970-01 to 9999-12")
    year, number = int(m[1]), int(m[2])
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC) if number == 12 else datetime(year, number + 1, 1, tzinfo=UTC)
    return int(start.timestamp()) * 1000, int(end.timestamp()) * 1000


def _partner(view: AgreementView, *, other: str, other_name: str) -> dict[str, Any]:
    terms = view.granted_terms or {}
    return {
        "agency": other,
        "name": other_name,
        "agreement": view.id,
        "query_kinds": sorted(terms.get("query_kinds", [])),
        "purposes": sorted(terms.get("purposes", [])),
        "max_lookback_days": terms.get("max_lookback_days"),
        "expires": iso_ms(int(terms.get("expires_ms", 0))),
        "attested": view.attestation is not None,
    }


class TransparencyReports:
    def __init__(
        self,
        *,
        registry: Registry,
        policies: Policies,
        agreements: Agreements,
        access_log: AccessLog,
        reads: ReadsStore,
        audit: AuditLog,
        clock: Clock,
        checkpoints: Checkpointer,
        approvals: Approvals,
        subjects: SubjectRequests,
        review: ReviewQueue,
        places: Places,
    ) -> None:
        self._checkpoints = checkpoints
        self._approvals = approvals
        self._review = review
        self._places = places
        self._registry = registry
        self._policies = policies
        self._agreements = agreements
        self._access_log = access_log
        self._reads = reads
        self._audit = audit
        self._clock = clock
        self._subjects = subjects

    def build(self, slug: str, *, days: int | None = None, month: str | None = None) -> dict[str, Any]:
        """The report of agency ``slug``, as JSON-ready data (HTML renders it): over the last ``days`` days
        (default :data:`DEFAULT_DAYS`), or over the calendar month ``month`` (``YYYY-MM``, the window
        ``[month start, next month start)`` in UTC, what ``plateledger-verify report`` recounts from the public
        leaves of the audit log). Not both."""
        if days is not None and month is not None:
            raise FieldInvalid("month", "give either days or month, not both")
        now = self._clock.now_ms()
        if month is not None:
            since, until = month_window(month)
            days = (until - since) // DAY_MS
        else:
            days = DEFAULT_DAYS if days is None else days
            if not 1 <= days <= MAX_DAYS:
                raise FieldInvalid("days", f"between 1 and {MAX_DAYS}")
            # The last `days` days up to now, now included.
            since, until = now - days * DAY_MS, now + 1
        agency = self._registry.agency(slug)
        current = self._policies.current(slug)
        policy = current.policy
        preset = current.preset
        matches_preset = None
        if preset is not None and preset in {p.value for p in Preset}:
            matches_preset = PRESETS[Preset(preset)][0] == policy
        cameras = self._registry.cameras_unguarded(agency.id)
        mobile = sum(1 for c in cameras if c.mobile)
        first_camera = self._access_log.first_camera_ms(slug)
        decisions: Counter[str] = Counter()
        return {
            "agency": {
                "slug": agency.slug,
                "name": agency.name,
                "kind": agency.kind,
                "country": agency.country,
                "state": agency.state,
            },
            "generated": iso_ms(now),
            "period": {
                "days": days,
                "month": month,
                "since": iso_ms(since),
                "until": iso_ms(until if month is not None else now),
            },
            "policy": {
                "version": current.version,
                "preset": preset,
                "matches_preset": matches_preset,
                "set_at": iso_ms(current.created_ms) if current.created_ms is not None else None,
                "text": describe(policy, country=agency.country, state=agency.state),
            },
            "retention": {"days": policy.retention_days, "hit_days": policy.hit_retention_days},
            "cameras": {
                "total": len(cameras),
                "fixed": len(cameras) - mobile,
                "mobile": mobile,
                "first_added_hour": hour_of(first_camera) if first_camera is not None else None,
            },
            "reads_collected": self._reads.count_by_owner_since(agency.id, since, until_ms=until),
            "searches": self._searches(slug, since, until, decisions),
            "approvals": {
                "granted": decisions["approved"],
                "refused": decisions["refused"],
                "break_glass": self._approvals.break_glass_counts(slug, agency.id, since, until),
            },
            "sharing": self._sharing(agency.id, slug),
            # Requests sent to it and letters it sent; never whether any held the plate (docs/subject-requests.md).
            "subject_requests": self._subjects.counts(agency.id, since, until),
            "oversight": self._oversight(agency.id, policy.oversight.case_pattern is not None, since, until),
            "audit": self._chain(),
            "checkpoint": self._checkpoint(),
        }

    def _oversight(self, agency_id: int, pattern: bool, since: int, until: int) -> dict[str, Any]:
        """What the oversight rules watch (their thresholds are in the policy text) and, per rule, the flags
        raised in the period and how they were reviewed: counts only."""
        return {
            "sensitive_places": self._places.summary(agency_id),
            "case_pattern": pattern,
            "flags": self._review.counts(agency_id, since, until),
        }

    def _searches(self, slug: str, since: int, until: int, decisions: Counter[str]) -> dict[str, Any]:
        """Searches of ``slug``'s data made in ``[since, until)``; supervisors' decisions on held searches of it
        are counted into ``decisions`` by outcome (they are not searches)."""
        permitted: Counter[tuple[str, str]] = Counter()
        withheld: Counter[tuple[str, str]] = Counter()
        purposes: dict[str, Counter[str]] = {}
        requesters: dict[str, Counter[str]] = {}
        names: dict[str, str] = {}
        rules: Counter[str] = Counter()
        returned = 0
        alerts: Counter[str] = Counter()
        alert_rules: Counter[str] = Counter()
        for entry in self._access_log.entries(slug, since_ms=since, until_ms=until):
            if entry.kind == "approval":  # a supervisor's decision, not a search
                decisions[entry.outcome] += 1
                continue
            if entry.kind == "alert":  # hot-list matches on this owner's reads, not searches
                alerts[entry.outcome] += 1
                if entry.outcome != PERMITTED:
                    alert_rules[entry.rule or "unknown"] += 1
                continue
            purpose = entry.purpose or "none"
            requester = entry.requester or "unknown"
            names[requester] = entry.requester_name or requester
            purposes.setdefault(purpose, Counter())[entry.outcome] += 1
            requesters.setdefault(requester, Counter())[entry.outcome] += 1
            if entry.outcome == PERMITTED:
                permitted[(purpose, requester)] += 1
                returned += entry.rows or 0
            else:
                withheld[(purpose, requester)] += 1
                rules[entry.rule or "unknown"] += 1
        by_requester = sorted(requesters.items(), key=lambda item: (-item[1].total(), names[item[0]]))
        return {
            "total": permitted.total() + withheld.total(),
            "permitted": permitted.total(),
            "withheld": withheld.total(),
            "reads_returned": returned,
            "by_purpose": [
                {"purpose": p, "permitted": c["permitted"], "withheld": c["withheld"]}
                for p, c in sorted(purposes.items())
            ],
            "by_requester": [
                {
                    "agency": r,
                    "name": names[r],
                    "own": r == slug,
                    "permitted": c["permitted"],
                    "withheld": c["withheld"],
                }
                for r, c in by_requester
            ],
            "refusals_by_rule": [{"rule": rule, "count": n} for rule, n in rules.most_common()],
            "alerts": {
                "raised": alerts[PERMITTED],
                "withheld": alerts[WITHHELD],
                "withheld_by_rule": [{"rule": rule, "count": n} for rule, n in alert_rules.most_common()],
            },
        }

    def _sharing(self, agency_id: int, slug: str) -> dict[str, list[dict[str, Any]]]:
        shares_with: list[dict[str, Any]] = []
        receives_from: list[dict[str, Any]] = []
        for view in self._agreements.for_agency(agency_id):
            if view.state != "accepted" or view.expired or view.granted_terms is None:
                continue
            if view.owner == slug:
                shares_with.append(_partner(view, other=view.requester, other_name=view.requester_name))
            else:
                receives_from.append(_partner(view, other=view.owner, other_name=view.owner_name))
        return {"shares_with": shares_with, "receives_from": receives_from}

    def _checkpoint(self) -> dict[str, Any] | None:
        """The latest published checkpoint: what a verifier run elsewhere compares its own copy with."""
        latest = self._checkpoints.latest_published()
        if latest is None:
            return None
        view = latest.as_json()
        return {
            "origin": self._checkpoints.identity.origin,
            "size": latest.size,
            "root": view["root"],
            "created": view["created"],
            "witnesses": view["cosigned_by"],
            "quorum": latest.detail.get("quorum", self._checkpoints.identity.policy.quorum),
        }

    def _chain(self) -> dict[str, Any]:
        result = self._audit.verify()
        head = None
        if result.intact and result.entries:
            last = self._audit.entries(after_seq=result.entries - 1, limit=1)
            head = last[0].hash if last else None
        return {
            "intact": result.intact,
            "entries": result.entries,
            "head_seq": result.entries if result.intact else None,
            "head_hash": head,
            "first_bad_seq": result.first_bad_seq,
            "problem": result.problem or None,
        }


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("plateledger.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (autoescaped; no scripts, no external assets)."""
    return _templates().get_template("transparency.html").render(report=report)

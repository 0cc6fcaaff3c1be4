"""The oversight report of an analysis: a JSON document and one self-contained HTML page (autoescaped, inline SVG
charts, no scripts and no external assets)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import jinja2

from plateledger.oversight.engine import Analysis
from plateledger.oversight.flags import day, iso
from plateledger.oversight.params import OversightParams, describe
from plateledger.oversight.rules.base import DAY_MS

#: Flags shown per rule in the HTML page (every flag is in the JSON).
HTML_FLAGS_PER_RULE = 200
#: Bars of the volume chart at most: longer periods are drawn by week, then by month-sized groups of days.
MAX_BARS = 120


def build(
    analysis: Analysis,
    *,
    source: dict[str, Any],
    params: OversightParams,
    prohibited: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """The report as JSON: the source, what was watched, each rule's counts (or why it did not run), the flags
    with their evidence, and searches per day."""
    flagged_days: Counter[int] = Counter()
    refs_day: dict[int, int] = {}
    for flag in analysis.flags:
        for ref in flag.refs:
            refs_day.setdefault(ref, flag.first_ms // DAY_MS)
    for number in refs_day.values():
        flagged_days[number] += 1
    return {
        "source": {
            **source,
            "searches": analysis.records,
            "first": iso(analysis.first_ms) if analysis.first_ms is not None else None,
            "last": iso(analysis.last_ms) if analysis.last_ms is not None else None,
        },
        "summary": {
            "searches": analysis.records,
            "flags": len(analysis.flags),
            "searches_flagged": len(refs_day),
            "rules_run": sum(o.ran for o in analysis.outcomes),
            "rules_not_run": sum(not o.ran for o in analysis.outcomes),
        },
        "watched": describe(params, prohibited=prohibited),
        "parameters": params.as_json(),
        "rules": [
            {
                "id": o.id,
                "title": o.title,
                "ran": o.ran,
                "why_not": o.why_not,
                "flags": len(o.flags),
                "searches_flagged": o.records_flagged,
            }
            for o in analysis.outcomes
        ],
        "flags": [flag.as_json() for flag in analysis.flags],
        "volume": [
            {"day": day(number * DAY_MS), "searches": count, "flagged": flagged_days.get(number, 0)}
            for number, count in analysis.per_day.items()
        ],
    }


def _bars(volume: list[dict[str, Any]]) -> dict[str, Any]:
    """The volume chart's geometry: bars of searches and of flagged searches per day (or group of days)."""
    group = 1
    while len(volume) / group > MAX_BARS:
        group = 7 if group == 1 else group * 2
    buckets: list[dict[str, Any]] = []
    for start in range(0, len(volume), group):
        days = volume[start : start + group]
        buckets.append(
            {
                "label": days[0]["day"] if group == 1 else f"{days[0]['day']} to {days[-1]['day']}",
                "searches": sum(d["searches"] for d in days),
                "flagged": sum(d["flagged"] for d in days),
            }
        )
    width, height = 720, 180
    top = max((b["searches"] for b in buckets), default=0) or 1
    step = width / max(len(buckets), 1)
    bars = []
    for i, b in enumerate(buckets):
        h = b["searches"] / top * (height - 20)
        f = b["flagged"] / top * (height - 20)
        bars.append(
            {
                **b,
                "x": round(i * step + 1, 1),
                "w": round(max(step - 2, 1), 1),
                "y": round(height - h, 1),
                "h": round(h, 1),
                "fy": round(height - f, 1),
                "fh": round(f, 1),
            }
        )
    return {"width": width, "height": height, "top": top, "bars": bars, "days_per_bar": group}


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("plateledger.oversight", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for flag in report["flags"]:
        by_rule.setdefault(flag["rule"], []).append(flag)
    return (
        _templates()
        .get_template("oversight.html")
        .render(report=report, chart=_bars(report["volume"]), by_rule=by_rule, shown=HTML_FLAGS_PER_RULE)
    )

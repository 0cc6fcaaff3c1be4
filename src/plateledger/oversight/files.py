"""``plateledger oversight analyse``'s library side: one export file in, a report out. It reads the files it is
given and nothing else: no data directory, no store, no audit entry."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson

from plateledger.core.errors import FieldInvalid, InvalidInput
from plateledger.oversight.engine import analyse, in_time_order
from plateledger.oversight.exports import Format, read_export
from plateledger.oversight.params import DEFAULT, OversightParams
from plateledger.oversight.places import places_from_geojson
from plateledger.oversight.report import build, render_html
from plateledger.oversight.rules import Context
from plateledger.oversight.terms import PROHIBITED
from plateledger.oversight.timetext import TimeTextError, zone_of


def _json_file(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InvalidInput(f"{what} {path}: cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} {path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{what} {path.name} line {exc.lineno}: not JSON: {exc.msg}") from None


def load_terms(path: Path) -> dict[str, tuple[str, ...]]:
    """Prohibited-purpose terms from a JSON object of category -> list of terms (replacing the defaults)."""
    document = _json_file(path, "--terms")
    if not isinstance(document, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(t, str) for t in v) for k, v in document.items()
    ):
        raise InvalidInput(f"--terms {path.name}: a JSON object of category -> list of terms expected")
    return {category: tuple(terms) for category, terms in document.items()}


def analyse_file(
    path: Path,
    format: Format,
    *,
    timezone: str = "UTC",
    case_pattern: str | None = None,
    places: Path | None = None,
    terms: Path | None = None,
    params: OversightParams = DEFAULT,
) -> dict[str, Any]:
    """Run every rule the export's columns allow over ``path`` and return the report (:func:`report.build`)."""
    try:
        zone = zone_of(timezone)
    except TimeTextError as exc:
        raise FieldInvalid("timezone", str(exc)) from None
    patterns: dict[str, re.Pattern[str]] = {}
    if case_pattern:
        try:
            patterns["*"] = re.compile(case_pattern)
        except re.error as exc:
            raise FieldInvalid("case_pattern", f"not a regular expression: {exc}") from None
    prohibited = load_terms(terms) if terms is not None else dict(PROHIBITED)
    export = read_export(path, format, zone=zone)
    context = Context(
        params=params,
        fields=export.fields,
        case_patterns=patterns,
        prohibited=prohibited,
        places=places_from_geojson(_json_file(places, "--places")) if places is not None else (),
    )
    analysis = analyse(in_time_order(export.records), context)
    source = {
        "file": path.name,
        "format": format.value,
        "rows": export.rows,
        "encoding": export.encoding,
        "timezone": timezone,
        "refs": "line numbers",
        "fields": sorted(export.fields),
    }
    return build(analysis, source=source, params=params, prohibited=prohibited)


def write_report(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """``report.json`` and ``report.html`` in ``out`` (created if missing)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        json_path, html_path = out / "report.json", out / "report.html"
        json_path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
        html_path.write_text(render_html(report), encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"--out {out}: cannot write the report: {exc.strerror or exc}") from None
    return json_path, html_path

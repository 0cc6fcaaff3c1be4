"""Entry points only translate: no module of the API, the web UI or the CLI writes audit entries or queries a
store itself. They parse, call one library operation (which authorises, audits and changes in one place) and
render, so every door gets the same rules and the same audit.

Each module under ``plateledger/api``, ``plateledger/web`` and ``plateledger/cli`` is parsed with :mod:`ast`
and refused if it

* writes the audit log: a call of ``….audit.append``, ``….audit.record`` or ``….audit.record_all``;
* opens the governance store: ``….governance.session`` or ``….governance.engine``;
* speaks SQL: any import of ``sqlalchemy`` (its ``select``/``insert``/``update``/``delete``/``text``) or ``chdb``;
* queries the reads store: a call of a method of ``….reads`` (``platform.reads.count()``);
* reads the audit log around its service: a call of ``….audit.verify`` or ``….audit.entries`` (the audit services,
  ``platform.audit_entries``, authorise and audit those reads), or passes the audit log itself along as a call's
  argument (``export_csv(..., platform.audit)``: the library audits, the door never hands it the log);
* calls an unguarded read of the library (a method named ``…_unguarded``, such as ``registry.cameras_unguarded``:
  a door asks the guarded operation, ``registry.camera_list``).

``EXEMPT`` lists the few findings still allowed, each with its reason; an exemption that no longer matches
anything fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "plateledger"
#: The doors: packages, and the app factory module that mounts the API and the web UI.
ENTRY_PACKAGES = ("api", "web", "cli", "mqtt", "app.py")
AUDIT_WRITES = frozenset({"append", "record", "record_all"})
AUDIT_READS = frozenset({"verify", "entries"})
GOVERNANCE_DOORS = frozenset({"session", "engine"})
SQL_PACKAGES = frozenset({"sqlalchemy", "chdb"})

#: (module, finding) -> why it is still there.
EXEMPT: dict[tuple[str, str], str] = {
    ("plateledger.app", "reads.count"): (
        "the plateledger_reads_stored gauge of /metrics: a row count, no read leaves the store"
    ),
    ("plateledger.app", "reads.engine_use"): (
        "the plateledger_reads_engine gauges of /metrics: counters of the engine's turns, no statement runs"
    ),
}


@dataclass(frozen=True)
class Finding:
    module: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.what}"


def _attribute_chain(node: ast.expr) -> list[str]:
    """``platform.audit.append`` -> ["platform", "audit", "append"] (a chain on a call's result, such as
    ``get().audit.append``, gives its attributes: ["audit", "append"])."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts[::-1]


def findings(module: str, source: str) -> list[Finding]:
    """What ``source`` (the text of ``module``) does that an entry point must leave to the library."""
    found: list[Finding] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in SQL_PACKAGES:
                    found.append(Finding(module, node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in SQL_PACKAGES:
            found.append(Finding(module, node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Attribute):
            chain = _attribute_chain(node)
            if len(chain) >= 2 and chain[-2] in ("governance", "_gov") and chain[-1] in GOVERNANCE_DOORS:
                found.append(Finding(module, node.lineno, f"governance.{chain[-1]}"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            chain = _attribute_chain(node.func)
            if len(chain) >= 2 and chain[-2] in ("audit", "_audit") and chain[-1] in AUDIT_WRITES:
                found.append(Finding(module, node.lineno, f"audit.{chain[-1]}"))
            if len(chain) >= 2 and chain[-2] == "reads" and "metrics" not in chain:  # not a metric named reads
                found.append(Finding(module, node.lineno, f"reads.{chain[-1]}"))
            if len(chain) >= 2 and chain[-2] in ("audit", "_audit") and chain[-1] in AUDIT_READS:
                found.append(Finding(module, node.lineno, f"audit.{chain[-1]}"))
            if chain and chain[-1].endswith("_unguarded"):
                found.append(Finding(module, node.lineno, f"unguarded {chain[-1]}"))
        if isinstance(node, ast.Call):
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                passed = _attribute_chain(argument) if isinstance(argument, ast.Attribute) else []
                if passed[-1:] in (["audit"], ["_audit"]) and passed != ["audit", "audit"]:  # not cli/audit.py's group
                    found.append(Finding(module, node.lineno, "audit passed along"))
    return found


def entry_modules() -> list[tuple[str, Path]]:
    modules = []
    for package in ENTRY_PACKAGES:
        root = SRC / package
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
            modules.append((name, path))
    return modules


def all_findings() -> list[Finding]:
    return [f for name, path in entry_modules() for f in findings(name, path.read_text(encoding="utf-8"))]


def test_the_entry_packages_are_found() -> None:
    names = {name for name, _ in entry_modules()}
    assert {"plateledger.api.routes.reads", "plateledger.web.routes.admin", "plateledger.cli.common"} <= names


def test_no_entry_point_writes_audit_entries_or_queries_a_store() -> None:
    refused = [f for f in all_findings() if (f.module, f.what) not in EXEMPT]
    assert refused == [], "entry points must call a library operation instead:\n" + "\n".join(map(str, refused))


def test_every_exemption_is_still_needed() -> None:
    seen = {(f.module, f.what) for f in all_findings()}
    stale = [key for key in EXEMPT if key not in seen]
    assert stale == [], f"no longer found, remove from EXEMPT: {stale}"


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("platform.audit.append(actor, event)", "audit.append"),
        ("self._platform.audit.record(actor, change)", "audit.record"),
        ("p.audit.record_all(actor, change)", "audit.record_all"),
        ("with platform.governance.session() as s: pass", "governance.session"),
        ("engine = platform.governance.engine", "governance.engine"),
        ("from sqlalchemy import select", "from sqlalchemy import"),
        ("import sqlalchemy.orm", "import sqlalchemy.orm"),
        ("import chdb", "import chdb"),
        ("platform.reads.count()", "reads.count"),
        ("request.app.state.platform.reads.lookup(plate)", "reads.lookup"),
        ("platform.audit.verify()", "audit.verify"),
        ("entries = platform.audit.entries(limit=10)", "audit.entries"),
        ("export_csv(rows, principal, audit=platform.audit)", "audit passed along"),
        ("export_csv(rows, platform.audit)", "audit passed along"),
        ("platform.registry.cameras_unguarded(agency_id)", "unguarded cameras_unguarded"),
    ],
)
def test_the_check_sees_each_kind_of_direct_access(source: str, what: str) -> None:
    assert [f.what for f in findings("example", source)] == [what]


def test_library_calls_and_passing_a_store_along_are_not_findings() -> None:
    source = (
        "platform.ingest.ingest_json_body(principal, body)\n"
        "entries = platform.audit_entries.page(principal, limit=10)\n"
        "publisher = MqttPublisher(platform.alerts, platform.governance)\n"
        "total = result.reads\n"
    )
    assert findings("example", source) == []

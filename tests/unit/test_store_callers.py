"""Invariant 1 across the layer boundary: the reads store types its query argument as a protocol
(``store.reads.OwnerWindows``) so that it imports nothing above it; the gate's ``Permit`` is what every caller
passes. This checks the callers: only the search services, which get their permit from ``SearchEngine.run``,
call the store's read queries."""

from __future__ import annotations

import ast
from pathlib import Path

import plateledger

QUERIES = {"plate_history", "area_reads"}
SOURCE = Path(plateledger.__file__).parent


def callers() -> set[str]:
    found = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in QUERIES:
                found.add(path.relative_to(SOURCE).as_posix())
    return found


def test_only_the_search_services_call_the_read_queries() -> None:
    found = callers()
    assert found, "no caller found: has the store's query API been renamed?"
    assert {module for module in found if not module.startswith("search/")} == set()

"""Schemathesis over every operation of the OpenAPI document, with an investigator's and an admin's token: no
server error, and every answer (status, content type, headers, body) as the document declares it.

The platform is seeded with a varied history (five agencies, agreements in every state, searches permitted and
withheld, a hot list with an alert), so that list and report answers carry real rows to check against their
schemas. The example budget is fixed and the generation derandomised: the same cases run on every machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.core.clock import FixedClock, iso_ms
from plateledger.platform import Platform
from tests.integration.alert_kit import hot_list, raise_alert
from tests.integration.test_access_log import PLATE, varied_history
from tests.support import DAY_MS, NOW_MS, module_platform, search

#: Examples per operation and generation phase. 53 operations x 2 tokens x this budget keeps the file near a
#: minute on two cores; raise it locally to look harder (`MAX_EXAMPLES` is the only knob).
MAX_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 15,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        # The stateful phase chains operations by their links; the document declares none.
        "phases": {"stateful": {"enabled": False}},
    }
)

#: Paths not tried, each with why. Nothing else is left out: the test checks every other operation was tried.
EXCLUDED = {
    # An endless Server-Sent Events stream: it answers 200 and then sends heartbeats until the client goes away,
    # so a generated case never completes. tests/integration/test_alert_stream.py covers it against a server.
    "/api/v1/alerts/stream": "endless event stream",
}


@dataclass
class Seeded:
    """The seeded platform, and values that exist in it: path parameters by name, query by path."""

    platform: Platform
    path: dict[str, Any]
    query: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with module_platform(tmp_path_factory, "conformance") as platform:
        assert isinstance(platform.clock, FixedClock)
        alpha = varied_history(platform, platform.clock).alpha
        entry_id = hot_list(platform, alpha, "stolen", PLATE)
        read_id = search(platform, alpha.investigator, PLATE).reads[0].read_id
        alert_id = raise_alert(platform, alpha, entry_id, read_id)
        ask = {"purpose": "stolen_vehicle", "case_number": "C-2025-1"}
        window = {"since": iso_ms(NOW_MS - 10 * DAY_MS), "until": iso_ms(NOW_MS + 3 * DAY_MS)}
        yield Seeded(
            platform,
            path={
                "agency": alpha.slug,
                "owner": alpha.slug,
                "list_id": platform.hotlists.listing(alpha.investigator)[0].id,
                "plate": PLATE,
                "alert_id": alert_id,
                "agreement_id": platform.agreements.listing(alpha.admin)[0].id,
                "read_id": read_id,
                "kind": "plate",
                "external_id": alpha.cameras[0],
            },
            query={
                "/api/v1/search/plate": {"plate": PLATE, **ask},
                "/api/v1/search/area": {"lat": "37.7749", "lon": "-122.4194", "radius_m": "500", **ask, **window},
                "/api/v1/images/{owner}/{read_id}/{kind}": ask,
                "/api/v1/access-log": window,
                "/api/v1/agencies/{agency}/access-log": window,
            },
        )


def seeded_strategies(operation: APIOperation, seeded: Seeded) -> list[SearchStrategy[schemathesis.Case]]:
    """Valid requests naming what exists (the seeded agency, list, alert, agreement, read; a search's purpose,
    case and window), so that answers with data are checked too; the rest is generated. None where the
    operation takes nothing of the kind."""
    path = {name: seeded.path[name] for name in re.findall(r"\{(\w+)\}", operation.path) if name in seeded.path}
    query = seeded.query.get(operation.path)
    if not path and not query:
        return []
    return [operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=path, query=query)]


def run_cases(strategy: SearchStrategy[schemathesis.Case], platform: Platform, role: str) -> str | None:
    """Run the cases of ``strategy``; the report of the first failing one, or None."""

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def cases(case: schemathesis.Case) -> None:
        # A fresh token of alpha's user for each case: a generated `DELETE /api/v1/tokens/{id}` may revoke the
        # one before, and what follows must still be tried with a valid one.
        secret = platform.tokens.issue(SYSTEM, f"alpha-{role}").secret
        case.call_and_validate(headers={"Authorization": f"Bearer {secret}"}, checks=CHECKS)

    try:
        cases()
    except (Exception, FailureGroup) as failure:
        return f"{failure}"
    return None


@pytest.mark.parametrize("role", ["investigator", "admin"])
def test_every_operation_answers_as_documented(seeded: Seeded, role: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(platform=seeded.platform), config=CONFIG)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    tried = [op for op in operations if op.path not in EXCLUDED]
    assert {op.path for op in operations} >= set(EXCLUDED), "an excluded path is gone: drop it from EXCLUDED"
    assert len(tried) >= 50
    strategies = {
        f"{name} {op.label}": strategy
        for op in tried
        for name, strategy in [
            *((mode.value, op.as_strategy(generation_mode=mode)) for mode in modes(op)),
            *(("seeded", strategy) for strategy in seeded_strategies(op, seeded)),
        ]
    }
    failures = {
        label: report
        for label, strategy in strategies.items()
        if (report := run_cases(strategy, seeded.platform, role)) is not None
    }
    if failures:
        pytest.fail("\n\n".join(f"== {label}\n{report}" for label, report in failures.items()), pytrace=False)


def modes(operation: APIOperation) -> list[GenerationMode]:
    """Valid requests, and invalid ones where the operation takes any input to make invalid."""
    raw = operation.definition.raw
    takes_input = bool(raw.get("parameters") or raw.get("requestBody"))
    return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if takes_input else [GenerationMode.POSITIVE]

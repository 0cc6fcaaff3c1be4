"""The OpenAPI document: bearer security where a token is needed (and only there), every error a problem+json
derived from the exception hierarchy, closed vocabularies as enums, 405 with Allow."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plateledger.api.openapi import PUBLIC, error_titles
from plateledger.app import create_app
from plateledger.core.errors import AuditUnavailable, FieldInvalid, all_error_classes
from plateledger.hotlists.service import AlertLevel
from plateledger.platform import Platform
from plateledger.policy.rules import AgreementState
from plateledger.vocab import AgencyKind, Purpose, QueryKind
from tests.support import seed_agency

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform)) as client:
        yield client


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_bearer_scheme_on_every_operation_but_the_public_ones(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    found = {(method, path) for method, path, _ in operations(spec)}
    assert found >= PUBLIC, "a public operation is gone: drop it from api/openapi.py PUBLIC"
    for method, path, operation in operations(spec):
        if (method, path) in PUBLIC:
            assert "security" not in operation, (method, path)
        else:
            assert operation["security"] == [{"bearer": []}], (method, path)


def test_the_document_says_which_operations_need_a_token_as_the_app_does(
    client: TestClient, spec: dict[str, Any]
) -> None:
    """Each operation asked without a token: those with the bearer scheme answer 401 with `WWW-Authenticate`,
    public ones answer anything else (the URL-token ingest route refuses its made-up path token, its credential)."""
    for method, path, operation in operations(spec):
        url = re.sub(r"\{([^}]+)\}", lambda m: "1" if m.group(1).endswith("_id") else "alpha", path)
        response = client.request(method, url)
        if "security" in operation:
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["www-authenticate"] == "Bearer"
        elif path.endswith("{token}"):
            assert response.status_code == 401, (method, path)
        else:
            assert response.status_code != 401, (method, path)


def test_every_error_response_is_a_problem(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert {"HTTPValidationError", "ValidationError"}.isdisjoint(schemas)
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]
    assert schemas["Problem"]["additionalProperties"] is True  # extension members conform
    for method, path, operation in operations(spec):
        errors = {code: r for code, r in operation["responses"].items() if int(code) >= 400}
        assert errors, (method, path)
        for code, response in errors.items():
            assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (method, path, code)
        if "security" in operation:
            assert {"401", "403"} <= set(errors), (method, path)
            assert errors["401"]["headers"]["WWW-Authenticate"]["required"] is True


def test_error_statuses_come_from_the_exception_hierarchy(spec: dict[str, Any]) -> None:
    declared = {int(code) for _, _, operation in operations(spec) for code in operation["responses"]}
    for cls in all_error_classes():
        if 400 <= cls.status < 500 or cls.status == 503:
            assert cls.status in declared, cls.__name__
    # 413 (body limits) and 429 (budgets, lockout) are declared on every operation, 415 wherever a body goes.
    for method, path, operation in operations(spec):
        assert {"413", "429"} <= set(operation["responses"]), (method, path)
        if method in ("post", "put", "patch"):
            assert "415" in operation["responses"], (method, path)
    # Titles are the classes' own: a class added to the hierarchy is described by its title.
    titles = error_titles([FieldInvalid, AuditUnavailable])
    assert titles[422] == [FieldInvalid.title]
    assert titles[503] == [AuditUnavailable.title]
    assert titles[405] == ["Method not allowed"]
    method_not_allowed = spec["components"]["responses"]["MethodNotAllowed"]
    assert method_not_allowed["headers"]["Allow"]["required"] is True


def test_a_405_is_a_problem_naming_the_allowed_methods(client: TestClient) -> None:
    """Regression: the problem handler dropped the Allow header Starlette gives a 405."""
    response = client.delete("/api/v1/search/plate")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "GET"
    assert response.json()["status"] == 405


def test_request_validation_is_a_problem_and_documented_so(client: TestClient, spec: dict[str, Any]) -> None:
    response = client.post("/api/v1/auth/login", json={"username": "x"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "password"
    documented = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]["422"]
    assert documented["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}


def _enum(schema: dict[str, Any]) -> list[str]:
    for option in schema.get("anyOf", [schema]):
        if "enum" in option:
            return list(option["enum"])
        if "items" in option:
            return _enum(option["items"])
    raise AssertionError(f"no enum in {schema}")


def test_closed_vocabularies_are_enums_taken_from_the_code(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    purposes = [p.value for p in Purpose]
    search = {p["name"]: p for p in spec["paths"]["/api/v1/search/plate"]["get"]["parameters"]}
    assert _enum(search["purpose"]["schema"]) == purposes
    assert _enum(schemas["SearchOut"]["properties"]["purpose"]) == purposes
    assert _enum(schemas["TermsIn"]["properties"]["purposes"]) == purposes
    assert _enum(schemas["TermsIn"]["properties"]["query_kinds"]) == [k.value for k in QueryKind]
    assert _enum(schemas["AgreementOut"]["properties"]["state"]) == [s.value for s in AgreementState]
    assert _enum(schemas["HotListIn"]["properties"]["alert_level"]) == [a.value for a in AlertLevel]
    assert _enum(schemas["AgencyOut"]["properties"]["kind"]) == [k.value for k in AgencyKind]
    images = {p["name"]: p for p in spec["paths"]["/api/v1/images/{owner}/{read_id}/{kind}"]["get"]["parameters"]}
    assert _enum(images["kind"]["schema"]) == ["plate", "overview"]


def test_a_value_outside_a_vocabulary_still_gets_the_domains_refusal(client: TestClient, platform: Platform) -> None:
    """The enums document; the domain still decides (and audits) a refusal, as from the CLI."""
    kit = seed_agency(platform, "alpha")
    response = client.get(
        "/api/v1/search/plate",
        params={"plate": "7ABC123", "purpose": "curiosity", "case_number": "C-1"},
        headers={"Authorization": f"Bearer {kit.tokens['investigator']}"},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "purpose"
    assert platform.audit.entries(action="search.refused")


def test_component_names_are_plain(spec: dict[str, Any]) -> None:
    """No two response models share a name (FastAPI would name them by module path)."""
    assert not [name for name in spec["components"]["schemas"] if "__" in name]


def test_what_the_domain_requires_is_required_in_the_document(spec: dict[str, Any]) -> None:
    """Search parameters are optional at the HTTP layer (so that their absence is refused and audited by the
    search service) but required in the document, which clients read."""
    search = {p["name"]: p for p in spec["paths"]["/api/v1/search/plate"]["get"]["parameters"]}
    assert all(search[name]["required"] for name in ("plate", "purpose", "case_number"))
    assert not search["warrant"]["required"]
    assert "x-required" not in str(spec)

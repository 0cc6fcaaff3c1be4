"""The audit export (an agency's month of entries with leaves, private parts and salts) through the library, the
API, the CLI and the web UI; who may export; and the salts deleted after the audit detail retention."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.cli.main import app as cli_app
from plateledger.core.clock import FixedClock
from plateledger.core.errors import FieldInvalid, NotFound, PermissionDenied
from plateledger.platform import Platform
from plateledger.reports.audit_export import FORMAT, month_window
from plateledger_verify import leaf, merkle
from plateledger_verify.errors import MalformedError
from tests.support import search, seed_agency

JUNE = "2025-06"  # tests.support.NOW_MS is 2025-06-01T12:00Z
DAY_MS = 86_400_000


def history(platform: Platform) -> None:
    """Searches by two agencies in June, then one by city in July (the clock ends in July)."""
    city, county = seed_agency(platform, "city"), seed_agency(platform, "county")
    search(platform, city.investigator, "7ABC123", case_number="CASE-1", note="a note")
    search(platform, county.investigator, "7ABC123", case_number="CASE-2")
    with pytest.raises(FieldInvalid):
        search(platform, city.investigator, "8XYZ999", purpose="not a purpose")  # refused, audited
    assert isinstance(platform.clock, FixedClock)
    platform.clock.advance(31 * DAY_MS)
    search(platform, city.investigator, "7ABC123", case_number="CASE-3")


def proven(platform: Platform, exported: dict[str, Any]) -> list[int]:
    """What check-export does: each entry's private part opens its commitment, and the leaf is in the tree."""
    size, root = platform.audit.tree.head()
    seqs = []
    for entry in exported["entries"]:
        salt = base64.b64decode(entry["salt"]) if entry["salt"] is not None else None
        data = leaf.check_exported(entry["leaf"], entry["private"], salt)
        index = entry["seq"] - 1
        proof = platform.audit.tree.inclusion_proof(index, size)
        merkle.verify_inclusion(index, size, merkle.leaf_hash(data), proof, root)
        seqs.append(entry["seq"])
    return seqs


def test_a_month_of_an_agencys_entries_is_exported_and_proven(platform: Platform) -> None:
    history(platform)
    city = platform.registry.agency("city")
    since, until = month_window(JUNE)
    expected = [
        e.seq for e in platform.audit.entries(limit=1000) if e.actor_agency_id == city.id and since <= e.ts_ms < until
    ]
    assert len(expected) >= 2
    auditor = platform.tokens.authenticate(platform.tokens.issue(SYSTEM, "city-auditor").secret)
    exported = platform.audit_exports.export(auditor, "city", JUNE)
    assert (exported["format"], exported["agency"], exported["month"]) == (FORMAT, "city", JUNE)
    assert proven(platform, exported) == expected
    private = [e["private"] for e in exported["entries"]]
    assert {"CASE-1"} <= {p["case_number"] for p in private}
    assert all(p["user"] == "city-investigator" for p in private)
    refused = next(e for e in exported["entries"] if e["leaf"]["action"] == "search.refused")
    assert refused["leaf"]["purpose"] is None
    assert refused["private"]["purpose"] == "not a purpose"
    last = platform.audit.entries(after_seq=platform.audit.tree.size() - 1)[0]
    assert last.action == "audit.exported"
    assert orjson.loads(last.params) == {"filters": {"agency": "city", "month": JUNE}}
    assert orjson.loads(last.counts) == {"entries": len(expected)}


def test_only_the_agencys_admins_and_auditors_and_the_console_may_export(platform: Platform) -> None:
    history(platform)
    county = seed_agency(platform, "county2")
    city = {r: platform.tokens.authenticate(platform.tokens.issue(SYSTEM, f"city-{r}").secret) for r in ("admin",)}
    assert platform.audit_exports.export(city["admin"], "city", JUNE)["entries"]
    assert platform.audit_exports.export(SYSTEM, "city", JUNE)["entries"]
    investigator = platform.tokens.authenticate(platform.tokens.issue(SYSTEM, "city-investigator").secret)
    for who in (investigator, county.admin, county.auditor):
        with pytest.raises(PermissionDenied):
            platform.audit_exports.export(who, "city", JUNE)
        refusal = platform.audit.entries(after_seq=platform.audit.tree.size() - 1)[0]
        assert (refusal.action, orjson.loads(refusal.params)["operation"]) == ("action.refused", "audit.export")
    with pytest.raises(NotFound):
        platform.audit_exports.export(SYSTEM, "nowhere", JUNE)
    for month in ("2025-13", "2025-6", "June", "1969-12", ""):
        with pytest.raises(FieldInvalid):
            platform.audit_exports.export(SYSTEM, "city", month)


def test_the_export_through_the_api_the_cli_and_the_web(platform: Platform) -> None:
    history(platform)
    admin = platform.tokens.issue(SYSTEM, "city-admin").secret
    with TestClient(create_app(platform=platform)) as client:
        response = client.get(
            "/api/v1/agencies/city/audit-export", params={"month": JUNE}, headers={"Authorization": f"Bearer {admin}"}
        )
        assert response.status_code == 200, response.text
        assert 'filename="plateledger-audit-city-2025-06.json"' in response.headers["content-disposition"]
        api = response.json()
        assert proven(platform, api)
        refused = client.get(
            "/api/v1/agencies/city/audit-export",
            params={"month": JUNE},
            headers={"Authorization": f"Bearer {platform.tokens.issue(SYSTEM, 'city-investigator').secret}"},
        )
        assert refused.status_code == 403
        assert client.get("/api/v1/agencies/city/audit-export", params={"month": JUNE}).status_code == 401
    # The same entries by the CLI (the console), with the same leaves and private parts (salts are not random
    # per export: they are the stored ones).
    settings = platform.settings
    platform.close()
    result = CliRunner().invoke(
        cli_app, ["audit", "export", "--agency", "city", "--month", JUNE, "--data", str(settings.data)]
    )
    assert result.exit_code == 0, result.output
    cli = orjson.loads(result.stdout_bytes)
    assert cli["entries"] == api["entries"]
    result = CliRunner().invoke(
        cli_app, ["audit", "export", "--agency", "city", "--month", "2025-13", "--data", str(settings.data)]
    )
    # main() prints a library error as one line and exits non-zero (tests/integration/test_cli_invocation.py).
    assert isinstance(result.exception, FieldInvalid)
    assert result.exception.field == "month"


def test_the_web_audit_page_links_the_month_export(platform: Platform) -> None:
    history(platform)
    password = "a long enough password 1"
    platform.registry.create_user(SYSTEM, agency_slug="city", username="city-web", role="auditor", password=password)
    # Over HTTPS (the session cookie is Secure), without following the sign-in's redirect.
    with TestClient(create_app(platform=platform), base_url="https://testserver", follow_redirects=False) as client:
        form = client.get("/ui/sign-in")
        signed = client.post(
            "/ui/sign-in", data={"csrf": csrf_of(form.text), "username": "city-web", "password": password, "code": ""}
        )
        assert signed.status_code == 303, signed.text
        page = client.get("/ui/audit")
        assert 'action="/ui/audit/month-export.json"' in page.text
        response = client.post("/ui/audit/month-export.json", data={"csrf": csrf_of(page.text), "month": JUNE})
        assert response.status_code == 200, response.text
        assert response.json()["agency"] == "city"
        assert proven(platform, response.json())
        bad = client.post("/ui/audit/month-export.json", data={"csrf": csrf_of(page.text), "month": "2025-13"})
        assert bad.status_code == 422


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def test_salts_are_deleted_after_the_audit_detail_retention(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory(audit_detail_retention_days=30)
    history(platform)  # June, then 31 days later one more search
    before = platform.audit_exports.export(SYSTEM, "city", JUNE)
    assert all(e["salt"] is not None for e in before["entries"])
    completed = platform.retention.run(SYSTEM, settle_s=0).completed
    assert completed is not None
    assert completed.salts is not None
    assert completed.salts > 0
    after = platform.audit_exports.export(SYSTEM, "city", JUNE)
    assert [e["leaf"] for e in after["entries"]] == [e["leaf"] for e in before["entries"]]
    assert all(e["private"] is None and e["salt"] is None for e in after["entries"])
    assert proven(platform, after)  # every leaf still proven, by its public part alone
    july = platform.audit_exports.export(SYSTEM, "city", "2025-07")
    assert all(e["salt"] is not None for e in july["entries"])  # the July entries are younger than 30 days
    assert platform.audit.verify().intact


def test_salts_are_kept_without_the_setting(platform: Platform) -> None:
    history(platform)
    completed = platform.retention.run(SYSTEM, settle_s=0).completed
    assert completed is not None
    assert completed.salts is None
    assert all(e["salt"] for e in platform.audit_exports.export(SYSTEM, "city", JUNE)["entries"])


def test_the_private_part_of_a_changed_row_no_longer_opens_the_commitment(platform: Platform) -> None:
    history(platform)
    exported = platform.audit_exports.export(SYSTEM, "city", JUNE)
    entry = exported["entries"][0]
    forged = {**entry["private"], "case_number": "SOMETHING-ELSE"}
    with pytest.raises(MalformedError, match="do not match"):
        leaf.check_exported(entry["leaf"], forged, base64.b64decode(entry["salt"]))

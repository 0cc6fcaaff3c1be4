"""Transparency reports: generated from the policy in force, the stores and the audit log; public and aggregate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from plateledger.api.report_schemas import TransparencyOut
from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.core.clock import FixedClock
from plateledger.core.errors import FieldInvalid, NotFound
from plateledger.platform import Platform
from plateledger.policy.rules import Policy, describe
from plateledger.reports.transparency import render_html
from plateledger.sharing.service import preset_policy
from tests.integration.test_access_log import PLATE, Network, varied_history
from tests.support import DAY_MS, NOW_MS, ingest, read, seed_agency


@pytest.fixture
def network(platform: Platform, clock: FixedClock) -> Network:
    return varied_history(platform, clock)


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform)) as test_client:
        yield test_client


def test_policy_text_changes_when_the_policy_changes_with_no_other_edit(platform: Platform) -> None:
    seed_agency(platform, "city")
    client = TestClient(create_app(platform=platform))
    prohibited = "No one, including this agency, may search its reads for immigration enforcement."

    def published() -> tuple[list[str], str, list[str]]:
        report = platform.transparency.build("city")
        page = client.get("/transparency/city")
        public_json = client.get("/transparency/city.json").json()
        assert page.status_code == 200
        return report["policy"]["text"], page.text, public_json["policy"]["text"]

    before, html_before, json_before = published()
    assert prohibited not in before
    assert prohibited not in html_before
    assert json_before == before == describe(Policy(), country="US", state="CA")

    platform.policies.set(SYSTEM, "city", preset_policy("california"), preset="california")
    after, html_after, json_after = published()
    assert prohibited in after
    assert prohibited in html_after
    assert json_after == after == describe(preset_policy("california"), country="US", state="CA")
    assert "Only agencies in US-CA may receive its reads." in html_after
    assert platform.transparency.build("city")["policy"] | {"text": None, "set_at": None} == {
        "version": 1,
        "preset": "california",
        "matches_preset": True,
        "set_at": None,
        "text": None,
    }

    loosened = preset_policy("california").model_copy(update={"prohibited_purposes": frozenset(), "retention_days": 30})
    platform.policies.set(SYSTEM, "city", loosened, preset="california")
    again, html_again, _ = published()
    assert prohibited not in again
    assert prohibited not in html_again
    assert "Reads are deleted 30 days after they were taken" in html_again
    report = platform.transparency.build("city")
    assert report["policy"]["version"] == 2
    assert report["policy"]["matches_preset"] is False
    assert report["retention"] == {"days": 30, "hit_days": 1825}


def test_report_counts_come_from_the_access_log_and_the_stores(platform: Platform, network: Network) -> None:
    report = platform.transparency.build("alpha")
    TransparencyOut.model_validate(report, strict=True)
    entries = list(platform.access_log.entries("alpha", since_ms=NOW_MS + 2 * DAY_MS - 30 * DAY_MS))
    searches = report["searches"]
    assert searches["total"] == len(entries)
    assert searches["permitted"] == sum(e.outcome == "permitted" for e in entries)
    assert searches["reads_returned"] == sum(e.rows or 0 for e in entries)
    assert {r["purpose"]: r["permitted"] + r["withheld"] for r in searches["by_purpose"]} == Counter(
        e.purpose for e in entries
    )
    assert {r["agency"]: r["permitted"] + r["withheld"] for r in searches["by_requester"]} == Counter(
        e.requester for e in entries
    )
    assert {r["rule"]: r["count"] for r in searches["refusals_by_rule"]} == Counter(
        e.rule for e in entries if e.outcome == "withheld"
    )
    assert [r["own"] for r in searches["by_requester"] if r["agency"] == "alpha"] == [True]
    assert report["cameras"] == {"total": 2, "fixed": 1, "mobile": 1, "first_added_hour": NOW_MS // 3_600_000}
    assert report["reads_collected"] == 2
    assert platform.transparency.build("alpha", days=1)["reads_collected"] == 0  # taken two days ago
    assert platform.transparency.build("late", days=1)["searches"]["total"] == 2
    # Sharing partners: accepted and unexpired agreements only, in both directions.
    assert [(p["agency"], p["query_kinds"]) for p in report["sharing"]["shares_with"]] == [("beta", ["plate"])]
    assert [(p["agency"], p["query_kinds"]) for p in report["sharing"]["receives_from"]] == [("gamma", ["area"])]
    beta = platform.transparency.build("beta")["sharing"]
    assert beta["shares_with"] == []  # gamma's expired; fed's revoked; alpha's declined; gamma's other pending
    assert [p["agency"] for p in beta["receives_from"]] == ["alpha"]
    assert report["audit"]["intact"] is True
    assert report["audit"]["head_seq"] == report["audit"]["entries"] == len(platform.audit.entries(limit=10**6))
    assert report["audit"]["head_hash"] == platform.audit.entries(limit=10**6)[-1].hash


def test_public_page_needs_no_token_and_publishes_aggregates_only(
    platform: Platform, network: Network, client: TestClient
) -> None:
    before = len(platform.audit.entries(limit=10**6))
    page = client.get("/transparency/alpha")
    as_json = client.get("/transparency/alpha.json")
    via_format = client.get("/transparency/alpha", params={"format": "json"})
    assert page.status_code == as_json.status_code == via_format.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert as_json.json() == via_format.json()
    TransparencyOut.model_validate(as_json.json(), strict=True)
    assert "<script" not in page.text.lower()
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "Searches of its data" in page.text
    assert "beta police" in page.text
    for body in (page.text, as_json.text):
        for secret in (
            PLATE,
            "0NONE00",
            "2025-000123",
            "C-expired",
            "A-1",
            "late arrival",
            "alpha-investigator",
            "beta-investigator",
            "37.77",
            "-122.42",
        ):
            assert secret not in body, secret
    # A public, aggregate page is not an access to anyone's data: reading it adds nothing to the audit log.
    assert len(platform.audit.entries(limit=10**6)) == before
    assert client.get("/transparency/nowhere").status_code == 404
    assert client.get("/transparency/alpha", params={"days": 0}).status_code == 422
    assert client.get("/transparency/alpha", params={"format": "pdf"}).status_code == 422


def test_html_is_escaped(platform: Platform) -> None:
    platform.registry.create_agency(
        SYSTEM, slug="odd", name="<script>alert(1)</script> & Co", kind="private", country="US", state="CA"
    )
    html = render_html(platform.transparency.build("odd"))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html


def test_a_broken_chain_is_reported(platform: Platform) -> None:
    kit = seed_agency(platform, "city")
    ingest(platform, kit, [read(PLATE, camera="city-fixed")])
    with platform.governance.session() as session:
        session.execute(text("UPDATE audit_log SET outcome = 'refused' WHERE seq = 2"))
    chain = platform.transparency.build("city")["audit"]
    assert chain["intact"] is False
    assert chain["first_bad_seq"] == 2
    assert chain["head_hash"] is None
    assert "Broken" in render_html(platform.transparency.build("city"))


def test_unknown_agency_and_bad_period(platform: Platform) -> None:
    with pytest.raises(NotFound):
        platform.transparency.build("nowhere")
    seed_agency(platform, "city")
    with pytest.raises(FieldInvalid):
        platform.transparency.build("city", days=0)


def test_a_calendar_month_is_the_window_a_public_recount_uses(
    platform: Platform, network: Network, client: TestClient
) -> None:
    # NOW_MS is 2025-06-01T12:00Z; the history runs over the next two days.
    june = platform.transparency.build("alpha", month="2025-06")
    TransparencyOut.model_validate(june, strict=True)
    assert june["period"] == {
        "days": 30,
        "month": "2025-06",
        "since": "2025-06-01T00:00:00.000Z",
        "until": "2025-07-01T00:00:00.000Z",
    }
    entries = list(platform.access_log.entries("alpha", since_ms=1_748_736_000_000, until_ms=1_751_328_000_000))
    assert june["searches"]["total"] == len(entries) > 0
    assert june["searches"] == platform.transparency.build("alpha", days=30)["searches"]
    assert june["reads_collected"] == 2
    may = platform.transparency.build("alpha", month="2025-05")
    assert may["period"]["days"] == 31
    assert may["searches"]["total"] == may["reads_collected"] == 0
    assert platform.transparency.build("alpha", month="2025-07")["searches"]["total"] == 0
    assert platform.transparency.build("alpha")["period"]["month"] is None
    # The hour of the first camera: what leaf.touch needs to attribute a search's withheld_others.
    with platform.governance.session() as session:
        first = session.execute(
            text("SELECT min(c.created_ms) FROM cameras c JOIN agencies a ON a.id = c.agency_id WHERE a.slug = 'late'")
        ).scalar_one()
    assert first == NOW_MS + 2 * DAY_MS
    assert platform.transparency.build("late", month="2025-06")["cameras"]["first_added_hour"] == first // 3_600_000
    seed_agency(platform, "bare", cameras=())
    assert platform.transparency.build("bare", month="2025-06")["cameras"]["first_added_hour"] is None

    public = client.get("/transparency/alpha.json", params={"month": "2025-06"})
    assert public.status_code == 200
    assert public.json()["searches"] == june["searches"]
    assert public.json()["cameras"]["first_added_hour"] == june["cameras"]["first_added_hour"] is not None
    assert client.get("/transparency/alpha", params={"month": "2025-06"}).status_code == 200
    assert "the month 2025-06" in client.get("/transparency/alpha", params={"month": "2025-06"}).text


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2025-06", "days": 30},
        {"month": "2025-13"},
        {"month": "2025-6"},
        {"month": "1969-12"},
        {"month": "june"},
    ],
)
def test_a_bad_month_or_both_windows_are_refused(
    platform: Platform, client: TestClient, params: dict[str, str | int]
) -> None:
    seed_agency(platform, "city")
    for path in ("/transparency/city.json", "/transparency/city"):
        answer = client.get(path, params=params)
        assert answer.status_code == 422, (path, params, answer.text)
    with pytest.raises(FieldInvalid):
        platform.transparency.build("city", **params)  # type: ignore[arg-type]

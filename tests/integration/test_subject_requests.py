"""Subject requests ("is my plate held?"): the submission never answers, is the same for a held and a non-held
plate (body, status, headers and timing), is rate-limited, audited, and reaches every candidate agency's admins
without saying which holds the plate; the letter's counts match the store, covert lists stay hidden, and a case
hold gives the "neither confirm nor deny" letter (docs/subject-requests.md)."""

from __future__ import annotations

import random
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.auth.passwords import hash_password
from plateledger.auth.tokens import Principal
from plateledger.core.errors import PermissionDenied
from plateledger.platform import Platform
from plateledger.policy.actions import Action, allowed
from plateledger.store.models import User
from plateledger.subjects.render import render_html, render_pdf
from plateledger.subjects.requests import NOT_VERIFIED, SAME_ADMIN, UNSEEN, SubjectAsk
from plateledger.vocab import Purpose
from tests.integration.alert_kit import hot_list
from tests.integration.test_web import csrf_of, sign_in
from tests.integration.web_kit import PASSWORD
from tests.support import DAY_MS, HOUR_MS, NOW_MS, AgencyKit, ingest, read, search, seed_agency

HELD, NOT_HELD = "7SUB001", "7SUB999"
ASK = {"country": "US", "state": "CA", "name": "Ann Keeper", "email": "ann@example.org", "postal_address": "1 Main St"}
#: Headers that carry an id of the request (or the response) and may differ.
ID_HEADERS = {"x-request-id", "date"}


def ask(plate: str, **changes: str) -> dict[str, str]:
    return {"plate": plate, **ASK, **changes}


@pytest.fixture
def roomy(platform_factory: Callable[..., Platform]) -> Platform:
    """A platform whose rate limits do not get in the way of measuring."""
    return platform_factory(subject_request_plate_limit=1000, subject_request_client_limit=10_000)


def client_of(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform), base_url="https://testserver", follow_redirects=False)


@pytest.fixture
def world(roomy: Platform) -> tuple[Platform, AgencyKit, AgencyKit]:
    city, county = seed_agency(roomy, "city", name="City Police"), seed_agency(roomy, "county", name="County Sheriff")
    ingest(roomy, city, [read(HELD, camera="city-fixed", region="US-CA")])
    return roomy, city, county


def bearer(kit: AgencyKit, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.tokens[role]}"}


def actions_after(platform: Platform, seq: int) -> list[str]:
    return [e.action for e in platform.audit.entries(after_seq=seq, limit=100_000)]


def verifier(platform: Platform, kit: AgencyKit) -> tuple[Principal, str]:
    """A second admin of ``kit``'s agency (``<slug>-verifier``), made once: the one who records the keeper's
    verification, so that the agency's admin may write the letter (two people). Its principal and token."""
    username = f"{kit.slug}-verifier"
    if username not in kit.tokens:
        platform.registry.create_user(SYSTEM, agency_slug=kit.slug, username=username, role="admin")
        kit.tokens[username] = platform.tokens.issue(SYSTEM, username).secret
        kit.principals[username] = platform.tokens.authenticate(kit.tokens[username])
    return kit.principals[username], kit.tokens[username]


def head(platform: Platform) -> int:
    entries = platform.audit.entries(after_seq=0, limit=1_000_000)
    return entries[-1].seq if entries else 0


# -- submission: the same answer, the same work ----------------------------------------------------------------
def test_submission_is_the_same_for_a_held_and_a_not_held_plate(world: tuple[Platform, AgencyKit, AgencyKit]) -> None:
    platform, _city, _county = world
    with client_of(platform) as client:
        client.post("/api/v1/subject-requests", json=ask("7WARM00"))  # first request of the app: imports, caches
        held = client.post("/api/v1/subject-requests", json=ask(HELD))
        not_held = client.post("/api/v1/subject-requests", json=ask(NOT_HELD))
    assert held.status_code == not_held.status_code == 202
    bodies = [r.json() for r in (held, not_held)]
    assert bodies[0]["reference"] != bodies[1]["reference"]
    assert next({k: v for k, v in b.items() if k != "reference"} for b in bodies) == {
        k: v for k, v in bodies[1].items() if k != "reference"
    }
    assert len(held.content) == len(not_held.content)
    headers = [{k: v for k, v in r.headers.items() if k not in ID_HEADERS} for r in (held, not_held)]
    assert headers[0] == headers[1]
    assert set(bodies[0]) == {"reference", "status", "message"}


def _timed(client: TestClient, plate: str) -> float:
    start = time.perf_counter()
    response = client.post("/api/v1/subject-requests", json=ask(plate))
    elapsed = time.perf_counter() - start
    assert response.status_code == 202
    return elapsed


def test_submission_takes_the_same_time_for_a_held_and_a_not_held_plate(
    world: tuple[Platform, AgencyKit, AgencyKit],
) -> None:
    """50 submissions of each, interleaved in pairs in random order (so a burst of load on a shared 2-core machine
    falls on both alike), after a warm-up. The path does no lookup of the plate's reads at all, so the two
    distributions are the same; the bound is generous for a noisy machine: each median within 50 % (+ 3 ms) of
    the other, and neither plate slower in more than 80 % of the pairs (under equal distributions that share is
    about 50 %, with a standard deviation of 7 %)."""
    platform, _city, _county = world
    order = random.Random(19)
    times: dict[str, list[float]] = {HELD: [], NOT_HELD: []}
    with client_of(platform) as client:
        for _ in range(5):
            _timed(client, HELD), _timed(client, NOT_HELD)
        for _ in range(50):
            pair = [HELD, NOT_HELD]
            order.shuffle(pair)
            for plate in pair:
                times[plate].append(_timed(client, plate))
    held, not_held = statistics.median(times[HELD]), statistics.median(times[NOT_HELD])
    assert held <= 1.5 * not_held + 0.003, (held, not_held)
    assert not_held <= 1.5 * held + 0.003, (held, not_held)
    slower = sum(h > n for h, n in zip(times[HELD], times[NOT_HELD], strict=True)) / 50
    assert 0.2 <= slower <= 0.8, slower


def test_submission_is_audited_and_reaches_every_candidate_agency(
    world: tuple[Platform, AgencyKit, AgencyKit],
) -> None:
    platform, city, county = world
    nocams = seed_agency(platform, "nocams", cameras=(), roles=("admin",))
    before = head(platform)
    with client_of(platform) as client:
        reference = client.post("/api/v1/subject-requests", json=ask(HELD)).json()["reference"]
        (entry,) = platform.audit.entries(after_seq=before, limit=10)
        assert entry.action == "subject_access.requested"
        assert (entry.purpose, entry.actor_username, entry.actor_agency_id) == ("subject_access", "public", None)
        assert orjson.loads(entry.counts) == {"candidates": 2}  # every agency with cameras; none named
        assert "city" not in entry.params
        assert "Ann" not in entry.params
        seen = {}
        for kit in (city, county):
            (item,) = client.get("/api/v1/subject-requests", headers=bearer(kit)).json()
            assert item["reference"] == reference
            seen[kit.slug] = {k: v for k, v in item.items()}
        # The holder's listing and the other's are the same: nothing says which holds the plate.
        assert seen["city"] == seen["county"]
        assert client.get("/api/v1/subject-requests", headers=bearer(nocams)).json() == []
        # Only admins: an investigator is refused by the table (audited).
        refused = client.get("/api/v1/subject-requests", headers=bearer(city, "investigator"))
        assert refused.status_code == 403
        assert (
            refused.json()["detail"] == allowed(city.investigator, Action.SUBJECT_REQUEST_VIEW, city.agency.id).reason
        )
        # Another agency's request id is unseen (404, the same as one that does not exist).
        request_id = seen["city"]["id"]
        for path in (f"/api/v1/subject-requests/{request_id}", "/api/v1/subject-requests/999999"):
            response = client.get(path, headers=bearer(nocams))
            assert (response.status_code, response.json()["detail"]) == (404, UNSEEN)


def test_invalid_requests_are_refused_and_audited(world: tuple[Platform, AgencyKit, AgencyKit]) -> None:
    platform, _city, _county = world
    with client_of(platform) as client:
        for body, field in [
            (ask("7AB*"), "plate"),
            (ask(HELD, state="ZZ"), "region"),
            (ask(HELD, email="not-an-address"), "email"),
            (ask(HELD, postal_address=" "), "postal_address"),
        ]:
            before = head(platform)
            response = client.post("/api/v1/subject-requests", json=body)
            assert response.status_code == 422, response.text
            assert response.json()["detail"].startswith(field)
            assert actions_after(platform, before) == ["subject_access.refused"]


def test_rate_limits_per_plate_and_per_client(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory(subject_request_plate_limit=2, subject_request_client_limit=3)
    seed_agency(platform, "city")
    with client_of(platform) as client:
        for _ in range(2):
            assert client.post("/api/v1/subject-requests", json=ask(HELD)).status_code == 202
        before = head(platform)
        limited = client.post("/api/v1/subject-requests", json=ask(HELD))
        assert limited.status_code == 429
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert "for this plate" in limited.json()["detail"]
        # The whole window, whenever the earlier requests came: the time of someone else's request is not told.
        assert int(limited.headers["retry-after"]) == 30 * 86_400
        platform.clock.advance(DAY_MS)  # type: ignore[attr-defined]
        assert int(client.post("/api/v1/subject-requests", json=ask(HELD)).headers["retry-after"]) == 30 * 86_400
        assert actions_after(platform, before) == ["subject_access.refused", "subject_access.refused"]
    # The plate's limit holds for every requester; the client's for every plate.
    with pytest.raises(Exception, match="for this plate"):
        platform.subjects.submit(SubjectAsk(HELD, "US", "CA", "B", "b@example.org", "2 Side St"), client="10.0.0.9")
    platform.subjects.submit(SubjectAsk("7OTHER1", "US", "CA", "B", "b@example.org", "2 Side St"), client="10.0.0.9")
    platform.subjects.submit(SubjectAsk("7OTHER2", "US", "CA", "B", "b@example.org", "2 Side St"), client="10.0.0.9")
    platform.subjects.submit(SubjectAsk("7OTHER3", "US", "CA", "B", "b@example.org", "2 Side St"), client="10.0.0.9")
    with pytest.raises(Exception, match="from this address"):
        platform.subjects.submit(
            SubjectAsk("7OTHER4", "US", "CA", "B", "b@example.org", "2 Side St"), client="10.0.0.9"
        )
    # After the window, accepted again.
    platform.clock.advance(31 * DAY_MS)  # type: ignore[attr-defined]
    platform.subjects.submit(SubjectAsk(HELD, "US", "CA", "B", "b@example.org", "2 Side St"), client="10.0.0.9")


# -- the letter ---------------------------------------------------------------------------------------------------
MONTH_MS = 31 * DAY_MS


@pytest.fixture
def letter_world(platform: Platform) -> tuple[Platform, AgencyKit, AgencyKit, int]:
    """City holds reads of the plate over three months (some with no region, some of another region's plate of
    the same text, which are not the keeper's), a plain and a covert hot list with the plate, and searches of it;
    county holds none. One request, verified by both."""
    city, county = seed_agency(platform, "city", name="City Police"), seed_agency(platform, "county", name="County")
    reads = [
        read(HELD, camera="city-fixed", ts=NOW_MS - HOUR_MS, region="US-CA"),
        read(HELD, camera="city-fixed", ts=NOW_MS - 2 * HOUR_MS),
        read(HELD, camera="city-mobile", ts=NOW_MS - MONTH_MS, region="US-CA", lat=37.0, lon=-122.0),
        read(HELD, camera="city-fixed", ts=NOW_MS - 2 * MONTH_MS, region="US-CA"),
        read(HELD, camera="city-fixed", ts=NOW_MS - 2 * MONTH_MS - HOUR_MS, region="US-NV"),
        read("7SUB002", camera="city-fixed", ts=NOW_MS - HOUR_MS, region="US-CA"),
    ]
    assert ingest(platform, city, reads).stored == len(reads)
    ingest(platform, county, [read("7SUB002", camera="county-fixed", region="US-CA")])
    hot_list(platform, city, "Stolen vehicles", HELD)
    hot_list(platform, city, "Operation Nightjar", HELD, covert=True)
    hot_list(platform, county, "County list", HELD)  # county's own list: in county's letter only
    search(platform, city.investigator, HELD)
    search(platform, city.investigator, HELD.lower(), fuzzy=True)
    search(platform, city.investigator, "7SUB00*")
    search(platform, city.investigator, "7SUB002")  # another plate: not counted
    search(platform, county.investigator, HELD)  # no agreement: nothing of city's returned, not counted
    received = platform.subjects.submit(
        SubjectAsk(HELD, "US", "CA", "Ann Keeper", "a@example.org", "1 Main St"), client="1"
    )
    (item,) = [i for i in platform.subjects.queue(city.admin) if i.reference == received.reference]
    return platform, city, county, item.id


def _expected_months() -> dict[str, int]:
    months: dict[str, int] = {}
    for ts in (NOW_MS - HOUR_MS, NOW_MS - 2 * HOUR_MS, NOW_MS - MONTH_MS, NOW_MS - 2 * MONTH_MS):
        month = datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m")
        months[month] = months.get(month, 0) + 1
    return months


def test_letter_counts_match_the_store_and_hide_covert_lists(
    letter_world: tuple[Platform, AgencyKit, AgencyKit, int],
) -> None:
    platform, city, county, request_id = letter_world
    before = head(platform)
    with pytest.raises(Exception, match="verified"):
        platform.letters.letter(city.admin, request_id)
    (refusal,) = platform.audit.entries(after_seq=before, limit=10)
    assert (refusal.action, orjson.loads(refusal.params)["reason"]) == ("action.refused", NOT_VERIFIED)
    clerk, _token = verifier(platform, city)
    platform.subjects.verify(clerk, request_id, method="registry_lookup", verified_on="2025-05-30")
    letter = platform.letters.letter(city.admin, request_id)
    assert not letter.ncnd
    assert {m.month: m.reads for m in letter.months} == _expected_months()
    # The same numbers through the gate: the city's own plate search returns the keeper's reads (region US-CA or
    # none), plus the US-NV plate of the same text, which the letter leaves out.
    found = search(platform, city.investigator, HELD)
    assert len(found.reads) == letter.reads + 1
    assert [(h.name, h.purpose) for h in letter.hot_lists] == [("Stolen vehicles", "stolen_vehicle")]
    # Exact, fuzzy and a matching pattern, all by city; county's search returned nothing of city's.
    assert [(s.agency, s.searches) for s in letter.searches] == [("City Police", 3)]
    html = render_html(letter)
    assert "Nightjar" not in html
    assert "County list" not in html
    for hidden in ("city-fixed", "city-mobile", "37.0", "CASE-1", "city-investigator", "2025-000123"):
        assert hidden not in html, hidden
    assert render_pdf(letter).startswith(b"%PDF")
    (answered,) = [e for e in platform.audit.entries(after_seq=before, limit=100) if e.action.endswith("answered")]
    params = orjson.loads(answered.params)
    assert (params["reads"], params["searches"], params["hot_lists"], params["ncnd"]) == (4, 3, 1, False)
    assert (answered.purpose, orjson.loads(answered.counts)) == ("subject_access", {})
    # The other candidate answers for its own data: none.
    platform.subjects.verify(verifier(platform, county)[0], request_id, method="in_person", verified_on="2025-05-31")
    empty = platform.letters.letter(county.admin, request_id)
    assert (empty.months, empty.searches, empty.ncnd) == ([], [], False)
    assert [h.name for h in empty.hot_lists] == ["County list"]
    report = platform.transparency.build("city")
    assert report["subject_requests"] == {"received": 1, "answered": 1}


def test_a_case_hold_gives_the_neither_confirm_nor_deny_letter(
    letter_world: tuple[Platform, AgencyKit, AgencyKit, int],
) -> None:
    platform, city, _county, request_id = letter_world
    found = search(platform, city.investigator, HELD, region="US-CA")
    assert platform.retention.hold(city.agency.id, found.reads[0].read_id, "case", "2025-INV-7")
    platform.subjects.verify(
        verifier(platform, city)[0], request_id, method="registration_document", verified_on="2025-06-01"
    )
    letter = platform.letters.letter(city.admin, request_id)
    assert letter.ncnd
    assert (letter.months, letter.hot_lists, letter.searches) == ([], [], [])
    html = render_html(letter)
    assert "neither confirm nor deny" in html
    assert "Stolen vehicles" not in html
    assert "Plate reads we hold" not in html
    assert "Ann Keeper" in html
    assert "Your request about plate 7SUB001 (US-CA)" in html
    assert b"%PDF" in render_pdf(letter)[:8]


def test_the_admin_who_verified_cannot_write_the_letter(
    letter_world: tuple[Platform, AgencyKit, AgencyKit, int],
) -> None:
    """Two people: an admin who records the keeper's verification and then asks for the letter is refused, audited
    as every refusal is (``action.refused`` naming the rule), and nothing is answered; another admin may write it.
    Verifying again does not make the letter one person's: the latest verifier is the one refused."""
    platform, city, _county, request_id = letter_world
    platform.subjects.verify(city.admin, request_id, method="in_person", verified_on="2025-05-30")
    before = head(platform)
    with pytest.raises(PermissionDenied, match="two people"):
        platform.letters.letter(city.admin, request_id)
    (refusal,) = platform.audit.entries(after_seq=before, limit=10)
    params = orjson.loads(refusal.params)
    assert (refusal.action, params["operation"], params["reason"]) == (
        "action.refused",
        Action.SUBJECT_REQUEST_ANSWER.value,
        SAME_ADMIN,
    )
    assert refusal.actor_username == "city-admin"
    assert platform.subjects.item(city.admin, request_id).answered_ms is None
    other, _token = verifier(platform, city)
    assert platform.letters.letter(other, request_id).reads == 4
    platform.subjects.verify(other, request_id, method="in_person", verified_on="2025-05-31")
    with pytest.raises(PermissionDenied, match="two people"):
        platform.letters.letter(other, request_id)
    assert platform.letters.letter(city.admin, request_id).reads == 4
    answered = [e for e in platform.audit.entries(after_seq=before, limit=100) if e.action.endswith("answered")]
    assert [e.actor_username for e in answered] == ["city-verifier", "city-admin"]


def test_letter_through_the_api(letter_world: tuple[Platform, AgencyKit, AgencyKit, int]) -> None:
    platform, city, county, request_id = letter_world
    clerk = {"Authorization": f"Bearer {verifier(platform, city)[1]}"}
    with client_of(platform) as client:
        path = f"/api/v1/subject-requests/{request_id}"
        refused = client.get(f"{path}/letter", headers=bearer(city))
        assert (refused.status_code, refused.json()["detail"]) == (403, NOT_VERIFIED)
        body = {"method": "registry_lookup", "verified_on": "2025-05-30", "note": "DMV record"}
        assert client.post(f"{path}/verification", json=body, headers=bearer(city, "auditor")).status_code == 403
        verified = client.post(f"{path}/verification", json=body, headers=clerk)
        assert verified.status_code == 200
        assert verified.json()["verified_by"] == "city-verifier"
        bad = client.post(f"{path}/verification", json={**body, "verified_on": "2099-01-01"}, headers=clerk)
        assert bad.status_code == 422
        # Two people: the admin who recorded the verification does not write the letter.
        same = client.get(f"{path}/letter", headers=clerk)
        assert (same.status_code, same.json()["detail"]) == (403, SAME_ADMIN)
        html = client.get(f"{path}/letter", headers=bearer(city))
        assert html.status_code == 200
        assert "Ann Keeper" in html.text
        assert "Stolen vehicles" in html.text
        pdf = client.get(f"{path}/letter?format=pdf", headers=bearer(city))
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        # County has not verified: its letter is refused, and city's verification is not county's.
        assert client.get(f"{path}/letter", headers=bearer(county)).status_code == 403
        assert client.get(path, headers=bearer(city)).json()["answered_by"] == "city-admin"
        report = client.get("/transparency/city.json").json()
        assert report["subject_requests"] == {"received": 1, "answered": 1}


# -- the web pages ------------------------------------------------------------------------------------------------
def _submit_form(client: TestClient, plate: str) -> Any:
    form = client.get("/ui/subject-request")
    assert form.status_code == 200
    return client.post("/ui/subject-request", data={"csrf": csrf_of(form.text), **ask(plate)})


def test_web_form_answers_the_same_and_admins_verify_and_write(
    world: tuple[Platform, AgencyKit, AgencyKit],
) -> None:
    platform, city, _county = world
    verifier(platform, city)
    with platform.governance.session() as session:
        session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    with client_of(platform) as client:
        _submit_form(client, "7WARM00")
        pages = [_submit_form(client, plate) for plate in (HELD, NOT_HELD)]
        assert [p.status_code for p in pages] == [200, 200]
        references = [re.search(r'id="subject-reference">([^<]+)<', p.text) for p in pages]
        assert all(references)
        texts = [p.text.replace(m.group(1), "REF") for p, m in zip(pages, references, strict=True) if m]
        assert texts[0] == texts[1]
        headers = [{k: v for k, v in p.headers.items() if k not in ID_HEADERS} for p in pages]
        assert headers[0] == headers[1]
        # Without the form's cookie token: refused.
        forged = client.post("/ui/subject-request", data={"csrf": "x", **ask(HELD)})
        assert forged.status_code == 403
        sign_in(client, "city-verifier")
        queue = client.get("/ui/admin/subject-requests")
        assert queue.status_code == 200
        assert HELD in queue.text
        assert NOT_HELD in queue.text
        request_id = next(i.id for i in platform.subjects.queue(city.admin) if i.plate == HELD)
        detail = client.get(f"/ui/admin/subject-requests/{request_id}")
        assert "not verified yet" in detail.text
        done = client.post(
            f"/ui/admin/subject-requests/{request_id}/verification",
            data={"csrf": csrf_of(detail.text), "method": "in_person", "verified_on": "2025-05-31", "note": ""},
        )
        assert done.status_code == 303
        # Two people: the admin who recorded the verification is told another admin writes the letter, and is
        # refused it.
        assert 'id="letter-second-admin"' in client.get(f"/ui/admin/subject-requests/{request_id}").text
        assert client.get(f"/ui/admin/subject-requests/{request_id}/letter").status_code == 403
        sign_in(client, city.admin.username)
        assert 'id="letter-html"' in client.get(f"/ui/admin/subject-requests/{request_id}").text
        letter = client.get(f"/ui/admin/subject-requests/{request_id}/letter")
        assert letter.status_code == 200
        assert "/ui/admin/subject-requests/letter.css" in letter.text
        assert "<style>" not in letter.text
        assert client.get("/ui/admin/subject-requests/letter.css").status_code == 200
        pdf = client.get(f"/ui/admin/subject-requests/{request_id}/letter?format=pdf")
        assert pdf.content.startswith(b"%PDF")


def test_purpose_is_not_a_search_purpose() -> None:
    """``subject_access`` names the entries of subject requests; no search may be made under it."""
    assert "subject_access" not in {p.value for p in Purpose}

"""The oversight rules on live data: searches appended through the library, read by the background job of
``plateledger serve`` after its cursor, flags stored with their evidence, explained by the case register, and
reviewed in the queue; the same rules over a period on demand."""

from __future__ import annotations

import time

import pytest

from plateledger.core.clock import FixedClock
from plateledger.core.errors import Conflict, FieldInvalid
from plateledger.platform import Platform
from plateledger.review.job import OversightJob
from plateledger.review.register import make_case
from tests.integration.review_kit import SEEDED, Seeded, configure, seed
from tests.support import DAY_MS, NOW_MS, seed_agency


def head(platform: Platform) -> int:
    return platform.audit.entries(after_seq=0, limit=1_000_000)[-1].seq


def run_job(platform: Platform) -> OversightJob:
    """The serve job, until it has read every entry appended so far."""
    job = OversightJob(platform.oversight, poll_s=0.05)
    job.start()
    try:
        deadline = time.monotonic() + 60
        while platform.oversight.cursor != head(platform):
            assert time.monotonic() < deadline, "the oversight job did not catch up"
            time.sleep(0.05)
    finally:
        job.stop()
    assert job.failures == 0
    return job


@pytest.fixture
def seeded(platform: Platform, clock: FixedClock) -> Seeded:
    kit = seed_agency(platform, "city")
    seed_agency(platform, "county", state="NV")
    configure(platform, kit)
    return seed(platform, clock, kit)


def test_every_seeded_pattern_is_flagged_live_and_honest_searches_are_not(platform: Platform, seeded: Seeded) -> None:
    run_job(platform)
    auditor = seeded.kit.auditor
    queue = platform.review.queue(auditor, "city")
    flags = {(g["actor"], g["rule"]): g["flags"] for g in queue["groups"]}
    for pattern, (user, rule) in SEEDED.items():
        (flag,) = flags[(f"city/{user}", rule)]
        shown = platform.review.flag(auditor, "city", flag["id"])
        assert set(seeded.by_pattern[pattern]) <= set(shown["refs"]), pattern
        assert shown["entries"], pattern
        assert shown["explanation"], pattern
        assert shown["threshold"], pattern
        assert {e["actor"] for e in shown["entries"]} == {user}
    # The evidence is the audit entries themselves, with the numbers and threshold the rule compared.
    burst = platform.review.flag(auditor, "city", flags[("city/city-burst", "volume.burst")][0]["id"])
    assert burst["numbers"]["searches"] == 30
    assert burst["threshold"] == {"burst_count": 30, "burst_minutes": 10}
    stale = flags[("city/city-stale", "case.stale")][0]
    assert stale["numbers"]["opened"] == "2019-03-01"
    near = flags[("city/city-protest", "area.sensitive_place")][0]
    assert near["numbers"]["place"] == "St. Mark's Church"
    assert near["numbers"]["distance_m"] < 300
    # Honest officers: 72 searches of registered open cases of their unit, none in the queue.
    honest_actors = {f"city/{name}" for name in seeded.honest}
    assert not [key for key in flags if key[0] in honest_actors]
    flagged = sum(len(g["flags"]) for g in queue["groups"])
    print(f"{seeded.searches} searches, {flagged} flags in the queue, 0 of 72 honest searches flagged")


def test_the_job_reads_only_new_entries_and_survives_a_restart(
    platform: Platform, seeded: Seeded, clock: FixedClock
) -> None:
    job = run_job(platform)
    assert job.read == head(platform)
    before = platform.review.queue(seeded.kit.auditor, "city")["counts"]
    # A new LiveRules (a restarted server) rebuilds its state from the entries up to the stored cursor: nothing
    # is raised twice, and the next burst still counts the searches before the restart.
    platform.oversight.cursor = None
    platform.oversight._agencies.clear()
    # Only the listing's own entry (``oversight.queue_viewed``, not a search) is new since the job stopped.
    assert platform.oversight.step() == head(platform) - job.read == 1
    assert platform.review.queue(seeded.kit.auditor, "city")["counts"] == before


def test_explained_flags_are_kept_out_of_the_queue(platform: Platform, clock: FixedClock) -> None:
    from tests.integration.review_kit import add_user
    from tests.support import search

    kit = seed_agency(platform, "city")
    configure(platform, kit)
    officer, stranger = add_user(platform, kit, "city-det"), add_user(platform, kit, "city-other-unit")
    platform.cases.set_unit(kit.admin, "city", "city-det", "Burglary")
    platform.cases.set_unit(kit.admin, "city", "city-other-unit", "Traffic")
    csv = b"Case Number,Opened,Closed,Unit\nB-2025-7,2025-05-01,,Burglary\nB-2025-8,2025-05-01,,Burglary\n"
    assert platform.cases.import_csv(kit.admin, "city", csv, source="cases.csv") == {"added": 2, "updated": 0}
    for who in (officer, stranger):  # off the pattern: the register explains it for the unit's own detective
        search(platform, who, "7ABC123", case_number="B-2025-7")
        clock.advance(60_000)
    run_job(platform)
    explained = platform.review.queue(kit.auditor, "city", status="explained")["groups"]
    assert [(g["actor"], g["rule"]) for g in explained] == [("city/city-det", "case.pattern")]
    assert "assigned to unit Burglary" in explained[0]["flags"][0]["explained_by"]
    queued = platform.review.queue(kit.auditor, "city")["groups"]
    assert [(g["actor"], g["rule"]) for g in queued] == [("city/city-other-unit", "case.pattern")]
    # A prohibited term is never explained away by a case.
    search(platform, officer, "7ABC124", case_number="B-2025-8", note="ICE detainer")
    run_job(platform)
    queued = platform.review.queue(kit.auditor, "city")["groups"]
    assert ("city/city-det", "text.prohibited") in {(g["actor"], g["rule"]) for g in queued}
    # A bad line refuses the whole file, naming the line.
    with pytest.raises(Exception, match="line 3"):
        platform.cases.import_csv(kit.admin, "city", b"case_number,opened\nX-1,2025-01-01\nX-2,someday\n")
    assert {c.number for c in platform.cases.listing(kit.admin, "city")} == {"B-2025-7", "B-2025-8"}


def test_review_decisions_are_audited_and_counted(platform: Platform, seeded: Seeded) -> None:
    run_job(platform)
    auditor = seeded.kit.auditor
    flags = {(g["actor"], g["rule"]): g["flags"][0] for g in platform.review.queue(auditor, "city")["groups"]}
    ice = flags[("city/city-ice", "text.prohibited")]["id"]
    vague = flags[("city/city-vague", "reason.content_free")]["id"]
    with pytest.raises(FieldInvalid):
        platform.review.decide(auditor, "city", ice, "confirmed", "  ")
    platform.review.decide(auditor, "city", ice, "escalated", "asked the chief")
    platform.review.decide(auditor, "city", ice, "confirmed", "immigration lookups, referred to internal affairs")
    platform.review.decide(auditor, "city", vague, "dismissed", "case number given by phone later")
    with pytest.raises(Conflict):
        platform.review.decide(auditor, "city", vague, "confirmed", "again")
    decided = [e for e in platform.audit.entries(after_seq=0, limit=100_000, action="oversight.flag_decided")]
    assert [e.actor_username for e in decided] == ["city-auditor"] * 3
    report = platform.transparency.build("city", days=30)
    counts = {row["rule"]: row for row in report["oversight"]["flags"]}
    assert counts["text.prohibited"]["raised"] == 2  # the ICE lookups and the "protest march" area search
    assert counts["text.prohibited"]["confirmed"] == 1
    assert counts["text.prohibited"]["open"] == 1
    assert counts["reason.content_free"]["dismissed"] == 1
    assert report["oversight"]["sensitive_places"] == {"places": 2, "kinds": {"clinic": 1, "place of worship": 1}}
    assert any("Case numbers must match the pattern [0-9]{2}-[0-9]{5}" in line for line in report["policy"]["text"])


def test_on_demand_run_over_a_period(platform: Platform, seeded: Seeded) -> None:
    """Without the job, `oversight run` over the period raises the same flags (and a second run adds none)."""
    first = platform.review.run(seeded.kit.auditor, "city", since_ms=NOW_MS - DAY_MS, until_ms=NOW_MS + DAY_MS)
    assert first["searches"] == seeded.searches
    assert first["raised"] >= len(SEEDED)
    again = platform.review.run(seeded.kit.auditor, "city", since_ms=NOW_MS - DAY_MS, until_ms=NOW_MS + DAY_MS)
    assert (again["raised"], again["updated"]) == (0, 0)
    rules = {(g["actor"], g["rule"]) for g in platform.review.queue(seeded.kit.auditor, "city")["groups"]}
    assert {(f"city/{user}", rule) for user, rule in SEEDED.values()} <= rules
    (ran,) = platform.audit.entries(after_seq=0, limit=100_000, action="oversight.run")[-1:]
    assert ran.actor_username == "city-auditor"


def test_a_plate_searched_outside_any_alert_or_case_is_flagged_live(platform: Platform, clock: FixedClock) -> None:
    from tests.integration.alert_kit import hot_list, raise_alert
    from tests.integration.review_kit import add_user
    from tests.support import search

    kit = seed_agency(platform, "city")
    configure(platform, kit)
    watcher, detective = add_user(platform, kit, "city-watch"), add_user(platform, kit, "city-det")
    platform.cases.put(kit.admin, "city", [make_case("25-00100", "2025-01-01")])
    run_job(platform)  # the job is running before the alert: it must read alerts as they come
    entry = hot_list(platform, kit, "stolen", "7ALR123")
    raise_alert(platform, kit, entry, "read-1", plate="7ALR123")
    for _ in range(5):
        search(platform, watcher, "6EXP456", case_number="25-00999")  # well-formed, never registered
        search(platform, detective, "7ALR123", case_number="25-00999")  # the same, after an alert
        search(platform, detective, "5REG456", case_number="25-00100")  # a registered open case
        clock.advance(3_600_000)
    run_job(platform)
    queue = platform.review.queue(kit.auditor, "city")
    flags = {(g["actor"], g["rule"]): g["flags"] for g in queue["groups"]}
    untied = [key for key in flags if key[1] == "plate.no_alert_or_case"]
    assert untied == [("city/city-watch", "plate.no_alert_or_case")]
    shown = platform.review.flag(kit.auditor, "city", flags[untied[0]][0]["id"])
    assert shown["numbers"]["searches"] == 5
    assert shown["numbers"]["plate"] == "6EXP456"
    assert {e["actor"] for e in shown["entries"]} == {"city-watch"}
    # A later search of the plate under the case, now registered and open: tied, so the evidence stays as it was.
    platform.cases.put(kit.admin, "city", [make_case("25-00999", "2025-01-01")])
    search(platform, watcher, "6EXP456", case_number="25-00999")
    run_job(platform)
    again = platform.review.flag(kit.auditor, "city", flags[untied[0]][0]["id"])
    assert again["numbers"]["searches"] == 5

"""Hot-list entries and alerts bound by the read owner's policy: an alert only where the owner permits the
`alert` query kind for the entry's purpose; otherwise no alert, nothing for the list's agency, and an
`alert.withheld` entry for the owner. Lists and entries: validation, expiry, covert visibility."""

from __future__ import annotations

import threading

import orjson
import pytest
from sqlalchemy import select

from plateledger.alerts.service import VERIFY_FIRST, Hit
from plateledger.core.clock import FixedClock
from plateledger.core.errors import Conflict, FieldInvalid, NotFound, PermissionDenied
from plateledger.hotlists.service import EntryIn
from plateledger.platform import Platform
from plateledger.policy.rules import PRESETS, Preset, Terms
from plateledger.store.models import ReadHold
from plateledger.vocab import Purpose, QueryKind
from tests.support import DAY_MS, AgencyKit, seed_agency


@pytest.fixture
def kits(platform: Platform) -> dict[str, AgencyKit]:
    kits = {
        "ca": seed_agency(platform, "ca-pd", name="CA PD"),
        "lister": seed_agency(platform, "lister-so", name="Lister SO", kind="county"),
        "fed": seed_agency(platform, "fed", name="Fed", kind="federal", state="DC"),
    }
    platform.policies.set_as(kits["ca"].admin, "ca-pd", PRESETS[Preset.CALIFORNIA][0], preset="california")
    for slug in ("lister", "fed"):
        terms = Terms(
            query_kinds=frozenset({QueryKind.ALERT}),
            purposes=frozenset({Purpose.STOLEN_VEHICLE, Purpose.IMMIGRATION_ENFORCEMENT}),
            max_lookback_days=30,
            expires_ms=platform.clock.now_ms() + 100 * DAY_MS,
        )
        view = platform.agreements.request(kits[slug].admin, owner="ca-pd", terms=terms)
        platform.agreements.accept(kits["ca"].admin, view.id)
    return kits


def entry(plate: str, purpose: str, clock: FixedClock, **extra: object) -> EntryIn:
    fields: dict[str, object] = {
        "plate": plate,
        "purpose": purpose,
        "reference": "CASE-1",
        "reason": "test entry",
        "expires_ms": clock.now_ms() + 10 * DAY_MS,
        **extra,
    }
    return EntryIn(**fields)  # type: ignore[arg-type]


def add(platform: Platform, kit: AgencyKit, name: str, entries: list[EntryIn], **options: object) -> int:
    view = platform.hotlists.create(kit.investigator, name=name, default_purpose="stolen_vehicle", **options)  # type: ignore[arg-type]
    valid, errors = platform.hotlists.validate(view, entries)
    assert errors == []
    platform.hotlists.apply(kit.investigator, view.id, add=valid)
    return view.id


def hit(platform: Platform, owner: AgencyKit, entry_id: int, clock: FixedClock, read_id: str = "r1") -> Hit:
    return Hit(
        entry_id=entry_id,
        owner=owner.agency.id,
        read_id=read_id,
        plate="7ABC123",
        region="US-CA",
        ts_ms=clock.now_ms() - 60_000,
        camera=owner.cameras[0],
        lat=37.77,
        lon=-122.42,
        confidence=0.93,
    )


def entry_ids(platform: Platform, kit: AgencyKit, list_id: int) -> list[int]:
    return [e["id"] for e in platform.hotlists.entries(kit.investigator, list_id)]


def last_action(platform: Platform) -> tuple[str, dict[str, object]]:
    entry = platform.audit.entries(after_seq=0, limit=100_000)[-1]
    return entry.action, orjson.loads(entry.params)


def test_own_reads_alert_and_the_alert_says_to_verify(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    lister = kits["lister"]
    list_id = add(platform, lister, "stolen", [entry("7ABC123", "stolen_vehicle", clock)])
    received: list[tuple[int, dict[str, object]]] = []
    platform.alerts.subscribe(lambda agency, body: received.append((agency, body)))
    outcome = platform.alerts.process([hit(platform, lister, entry_ids(platform, lister, list_id)[0], clock)])
    assert (len(outcome.raised), outcome.withheld) == (1, 0)
    assert received[0][0] == lister.agency.id
    assert received[0][1]["verify_first"] == VERIFY_FIRST
    assert last_action(platform)[0] == "alert.raised"


def test_another_owners_read_alerts_only_under_its_policy_and_agreement(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    ca, lister, fed = kits["ca"], kits["lister"], kits["fed"]
    theft = add(platform, lister, "shared theft", [entry("7ABC123", "stolen_vehicle", clock)], visibility="shared")
    immigration = add(
        platform, lister, "shared imm", [entry("7ABC123", "immigration_enforcement", clock)], visibility="shared"
    )
    federal = add(platform, fed, "fed theft", [entry("7ABC123", "stolen_vehicle", clock)], visibility="shared")
    private = add(platform, lister, "private", [entry("7ABC123", "stolen_vehicle", clock)])
    received: list[int] = []
    platform.alerts.subscribe(lambda agency, body: received.append(agency))

    allowed = platform.alerts.process([hit(platform, ca, entry_ids(platform, lister, theft)[0], clock)])
    assert len(allowed.raised) == 1
    assert received == [lister.agency.id]

    cases = [
        (immigration, lister, "owner's policy prohibits purpose immigration_enforcement"),
        (federal, fed, "owner's policy denies requests from federal agencies"),
    ]
    for list_id, kit, rule in cases:
        outcome = platform.alerts.process([hit(platform, ca, entry_ids(platform, kit, list_id)[0], clock)])
        assert (outcome.raised, outcome.withheld) == ([], 1)
        action, params = last_action(platform)
        assert (action, params["owner"], params["rule"]) == ("alert.withheld", "ca-pd", rule)
    # The owner's access log shows the alert it permitted and the two it withheld, with the rules.
    log = platform.access_log.view(ca.auditor, "ca-pd").entries
    alerts = [(e.kind, e.action, e.outcome, e.requester, e.rows, e.rule) for e in log if e.kind == "alert"]
    assert alerts == [
        ("alert", "alert.raised", "permitted", "lister-so", 1, None),
        ("alert", "alert.withheld", "withheld", "lister-so", None, cases[0][2]),
        ("alert", "alert.withheld", "withheld", "fed", None, cases[1][2]),
    ]
    assert all(e.query["plate"] == "7ABC123" for e in log if e.kind == "alert")
    # A private list is never matched against another owner's reads: no alert and nothing recorded.
    mark = platform.audit.entries(after_seq=0, limit=100_000)[-1].seq
    private_entry = entry_ids(platform, lister, private)[0]
    mark = platform.audit.entries(after_seq=0, limit=100_000)[-1].seq
    outcome = platform.alerts.process([hit(platform, ca, private_entry, clock)])
    assert (outcome.raised, outcome.withheld, outcome.skipped) == ([], 0, 1)
    assert platform.audit.entries(after_seq=mark) == []
    assert received == [lister.agency.id]  # nothing else reached anyone
    assert [a["id"] for a in platform.alerts.listing(fed.investigator)] == []


def test_expired_and_removed_entries_stop_matching(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    lister = kits["lister"]
    list_id = add(
        platform,
        lister,
        "short",
        [
            entry("7ABC123", "stolen_vehicle", clock, expires_ms=clock.now_ms() + DAY_MS),
            entry("8XYZ999", "stolen_vehicle", clock),
        ],
    )
    first, second = entry_ids(platform, lister, list_id)
    assert {e[0] for e in platform.hotlists.active(clock.now_ms())} == {first, second}
    clock.advance(DAY_MS)
    assert {e[0] for e in platform.hotlists.active(clock.now_ms())} == {second}
    assert platform.alerts.process([hit(platform, lister, first, clock)]).skipped == 1
    platform.hotlists.apply(lister.investigator, list_id, add=[], remove_plates=["8XYZ999"])
    assert platform.hotlists.active(clock.now_ms()) == []
    assert platform.alerts.process([hit(platform, lister, second, clock)]).skipped == 1


def test_entries_are_validated(platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock) -> None:
    lister = kits["lister"]
    view = platform.hotlists.create(lister.investigator, name="checks", default_purpose="stolen_vehicle")
    now = clock.now_ms()
    bad = [
        EntryIn(plate="", reference="C", reason="r", expires_ms=now + DAY_MS),
        EntryIn(plate="7A*", reference="C", reason="r", expires_ms=now + DAY_MS),
        EntryIn(plate="7ABC123", reference="", reason="r", expires_ms=now + DAY_MS),
        EntryIn(plate="7ABC123", reference="C", reason="", expires_ms=now + DAY_MS),
        EntryIn(plate="7ABC123", reference="C", reason="r"),
        EntryIn(plate="7ABC123", reference="C", reason="r", expires_ms=now + 400 * DAY_MS),
        EntryIn(plate="7ABC123", reference="C", reason="r", expires_ms=now + DAY_MS, purpose="curiosity"),
        EntryIn(plate="7ABC123", reference="C", reason="r", expires_ms=now + DAY_MS, region="California"),
        EntryIn(plate="7AB*23", reference="C", reason="r", expires_ms=now + DAY_MS),
    ]
    valid, errors = platform.hotlists.validate(view, bad)
    assert [i for i, _ in errors] == list(range(8))
    assert [e.split(":")[0] for _, e in errors] == [
        "plate", "plate", "reference", "reason", "expires", "expires", "purpose", "region",
    ]  # fmt: skip
    assert [(e.plate, e.pattern, e.purpose) for e in valid] == [("7AB*23", True, "stolen_vehicle")]


def test_covert_lists_and_their_alerts_are_hidden_from_other_users(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    lister = kits["lister"]
    covert = platform.hotlists.create(
        lister.investigator, name="covert", default_purpose="stolen_vehicle", covert=True, viewers=["lister-so-admin"]
    )
    valid, _ = platform.hotlists.validate(covert, [entry("7ABC123", "stolen_vehicle", clock)])
    platform.hotlists.apply(lister.investigator, covert.id, add=valid)
    (entry_id,) = entry_ids(platform, lister, covert.id)
    platform.alerts.process([hit(platform, lister, entry_id, clock)])
    assert [v.id for v in platform.hotlists.listing(lister.admin)] == [covert.id]
    other = seed_agency(platform, "lister-2", name="Other")  # a different agency sees nothing either
    assert platform.hotlists.listing(other.investigator) == []
    platform.registry.create_user(
        lister.admin.actor, agency_slug="lister-so", username="lister-so-analyst", role="investigator"
    )
    analyst = platform.tokens.authenticate(platform.tokens.issue(lister.admin.actor, "lister-so-analyst").secret)
    assert platform.hotlists.listing(analyst) == []
    with pytest.raises(NotFound):
        platform.hotlists.get(analyst, covert.id)
    assert platform.alerts.listing(analyst) == []
    assert len(platform.alerts.listing(lister.admin)) == 1
    with pytest.raises(PermissionDenied):
        platform.hotlists.listing(lister.auditor)
    with pytest.raises(FieldInvalid, match="only a covert list"):
        platform.hotlists.create(lister.investigator, name="x", default_purpose="stolen_vehicle", viewers=["a"])


def test_confirm_and_dismiss_with_a_note_each_audited(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    lister = kits["lister"]
    list_id = add(platform, lister, "stolen", [entry("7ABC123", "stolen_vehicle", clock)])
    (entry_id,) = entry_ids(platform, lister, list_id)
    first, second = platform.alerts.process(
        [hit(platform, lister, entry_id, clock, "r1"), hit(platform, lister, entry_id, clock, "r2")]
    ).raised
    assert platform.alerts.view(lister.investigator, first)["state"] == "new"
    assert last_action(platform) == ("alert.decided", {"alert_id": first, "state": "viewed", "note": ""})
    with pytest.raises(FieldInvalid, match="note"):
        platform.alerts.decide(lister.investigator, first, "confirmed", " ")
    confirmed = platform.alerts.decide(lister.investigator, first, "confirmed", "plate and state match the image")
    assert (confirmed["state"], confirmed["decided_by"]) == ("confirmed", "lister-so-investigator")
    with platform.governance.session() as session:
        holds = [(h.owner_id, h.read_id, h.kind) for h in session.scalars(select(ReadHold))]
    assert holds == [(lister.agency.id, "r1", "alert")]  # the confirmed hit's read falls under hit retention
    dismissed = platform.alerts.decide(lister.investigator, second, "dismissed", "misread: 7A8C123")
    assert dismissed["state"] == "dismissed"
    assert last_action(platform)[1]["state"] == "dismissed"
    with pytest.raises(Conflict):
        platform.alerts.decide(lister.investigator, first, "dismissed", "changed my mind")
    assert [a["id"] for a in platform.alerts.listing(lister.investigator, state="new")] == []
    with pytest.raises(NotFound):
        platform.alerts.view(kits["ca"].investigator, first)
    assert platform.audit.verify().intact


def test_listeners_get_alerts_in_id_order_across_ingest_threads(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    """A live stream skips alert ids at or below the last it sent (so that a replay and the live queue do not
    send one twice). Two ingest threads raising alerts at once must therefore offer them in id order: here the
    first thread's delivery is held while a second thread raises its alert, which must wait its turn."""
    lister = kits["lister"]
    list_id = add(platform, lister, "stolen", [entry("7ABC123", "stolen_vehicle", clock)])
    [entry_id] = entry_ids(platform, lister, list_id)
    order: list[int] = []
    second = threading.Thread(target=lambda: platform.alerts.process([hit(platform, lister, entry_id, clock, "r2")]))

    def listener(agency: int, body: dict[str, object]) -> None:
        if not order and not second.is_alive() and second.ident is None:
            second.start()
            second.join(timeout=1.0)  # without the ordering it raises, commits and delivers a greater id here
        order.append(int(body["id"]))  # type: ignore[call-overload]

    platform.alerts.subscribe(listener)
    platform.alerts.process([hit(platform, lister, entry_id, clock, "r1")])
    second.join(timeout=10)
    assert len(order) == 2
    assert order == sorted(order)

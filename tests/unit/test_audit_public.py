"""The public and private parts of an audit entry (plateledger.audit.public): what a leaf publishes."""

from __future__ import annotations

import os
from typing import Any

import orjson
import pytest

from plateledger.audit.events import (
    AlertRaised,
    AlertWithheld,
    AreaSearched,
    AuditEvent,
    PlateSearched,
    SearchExported,
    SearchRefused,
    event_classes,
)
from plateledger.audit.public import owners_of, split
from plateledger_verify import leaf

SECRETS = ("ABC123", "Ofc. Smith", "CASE-77", "a note about a person", "10.1.2.3")


def fields(event: AuditEvent, seq: int = 7, ts_ms: int = 1_800_000_000_123) -> dict[str, Any]:
    purpose, case_number = event.purpose_case()
    return {
        "seq": seq,
        "ts_ms": ts_ms,
        "action": event.action,
        "outcome": event.outcome,
        "actor_user_id": 3,
        "actor_username": "Ofc. Smith",
        "purpose": purpose,
        "case_number": case_number,
        "client": "10.1.2.3",
        "params": orjson.dumps(event.params(), option=orjson.OPT_SORT_KEYS).decode(),
        "counts": orjson.dumps(event.counts(), option=orjson.OPT_SORT_KEYS).decode(),
    }


SEARCH = PlateSearched(
    purpose="stolen_vehicle",
    case_number="CASE-77",
    query={"plate": "ABC123", "note": "a note about a person"},
    per_owner={"city": 3, "county": 0},
    withheld={"state": "purpose not permitted"},
    withheld_others="no sharing agreement",
)


def test_a_search_publishes_owners_and_counts_and_hides_the_rest() -> None:
    parts = split(fields(SEARCH), "city")
    assert parts.public == {
        "v": 1,
        "seq": 7,
        "hour": 1_800_000_000_123 // 3_600_000,
        "action": "search.plate",
        "outcome": "ok",
        "agency": "city",
        "purpose": "stolen_vehicle",
        "per_owner": {"city": 3, "county": 0},
        "withheld": {"state": "purpose not permitted"},
        "withheld_others": "no sharing agreement",
        "counts": {"per_owner": {"city": 3, "county": 0}},
    }
    assert parts.private["user"] == "Ofc. Smith"
    assert parts.private["case_number"] == "CASE-77"
    assert parts.private["params"]["query"]["plate"] == "ABC123"
    data = leaf.leaf_data(parts.public, leaf.commitment(os.urandom(32), parts.private))
    assert leaf.parse_leaf(data).seq == 7
    for secret in SECRETS:
        assert secret.encode() not in data


@pytest.mark.parametrize(
    ("event", "owners"),
    [
        (SEARCH, leaf.Owners({"city": 3, "county": 0}, {"state": "purpose not permitted"}, "no sharing agreement")),
        (SearchRefused(reason="purpose: required"), leaf.NO_OWNERS),
        (
            SearchRefused(withheld={"city": "auditor"}, withheld_others="auditor"),
            leaf.Owners({}, {"city": "auditor"}, "auditor"),
        ),
        (AlertRaised(owner="city", plate="ABC123"), leaf.Owners({"city": 1}, {})),
        (AlertWithheld(owner="city", rule="no hot lists"), leaf.Owners({}, {"city": "no hot lists"})),
        (SearchExported(rows=4, per_owner={"city": 4}), leaf.Owners({"city": 4}, {})),
    ],
)
def test_owners_of_each_kind_of_entry(event: AuditEvent, owners: leaf.Owners) -> None:
    assert owners_of(event.action, event.params(), event.counts()) == owners


def test_every_event_type_makes_a_leaf() -> None:
    """Counts must be integers (the public part refuses anything else): every event type's default does."""
    for cls in event_classes():
        parts = split(fields(cls()), None)
        leaf.parse_leaf(leaf.leaf_data(parts.public, leaf.commitment(os.urandom(32), parts.private)))


def test_float_parameters_are_committed_as_their_stored_text() -> None:
    area = AreaSearched(purpose="stolen_vehicle", query={"lat": 45.5, "lon": -122.25, "radius_m": 200})
    row = fields(area)
    parts = split(row, "city")
    assert parts.private["params"] == row["params"]
    leaf.commitment(os.urandom(32), parts.private)  # canonical: no float left


def test_a_purpose_outside_the_vocabulary_stays_private() -> None:
    """A refused search records what was typed as the purpose: it may be a plate or a name."""
    parts = split(fields(SearchRefused(reason="purpose: unknown", purpose="ABC123 for J. Doe")), "city")
    assert parts.public["purpose"] is None
    assert parts.private["purpose"] == "ABC123 for J. Doe"
    assert "purpose" not in split(fields(SEARCH), "city").private

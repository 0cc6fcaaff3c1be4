"""The leaf format: canonical JSON, commitments, parsing, and how an entry touches an owner."""

from __future__ import annotations

import hashlib

import pytest

from plateledger_verify import leaf
from plateledger_verify.errors import MalformedError

SALT = bytes(range(32))
PRIVATE = {"user": "Ofc. Müller", "case_number": "2026-0042", "params": {"plate": "ABC123"}, "ts_ms": 1_800_000_000_123}


def _public(**over: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "seq": 7,
        "ts_ms": 1_800_000_000_123,
        "action": "search.plate",
        "outcome": "ok",
        "agency": "springfield-pd",
        "purpose": "investigation",
        "owners": leaf.Owners({"springfield-pd": 3}, {"shelbyville-pd": "purpose_not_allowed"}, "no_agreement"),
        "counts": {"per_owner": {"springfield-pd": 3}},
    }
    fields.update(over)
    return leaf.public_part(**fields)  # type: ignore[arg-type]


def test_canonical_matches_a_hand_written_spelling() -> None:
    assert leaf.canonical({"b": [1, None, True], "a": "Ä"}) == '{"a":"Ä","b":[1,null,true]}'.encode()


@pytest.mark.parametrize("bad", [1.5, {1: "x"}, b"x", 1 << 64])
def test_canonical_refuses_values_without_one_spelling(bad: object) -> None:
    with pytest.raises(MalformedError):
        leaf.canonical({"x": bad})


def test_commitment_is_the_tagged_salted_hash() -> None:
    want = hashlib.sha256(leaf.COMMITMENT_TAG + SALT + leaf.canonical(PRIVATE)).digest()
    assert leaf.commitment(SALT, PRIVATE) == want
    assert leaf.commitment(bytes(32), PRIVATE) != want
    with pytest.raises(MalformedError, match="salt"):
        leaf.commitment(b"short", PRIVATE)


def test_leaf_round_trips_and_holds_nothing_private() -> None:
    data = leaf.leaf_data(_public(), leaf.commitment(SALT, PRIVATE))
    parsed = leaf.parse_leaf(data)
    assert parsed.seq == 7
    assert parsed.hour == 1_800_000_000_123 // 3_600_000
    for secret in ("Müller", "2026-0042", "ABC123", "1800000000123"):
        assert secret.encode() not in data


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.replace(b'"v":1', b'"v":2'),
        lambda d: d.replace(b'"seq":7', b'"seq": 7'),
        lambda d: d[:-1] + b',"plate":"X"}',
        lambda d: d.replace(b'"outcome":"ok"', b'"outcome":1'),
        lambda d: b"\xef\xbb\xbf" + d,
    ],
    ids=["version", "not-canonical", "extra-field", "wrong-type", "bom"],
)
def test_parse_refuses_anything_but_a_canonical_v1_leaf(mutate: object) -> None:
    data = leaf.leaf_data(_public(), leaf.commitment(SALT, PRIVATE))
    with pytest.raises(MalformedError):
        leaf.parse_leaf(mutate(data))  # type: ignore[operator]


def test_check_exported_needs_the_matching_private_part_and_salt() -> None:
    public = {**_public(), "commitment": leaf.commitment(SALT, PRIVATE).hex()}
    assert leaf.check_exported(public, PRIVATE, SALT) == leaf.leaf_data(_public(), leaf.commitment(SALT, PRIVATE))
    with pytest.raises(MalformedError, match="entry 7"):
        leaf.check_exported(public, {**PRIVATE, "case_number": "2026-0043"}, SALT)
    with pytest.raises(MalformedError, match="needs its salt"):
        leaf.check_exported(public, PRIVATE, None)
    # Past retention: salt deleted, the public part alone is still the leaf.
    assert leaf.check_exported(public, None, None) == leaf.canonical(public)


def test_touch() -> None:
    public = _public()
    hour = int(public["hour"])  # type: ignore[call-overload]
    assert leaf.touch(public, "springfield-pd", None) == leaf.Touch("permitted", 3, None)
    assert leaf.touch(public, "shelbyville-pd", 0) == leaf.Touch("withheld", None, "purpose_not_allowed")
    assert leaf.touch(public, "ogdenville-pd", hour) == leaf.Touch("withheld", None, "no_agreement")
    assert leaf.touch(public, "ogdenville-pd", hour + 1) is None  # no camera yet
    assert leaf.touch(public, "ogdenville-pd", None) is None
    alert = _public(action="alert.withheld", owners=leaf.Owners({}, {"x-pd": "hits_not_shared"}, None))
    assert leaf.touch(alert, "x-pd", 0) == leaf.Touch("withheld", None, "hits_not_shared")
    assert leaf.touch(alert, "y-pd", 0) is None
    export = _public(action="search.exported", owners=leaf.Owners({"x-pd": 0, "y-pd": 2}, {}, None))
    assert leaf.touch(export, "x-pd", 0) is None
    assert leaf.touch(export, "y-pd", 0) == leaf.Touch("permitted", 2, None)
    assert leaf.touch(_public(action="ingest.batch"), "springfield-pd", 0) is None


def test_public_counts_must_be_numbers() -> None:
    with pytest.raises(MalformedError, match="counts"):
        _public(counts={"plate": "ABC123"})

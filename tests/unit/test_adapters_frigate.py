"""Frigate MQTT messages: parsing the real sample and the documented ``events`` shape, and the de-duplicator that
turns the several messages of one vehicle into one read (best plate, end event, quiet flush, bounded memory)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plateledger.adapters.base import SourceRead
from plateledger.adapters.frigate import Deduplicator, Sighting, parse
from plateledger.core.errors import FieldInvalid, InvalidInput, PayloadTooLarge, PlateledgerError
from tests.unit.adapter_kit import FUZZ, HOSTILE_JSON, check_read, outcome
from tests.unit.adapters_support import mutated, sample, sample_json

SAMPLE = "frigate_mqtt_tracked_object_update_lpr_from_docs.json"
UPDATE = "frigate/tracked_object_update"
EVENTS = "frigate/events"


def lpr(**changes: Any) -> bytes:
    body = sample_json(SAMPLE)
    body.update(changes)
    return orjson.dumps(body)


def event(kind: str, **after: Any) -> bytes:
    """A ``frigate/events`` message of a car, shaped as Frigate's MQTT docs list its fields."""
    state = {
        "id": "1607123955.475377-mxklsc",
        "camera": "driveway_cam",
        "frame_time": 1607123961.837752,
        "snapshot": {"frame_time": 1607123961.837752, "box": [415, 489, 528, 700], "area": 12728, "score": 0.77},
        "label": "car",
        "sub_label": None,
        "top_score": 0.958984375,
        "false_positive": False,
        "start_time": 1607123955.475377,
        "end_time": 1607123963.1 if kind == "end" else None,
        "score": 0.7890625,
        "box": [424, 500, 536, 712],
        "area": 23744,
        "region": [264, 450, 667, 853],
        "current_zones": ["driveway"],
        "entered_zones": ["yard", "driveway"],
        "has_snapshot": True,
        "has_clip": True,
        "stationary": False,
        "attributes": {},
        "recognized_license_plate": "123ABD",
        "recognized_license_plate_score": 0.933451,
    }
    state.update(after)
    return orjson.dumps({"type": kind, "before": state, "after": state})


def test_real_sample() -> None:
    assert parse(UPDATE, sample(SAMPLE)) == Sighting(
        object_id="1607123955.475377-mxklsc",
        camera="driveway_cam",
        plate="123ABC",
        ts_ms=1_607_123_958_748,  # 2020-12-04T23:19:18.748Z
        source_ts="1607123958.748393",
        score=0.95,
        source_score="0.95",
    )


def test_events_shape() -> None:
    assert parse(EVENTS, event("update")) == Sighting(
        object_id="1607123955.475377-mxklsc",
        camera="driveway_cam",
        plate="123ABD",
        ts_ms=1_607_123_961_838,
        source_ts="1607123961.837752",
        score=0.933451,
        source_score="0.933451",
    )
    end = parse("custom-prefix/events", event("end", recognized_license_plate=None, frame_time=None))
    assert end is not None
    assert (end.plate, end.final, end.ts_ms) == (None, True, 1_607_123_955_475)


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        (UPDATE, lpr(type="description", description="a red car")),
        (UPDATE, lpr(plate="")),
        (UPDATE, lpr(plate=None)),
        (EVENTS, event("new", recognized_license_plate=None)),
        (EVENTS, event("update", label="person", recognized_license_plate="")),
    ],
)
def test_messages_without_a_plate_say_nothing(topic: str, body: bytes) -> None:
    assert parse(topic, body) is None


@pytest.mark.parametrize(
    ("topic", "body", "field", "rule"),
    [
        (UPDATE, lpr(score=95), "score", "must be a confidence between 0 and 1"),
        (UPDATE, lpr(timestamp="yesterday"), "timestamp", "must be a number"),
        (UPDATE, lpr(timestamp=1607123958748), "timestamp", "must be epoch seconds"),
        (UPDATE, lpr(camera=None), "camera", "is required"),
        (UPDATE, lpr(plate="—·—"), "plate", "must have 1-10 letters or digits"),
        (UPDATE, lpr(id=["x"]), "id", "must be a string"),
        (EVENTS, event("update", recognized_license_plate=7), "after.recognized_license_plate", "must be a string"),
        (EVENTS, orjson.dumps({"type": "end"}), "after", "is required"),
        ("frigate/reviews", lpr(), "topic", "must end in one of"),
    ],
)
def test_bad_fields_are_named(topic: str, body: bytes, field: str, rule: str) -> None:
    with pytest.raises(FieldInvalid) as err:
        parse(topic, body)
    assert (err.value.field, err.value.rule[: len(rule)]) == (field, rule)


def test_bodies_that_are_not_messages() -> None:
    with pytest.raises(InvalidInput):
        parse(UPDATE, b"not json")
    with pytest.raises(FieldInvalid, match="body: must be an object"):
        parse(UPDATE, b"[1]")
    with pytest.raises(PayloadTooLarge):
        parse(UPDATE, b" " * 300_000)


def sighting(
    object_id: str, plate: str | None, score: float | None, ts_ms: int = 1_700_000_000_000, **kw: Any
) -> Sighting:
    return Sighting(object_id, kw.pop("camera", "cam"), plate, ts_ms, str(ts_ms / 1000), score, str(score), **kw)


def read(object_id: str, plate: str, score: float, ts_ms: int = 1_700_000_000_000, camera: str = "cam") -> SourceRead:
    return SourceRead(
        plate, ts_ms, camera, str(ts_ms / 1000), read_id=object_id, confidence=score, source_confidence=str(score)
    )


def test_one_read_per_vehicle_with_the_best_plate_at_its_end() -> None:
    dedup = Deduplicator(quiet_ms=5000)
    assert dedup.offer(sighting("v1", "8ABC12", 0.61, 1_700_000_000_000), now_ms=0) == []
    assert dedup.offer(sighting("v1", "8ABC123", 0.93, 1_700_000_000_400, camera="other"), now_ms=400) == []
    assert dedup.offer(sighting("v1", "BABC123", 0.80, 1_700_000_000_800), now_ms=800) == []
    assert dedup.pending == 1
    end = sighting("v1", None, None, 1_700_000_001_000, final=True)
    # the best plate, with its own time and score; the camera of the vehicle's first message
    assert dedup.offer(end, now_ms=1000) == [read("v1", "8ABC123", 0.93, 1_700_000_000_400)]
    assert dedup.pending == 0
    # a late message of a vehicle already emitted is counted, not emitted again
    assert dedup.offer(sighting("v1", "8ABC123", 0.99), now_ms=1100) == []
    assert dedup.late == 1


def test_quiet_vehicles_are_flushed_in_order_and_drain_empties() -> None:
    dedup = Deduplicator(quiet_ms=5000)
    dedup.offer(sighting("a", "AAA111", 0.9), now_ms=0)
    dedup.offer(sighting("b", "BBB222", 0.9), now_ms=1000)
    dedup.offer(sighting("a", "AAA111", 0.95), now_ms=2000)  # a is active again
    assert dedup.flush(now_ms=5999) == []
    assert dedup.flush(now_ms=6000) == [read("b", "BBB222", 0.9)]
    assert dedup.flush(now_ms=6999) == []
    assert dedup.flush(now_ms=7000) == [read("a", "AAA111", 0.95)]
    dedup.offer(sighting("c", "CCC333", 0.5), now_ms=8000)
    assert dedup.drain() == [read("c", "CCC333", 0.5)]
    assert dedup.pending == 0


def test_memory_is_bounded() -> None:
    dedup = Deduplicator(quiet_ms=60_000, max_pending=3, remember=2)
    emitted = [r for i in range(10) for r in dedup.offer(sighting(f"v{i}", f"P{i}", 0.5), now_ms=i)]
    assert [r.read_id for r in emitted] == [f"v{i}" for i in range(7)]  # the oldest first, early
    assert dedup.pending == 3
    assert len(dedup._done) == 2
    # a forgotten id is a new vehicle again (its read_id makes the store keep one read)
    assert dedup.offer(sighting("v0", "P0", 0.5, final=True), now_ms=20) == [read("v0", "P0", 0.5)]


def test_end_with_a_plate_and_unscored_plates() -> None:
    dedup = Deduplicator(quiet_ms=5000)
    assert dedup.offer(sighting("x", "XYZ1", 0.7, final=True), now_ms=0) == [read("x", "XYZ1", 0.7)]
    assert dedup.offer(sighting("y", None, None, final=True), now_ms=0) == []
    dedup.offer(sighting("z", "ZZZ1", None), now_ms=0)
    dedup.offer(sighting("z", "ZZZ2", None), now_ms=1)
    (only,) = dedup.drain()
    assert only.plate == "ZZZ2"  # without scores the latest plate wins


def _outcome(topic: str, body: bytes) -> Sighting | None:
    found = outcome(lambda: parse(topic, body))
    return None if isinstance(found, PlateledgerError) else found


@FUZZ
@given(st.one_of(mutated(sample(SAMPLE)), mutated(event("update"))), st.sampled_from([UPDATE, EVENTS]))
def test_fuzz_mutated_messages_and_the_reads_they_make(body: bytes, topic: str) -> None:
    found = _outcome(topic, body)
    dedup = Deduplicator(quiet_ms=0)
    if found is not None:
        for emitted in (dedup.offer(found, now_ms=0), dedup.flush(now_ms=1)):
            for made in emitted:
                check_read(made)


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from([UPDATE, EVENTS, "frigate", ""]))
def test_fuzz_arbitrary_bytes(body: bytes, topic: str) -> None:
    _outcome(topic, body)


@pytest.mark.parametrize("body", HOSTILE_JSON, ids=range(len(HOSTILE_JSON)))
def test_hostile_messages(body: bytes) -> None:
    assert _outcome(UPDATE, body) is None
    assert _outcome(EVENTS, body) is None

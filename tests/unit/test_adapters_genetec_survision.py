"""The Genetec SharpV and Survision adapters on the real samples (exact canonical fields) and on fixtures written
from the documented shapes (their fuzzing with mutated real payloads is in test_adapters_fuzz.py)."""

from __future__ import annotations

import orjson
import pytest

from plateledger.adapters import genetec, survision
from plateledger.core.errors import FieldInvalid, InvalidInput
from tests.unit.adapters_support import sample, sample_json

JSON = "application/json"
GENETEC = "parkpow_snapshot-middleware_Genetec.json"
SURVISION = "parkpow_snapshot-middleware_Survision.json"


def test_genetec_sample() -> None:
    adapted = genetec.adapt(sample(GENETEC), JSON)
    (read,) = adapted.reads
    assert read.canonical() == {
        "plate": "9HKA742",
        "ts": 1_729_801_766_000,  # 2024-10-24T20:29:26Z (DateUtc + TimeUtc)
        "camera": "G637821011231200521C",
        "read_id": "ccd6761e-b2a6-4afc-b386-412d6529c4ec",
        "region": "CA",  # a bare state: the store gives it the owner's country
        "lat": 37.7870816666667,
        "lon": -122.387388333333,
        "confidence": 0.99,
        "source_ts": "10/24/2024 20:29:26",
        "source_confidence": "99",
        "vehicle": {"color": "Grey", "type": "Passenger Vehicle"},  # make/model "-" are not values
    }
    assert read.vendor_alert is None
    assert [(i.kind, i.content_type) for i in read.images] == [("plate", "image/jpeg"), ("overview", "image/jpeg")]
    assert adapted.ignored == []


def _genetec(**changes: object) -> bytes:
    payload = sample_json(GENETEC)
    payload.update(changes)
    return orjson.dumps({k: v for k, v in payload.items() if v is not None})


def test_genetec_documented_variants() -> None:
    (read,) = genetec.adapt(
        _genetec(
            SharpName="",
            DateUtc="2024-10-24",
            TimeUtc="20:29:26.250",
            IsHit="Yes",
            State="us-ca",
            Latitude="0",
            Longitude="0",
            PlateImage="not base64!",
        ),
        JSON,
    ).reads
    assert (read.camera, read.ts_ms, read.source_ts) == (
        "G637821011231200521C - Camera",
        1_729_801_766_250,
        "2024-10-24 20:29:26.250",
    )
    assert (read.region, read.lat, read.vendor_alert) == ("US-CA", None, "genetec: IsHit")
    assert [i.kind for i in read.images] == ["overview"]
    adapted = genetec.adapt(_genetec(PlateImage="not base64!"), JSON)
    assert adapted.ignored == ["PlateImage: must be valid base64; the read was kept without it"]
    two = genetec.adapt(orjson.dumps([sample_json(GENETEC), sample_json(GENETEC)]), JSON)
    assert len(two.reads) == 2


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        (_genetec(DateUtc="24/10/2024"), FieldInvalid, "DateUtc+TimeUtc"),
        (_genetec(TimeUtc="25:00:00"), FieldInvalid, "DateUtc+TimeUtc"),
        (_genetec(ConfidenceScore="high"), FieldInvalid, "ConfidenceScore"),
        (_genetec(ConfidenceScore="101"), FieldInvalid, "ConfidenceScore"),
        (_genetec(Plate="---"), FieldInvalid, "Plate"),
        (_genetec(Latitude="91"), FieldInvalid, "Latitude"),
        (_genetec(Attributes=[1]), FieldInvalid, "Attributes"),
        (b'{"Plate": "ABC"}', InvalidInput, None),
        (b"[1]", InvalidInput, None),
    ],
)
def test_genetec_refusals_name_the_field(body: bytes, error: type[Exception], field: str | None) -> None:
    with pytest.raises(error) as raised:
        genetec.adapt(body, JSON)
    if field is not None:
        assert isinstance(raised.value, FieldInvalid)
        assert raised.value.field == field


def test_survision_sample() -> None:
    adapted = survision.adapt(sample(SURVISION), JSON)
    (read,) = adapted.reads
    assert read.canonical() == {
        "plate": "MW818WM",
        "ts": 1_729_206_290_098,
        "camera": "",  # named by the survision-serial-number header, filled in by the endpoint
        "confidence": 0.98,
        "source_ts": "1729206290098",
        "source_confidence": "98",
    }
    assert [(i.kind, i.content_type) for i in read.images] == [("overview", "image/jpeg")]


def _survision(**decision: object) -> bytes:
    payload = sample_json(SURVISION)
    payload["anpr"]["decision"].update(decision)
    return orjson.dumps(payload)


def test_survision_documented_variants() -> None:
    assert survision.adapt(_survision(**{"@plate": ""}), JSON).ignored == ["anpr.decision: no plate read"]
    no_decision = orjson.dumps({"anpr": {"@date": "1729206290098", "@id": "2"}})
    assert survision.adapt(no_decision, JSON).ignored == ["anpr: no decision (nothing read)"]
    (read,) = survision.adapt(_survision(jpeg="", **{"@reliability": "55"}), JSON).reads
    assert (read.confidence, read.images) == (0.55, ())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_survision(**{"@reliability": "x"}), "anpr.decision.@reliability"),
        (_survision(**{"@plate": 7}), "anpr.decision.@plate"),
        (orjson.dumps({"anpr": {"@date": "yesterday"}}), "anpr.@date"),
        (orjson.dumps({"anpr": {"@date": "17292062900"}}), "anpr.@date"),
    ],
)
def test_survision_refusals_name_the_field(body: bytes, field: str) -> None:
    with pytest.raises(FieldInvalid) as raised:
        survision.adapt(body, JSON)
    assert raised.value.field == field


def test_survision_needs_the_anpr_object() -> None:
    with pytest.raises(InvalidInput):
        survision.adapt(b'{"decision": {}}', JSON)

"""Hikvision ISAPI ANPR XML: the real sample, multipart with pictures, heartbeats, named field errors, XML bombs
and external entities refused, and fuzzing."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plateledger.adapters import adapter
from plateledger.adapters.base import CameraStatus, Image, SourceRead
from plateledger.adapters.hikvision import adapt, parse_xml
from plateledger.core.errors import FieldInvalid, InvalidInput, PayloadTooLarge
from tests.unit.adapter_kit import FUZZ, check, check_hostile
from tests.unit.adapters_support import multipart, sample

SAMPLE = sample("parkpow_hikvision_lpr_anpr.xml")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))
XML = "application/xml"


def edited(old: str, new: str, body: bytes = SAMPLE) -> bytes:
    assert old.encode() in body
    return body.replace(old.encode(), new.encode(), 1)


def multipart_body(parts: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart body as Hikvision sends it: each part named and filed under its file name."""
    return multipart(
        [(name, name, ct, data) for name, ct, data in parts]
    ), "multipart/form-data; boundary=plateledger-test"


EXPECTED = SourceRead(
    plate="PECT600",
    ts_ms=1_705_634_239_000,  # 2024-01-19T11:17:19+08:00 = 03:17:19Z
    camera="d4:e8:53:bc:4c:02/1",
    source_ts="2024-01-19T11:17:19+08:00",
    region=None,  # <country>3</country> is Hikvision's own numbering; countryAbbreviation NON
    read_id="2024011911172144900FlERIduqg06eKsYuvLX072NugIxaHw22mHG5D5KBmWqX",
    lat=22 / 60,  # 0° 22' 0" N
    lon=111.0,  # 111° 0' 0" E
    confidence=0.97,
    source_confidence="97",
    color="white",
    vehicle_type=None,  # the generic "vehicle"
)


def test_real_sample() -> None:
    adapted = adapter("hikvision")(SAMPLE, XML)
    assert adapted.reads == [EXPECTED]
    assert adapted.statuses == []
    assert adapted.ignored == []


def test_multipart_with_plate_crop_and_overview() -> None:
    body, content_type = multipart_body(
        [
            ("anpr.xml", "application/xml", SAMPLE),
            ("licensePlatePicture.jpg", "image/jpeg", JPEG),
            ("detectionPicture.jpg", "image/jpeg", JPEG + b"overview"),
        ]
    )
    (read,) = adapt(body, content_type).reads
    assert read.images == (
        Image(kind="plate", content_type="image/jpeg", data=JPEG),
        Image(kind="overview", content_type="image/jpeg", data=JPEG + b"overview"),
    )
    assert read == SourceRead(**{**EXPECTED.__dict__, "images": read.images})


def test_multipart_without_xml_or_with_a_bad_picture() -> None:
    body, content_type = multipart_body([("licensePlatePicture.jpg", "image/jpeg", JPEG)])
    with pytest.raises(InvalidInput, match="no XML part"):
        adapt(body, content_type)
    body, content_type = multipart_body(
        [("anpr.xml", "text/xml", SAMPLE), ("licensePlatePicture.jpg", "image/jpeg", b"x")]
    )
    with pytest.raises(FieldInvalid) as err:
        adapt(body, content_type)
    assert (err.value.field, err.value.rule) == ("licensePlatePicture.jpg", "must be a JPEG, PNG, WebP or GIF image")
    with pytest.raises(InvalidInput, match="without a boundary"):
        adapt(SAMPLE, "multipart/form-data")


def test_other_documented_values() -> None:
    body = edited("<licensePlate>PECT600</licensePlate>", "<licensePlate>pe-ct 601</licensePlate>")
    body = edited("<vehicleType>vehicle</vehicleType>", "<vehicleType>SUV</vehicleType>", body)
    body = edited("<vehicleListName>otherList</vehicleListName>", "<vehicleListName>blockList</vehicleListName>", body)
    body = edited("<latitudeType>N</latitudeType>", "<latitudeType>S</latitudeType>", body)
    body = edited("<longitudeType>E</longitudeType>", "<longitudeType>W</longitudeType>", body)
    body = edited("<channelID>1</channelID>", "<channelID>3</channelID>", body)
    body = edited("<dateTime>2024-01-19T11:17:19+08:00</dateTime>", "<dateTime>2024-01-19T03:17:19Z</dateTime>", body)
    (read,) = adapt(body, XML).reads
    assert (read.plate, read.vehicle_type, read.vendor_alert, read.camera) == (
        "pe-ct 601",  # as read: the store normalises
        "SUV",
        "blockList",
        "d4:e8:53:bc:4c:02/3",
    )
    assert (read.lat, read.lon, read.ts_ms) == (-22 / 60, -111.0, 1_705_634_239_000)


def test_mac_missing_falls_back_to_the_ip_address() -> None:
    (read,) = adapt(edited("<macAddress>d4:e8:53:bc:4c:02</macAddress>", ""), XML).reads
    assert read.camera == "10.199.27.128/1"
    body = edited("<ipAddress>10.199.27.128</ipAddress>", "", edited("<macAddress>d4:e8:53:bc:4c:02</macAddress>", ""))
    with pytest.raises(FieldInvalid, match=r"macAddress: is required \(or ipAddress\)"):
        adapt(body, XML)


def test_no_plate_and_other_event_types_are_ignored() -> None:
    adapted = adapt(edited("<licensePlate>PECT600</licensePlate>", "<licensePlate>unknown</licensePlate>"), XML)
    assert adapted.reads == []
    assert adapted.ignored == ["ANPR event without a plate"]
    adapted = adapt(edited("<eventType>ANPR</eventType>", "<eventType>VMD</eventType>"), XML)
    assert adapted.ignored == ["eventType 'VMD' is not a read"]


def test_videoloss_is_the_heartbeat() -> None:
    heartbeat = (
        b'<?xml version="1.0" encoding="UTF-8"?><EventNotificationAlert version="2.0" '
        b'xmlns="http://www.hikvision.com/ver20/XMLSchema"><ipAddress>10.0.0.9</ipAddress>'
        b"<macAddress>44:19:B6:00:00:01</macAddress><channelID>2</channelID>"
        b"<dateTime>2025-06-01T13:59:00+02:00</dateTime><activePostCount>0</activePostCount>"
        b"<eventType>videoloss</eventType><eventState>inactive</eventState>"
        b"<eventDescription>videoloss alarm</eventDescription></EventNotificationAlert>"
    )
    adapted = adapt(heartbeat, XML)
    assert adapted.reads == []
    assert adapted.statuses == [CameraStatus("44:19:b6:00:00:01/2", 1_748_779_140_000, True, "heartbeat")]
    lost = adapt(heartbeat.replace(b">inactive<", b">active<"), XML)
    assert lost.statuses == [CameraStatus("44:19:b6:00:00:01/2", 1_748_779_140_000, False, "video loss")]


@pytest.mark.parametrize(
    ("old", "new", "field", "rule"),
    [
        ("<confidenceLevel>97</confidenceLevel>", "<confidenceLevel>970</confidenceLevel>", "ANPR.confidenceLevel",
         "must be a confidence between 0 and 100"),
        ("<dateTime>2024-01-19T11:17:19+08:00</dateTime>", "<dateTime>19/01/2024</dateTime>", "dateTime",
         "must be an ISO 8601 date and time"),
        ("<dateTime>2024-01-19T11:17:19+08:00</dateTime>", "", "dateTime", "is required"),
        ("<licensePlate>PECT600</licensePlate>", "<licensePlate>PECT6000000000</licensePlate>", "ANPR.licensePlate",
         "must have 1-10 letters or digits after normalisation"),
        ("<licensePlate>PECT600</licensePlate>", "<licensePlate><a>1</a></licensePlate>", "ANPR.licensePlate",
         "must be a string"),
        ("<degree>111</degree>", "<degree>east</degree>", "DeviceGPSInfo.Longitude.degree", "must be a number"),
        ("<degree>111</degree>", "<degree>200</degree>", "DeviceGPSInfo.Longitude", "must be a longitude"),
    ],
)  # fmt: skip
def test_bad_fields_are_named(old: str, new: str, field: str, rule: str) -> None:
    with pytest.raises(FieldInvalid) as err:
        adapt(edited(old, new), XML)
    assert (err.value.field, err.value.rule[: len(rule)]) == (field, rule)


def test_not_an_anpr_document() -> None:
    for body, message in [
        (b"{}", "not well-formed XML"),
        (b"<ResponseStatus/>", "'ResponseStatus', not an EventNotificationAlert"),
        (b"\xff\xfe<a/>", "not well-formed XML"),
        (b"", "not well-formed XML"),
    ]:
        with pytest.raises(InvalidInput, match=re.escape(message)):
            adapt(body, XML)
    with pytest.raises(InvalidInput, match="eventType: is required"):
        adapt(b"<EventNotificationAlert><x>1</x></EventNotificationAlert>", XML)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><EventNotificationAlert><eventType>&lol9;</eventType></EventNotificationAlert>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<EventNotificationAlert><eventType>ANPR</eventType><ANPR><licensePlate>&xxe;</licensePlate></ANPR>"
    b"</EventNotificationAlert>"
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE EventNotificationAlert SYSTEM "http://127.0.0.1:9/x.dtd"><EventNotificationAlert/>'
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><EventNotificationAlert/>'
)


@pytest.mark.parametrize(
    "body", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY], ids=["laughs", "xxe", "dtd", "param"]
)
def test_xml_bombs_and_entities_are_refused_fast(body: bytes) -> None:
    start = time.perf_counter()
    with pytest.raises(InvalidInput, match="DTDs and entities are not accepted") as err:
        adapt(body, XML)
    assert err.value.status == 400
    assert time.perf_counter() - start < 1


def test_deep_wide_and_large_documents() -> None:
    deep = b"<EventNotificationAlert>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</EventNotificationAlert>"
    with pytest.raises(InvalidInput, match="nested deeper than 32"):
        parse_xml(deep)
    with pytest.raises(PayloadTooLarge):
        adapt(b"<EventNotificationAlert>" + b"<a>1</a>" * 200_000 + b"</EventNotificationAlert>", XML)
    wide = edited("<eventType>ANPR</eventType>", "<eventType>ANPR</eventType>" + "<eventType>x</eventType>" * 3)
    with pytest.raises(FieldInvalid, match="eventType: must be a string"):
        adapt(wide, XML)


_TEXT = re.compile(rb">([^<]*)<")


@st.composite
def mutated_xml(draw: st.DrawFn) -> bytes:
    """The real sample with one element's text replaced, one span cut out, or random bytes spliced in."""
    spans = [m.span(1) for m in _TEXT.finditer(SAMPLE)]
    start, end = draw(st.sampled_from(spans))
    how = draw(st.sampled_from(["text", "cut", "splice"]))
    if how == "text":
        text = draw(st.text(max_size=30) | st.sampled_from(["", "unknown", "-1", "1e999", "x" * 10_000, "&amp;"]))
        value = text.replace("&", "&amp;").replace("<", "&lt;").encode("utf-8", "surrogatepass")
        return SAMPLE[:start] + value + SAMPLE[end:]
    cut = draw(st.integers(min_value=0, max_value=len(SAMPLE)))
    if how == "cut":
        return SAMPLE[:start] + SAMPLE[cut:] if cut > start else SAMPLE[:cut]
    return SAMPLE[:cut] + draw(st.binary(min_size=1, max_size=20)) + SAMPLE[cut:]


@FUZZ
@given(mutated_xml())
def test_fuzz_mutated_sample(body: bytes) -> None:
    check(lambda: adapt(body, XML))


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from([XML, "multipart/form-data; boundary=b", "text/plain"]))
def test_fuzz_arbitrary_bytes(body: bytes, content_type: str) -> None:
    check_hostile(lambda: adapt(body, content_type))

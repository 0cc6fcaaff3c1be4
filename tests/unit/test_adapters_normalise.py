"""The adapters' shared helpers: JSON access by path, time, confidence, region, position and images."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from plateledger.adapters import normalise as n
from plateledger.core.errors import FieldInvalid, InvalidInput, PayloadTooLarge
from plateledger.core.text import UTF8_BOM
from plateledger.ingest.canonical import jsonl_blocks
from tests.unit.adapters_support import multipart

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(16)


def node(value: object, path: str = "x") -> n.Node:
    return n.Node(value, path)


# ---- JSON access ------------------------------------------------------------------------------------------
def test_paths_name_nested_fields() -> None:
    root = n.parse_json(b'{"results": [{"plate": 7}, {"plate": "AB1"}]}')
    first, second = root.require("results").items()
    assert second.require("plate").text() == "AB1"
    with pytest.raises(FieldInvalid) as err:
        first.require("plate").text()
    assert (err.value.field, err.value.rule) == ("results[0].plate", "must be a string")
    with pytest.raises(FieldInvalid) as err:
        first.require("box")
    assert (err.value.field, err.value.rule) == ("results[0].box", "is required")


def test_null_counts_as_absent() -> None:
    root = n.parse_json(b'{"camera_id": null}')
    assert root.get("camera_id") is None
    assert not root.has("camera_id")
    with pytest.raises(FieldInvalid, match="camera_id: is required"):
        root.require("camera_id")


def test_root_that_is_not_an_object() -> None:
    with pytest.raises(FieldInvalid, match="body: must be an object"):
        n.parse_json(b"[1, 2]").get("x")


@pytest.mark.parametrize(
    "body", [b"", b"{", b'{"a": 1', b"\xff\xfe{}", b'{"a": NaN}', b"[" * 2000 + b"]" * 2000, b'{"a": 1e999999}']
)
def test_bodies_that_are_not_json(body: bytes) -> None:
    with pytest.raises(InvalidInput) as err:
        n.parse_json(body)
    assert err.value.status == 400


def test_limits_raise_payload_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        node(list(range(n.MAX_ITEMS + 1))).items()
    with pytest.raises(PayloadTooLarge):
        node("A" * (n.MAX_TEXT + 1)).text()


@pytest.mark.parametrize(
    ("value", "expected"), [(16488027, "16488027"), (" cam-1 ", "cam-1"), ("driveway", "driveway")]
)
def test_ident_accepts_strings_and_integers(value: object, expected: str) -> None:
    assert node(value).ident() == expected


@pytest.mark.parametrize("value", [True, 1.5, "", "   ", "x" * 65, None, []])
def test_ident_refuses_other_values(value: object) -> None:
    with pytest.raises(FieldInvalid):
        node(value).ident()


@pytest.mark.parametrize("value", [True, "12", None, [1], float("nan"), float("inf")])
def test_number_refuses_non_numbers(value: object) -> None:
    with pytest.raises(FieldInvalid, match="x: must be a"):
        node(value).number()


def test_number_from_text_only_when_allowed() -> None:
    assert node(" 93.5 ").number(allow_text=True) == 93.5
    with pytest.raises(FieldInvalid):
        node("93.5%").number(allow_text=True)


@pytest.mark.parametrize(("value", "expected"), [(93.904076, "93.904076"), (34, "34"), ("0.9", "0.9")])
def test_raw_keeps_the_sent_spelling(value: object, expected: str) -> None:
    assert node(value).raw() == expected


# ---- time -------------------------------------------------------------------------------------------------
def test_epoch_units() -> None:
    assert n.epoch_ms(node(1490574589596)) == 1490574589596
    assert n.epoch_seconds(node(1607123958.748393)) == 1607123958748
    with pytest.raises(FieldInvalid, match="epoch milliseconds"):
        n.epoch_ms(node(1490574589))  # seconds where ms are expected: a unit mistake, refused
    with pytest.raises(FieldInvalid, match="epoch seconds"):
        n.epoch_seconds(node(1490574589596))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-10-12T16:17:27.574008Z", 1602519447574),
        ("2024-01-01T00:00:00+00:00", 1704067200000),
        ("2024-01-01T01:00:00+01:00", 1704067200000),
        ("2025-09-09 23:22:38.030345", 1757460158030),  # no zone: UTC by default
    ],
)
def test_iso(text: str, expected: int) -> None:
    assert n.iso_ms(node(text)) == expected


def test_iso_without_zone_in_a_local_zone() -> None:
    assert n.iso_ms(node("2024-07-01T12:00:00"), ZoneInfo("America/New_York")) == 1719849600000


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01T00:00:00Z", "1999-12-31T23:59:59Z", "2100-01-01T00:00Z"])
def test_iso_refused(text: str) -> None:
    with pytest.raises(FieldInvalid) as err:
        n.iso_ms(node(text))
    assert err.value.field == "x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Tue, 19 Nov 2024 23:51:20 GMT", 1732060280000), ("Sun 09 Feb 2025 03:46:58 GMT", 1739072818000)],
)
def test_http_date(text: str, expected: int) -> None:
    assert n.http_date_ms(node(text)) == expected


def test_compact_and_formatted() -> None:
    assert n.compact_ms(node("20240101000000123")) == 1704067200123
    assert n.compact_ms(node("20240101010000"), timezone(timedelta(hours=1))) == 1704067200000
    assert n.formatted_ms(node("01/02/2024 03:04:05"), "%m/%d/%Y %H:%M:%S") == 1704164645000
    for bad in ("2024010100000", "20241301000000", "2024-01-01"):
        with pytest.raises(FieldInvalid):
            n.compact_ms(node(bad))


@given(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC)))
def test_time_formats_agree(value: datetime) -> None:
    value = value.replace(microsecond=value.microsecond // 1000 * 1000)
    expected = (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert n.iso_ms(node(value.isoformat())) == expected
    assert n.compact_ms(node(value.strftime("%Y%m%d%H%M%S") + f"{value.microsecond // 1000:03d}")) == expected
    assert n.epoch_ms(node(expected)) == expected
    assert n.epoch_seconds(node(expected / 1000)) == expected


# ---- confidence -------------------------------------------------------------------------------------------
def test_confidence_scales() -> None:
    assert n.confidence(node(93.904076), 100) == (0.939041, "93.904076")
    assert n.confidence(node(0.904), 1) == (0.904, "0.904")
    assert n.confidence(node("87"), 100, allow_text=True) == (0.87, "87")
    with pytest.raises(FieldInvalid, match="between 0 and 1"):
        n.confidence(node(93.9), 1)
    with pytest.raises(FieldInvalid, match="between 0 and 100"):
        n.confidence(node(-1), 100)


# ---- region -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "country", "expected"),
    [
        ("us-ca", None, "US-CA"),
        ("US_MO", None, "US-MO"),
        ("mo", "us", "US-MO"),
        ("CA", "USA", "US-CA"),
        ("ON", 124, "CA-ON"),
        ("ca", None, None),  # California or Canada: ambiguous without a country
        ("gb", None, None),  # a country is not a region
        ("POL", None, None),
        ("840", None, None),
        ("us-zz", None, None),  # not a subdivision
        ("eu-xx", None, None),
        ("", "us", None),
        (None, "us", None),
        ("a-b-c", None, None),
    ],
)
def test_region(code: str | None, country: str | int | None, expected: str | None) -> None:
    assert n.region(code, country) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("pol", "PL"), ("FRA", "FR"), ("us", "US"), (840, "US"), ("036", "AU"), ("zzz", None)]
)
def test_country_alpha2(value: str | int, expected: str | None) -> None:
    assert n.country_alpha2(value) == expected


# ---- vehicle, direction, position -------------------------------------------------------------------------
def test_best_candidate() -> None:
    assert n.best([("silver", 0.2), ("black", 0.9), ("white", 0.9)]) == ("black", 0.9)
    assert n.best([(" ", 1.0)]) is None
    assert n.best([]) is None


@pytest.mark.parametrize(("value", "expected"), [(210, 210.0), ("135", 135.0), (360, 0.0), (-90, 270.0)])
def test_direction(value: object, expected: float) -> None:
    assert n.direction(node(value)) == expected


def test_position() -> None:
    assert n.position(node(39.0391), node(-77.0173)) == (39.0391, -77.0173)
    assert n.position(node(0), node(0)) is None
    assert n.position(None, node(1.0)) is None
    with pytest.raises(FieldInvalid, match="x: must be a latitude"):
        n.position(node(91), node(0))


# ---- images -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "content_type"), [(JPEG, "image/jpeg"), (PNG, "image/png"), (WEBP, "image/webp")])
def test_images_decode_strictly(data: bytes, content_type: str) -> None:
    text = base64.b64encode(data).decode()
    image = n.image_b64(node(text), "plate")
    assert (image.kind, image.content_type, image.data) == ("plate", content_type, data)
    assert n.image_b64(node(f"data:{content_type};base64,{text}"), "overview").data == data


@pytest.mark.parametrize("text", ["not base64!", "/9j/4AAQSkZJRg", base64.b64encode(b"plain text").decode()])
def test_images_refused(text: str) -> None:
    with pytest.raises(FieldInvalid) as err:
        n.image_b64(node(text, "best_plate.plate_crop_jpeg"), "plate")
    assert err.value.field == "best_plate.plate_crop_jpeg"


def test_image_size_limit() -> None:
    with pytest.raises(PayloadTooLarge):
        n.image_b64(node(base64.b64encode(JPEG).decode()), "plate", max_bytes=10)


# ---- multipart ----------------------------------------------------------------------------------------------
def test_multipart_parts_keep_names_filenames_and_types() -> None:
    body = multipart([("json", None, "application/json", b'{"a": 1}'), ("upload", "cam 1.jpg", "image/jpeg", JPEG)])
    parts = n.multipart_parts(body, "multipart/form-data; boundary=plateledger-test")
    assert parts == [
        n.Part(name="json", filename=None, content_type="application/json", data=b'{"a": 1}'),
        n.Part(name="upload", filename="cam 1.jpg", content_type="image/jpeg", data=JPEG),
    ]
    assert n.is_multipart("Multipart/Form-Data; boundary=x")
    assert not n.is_multipart("application/json")


@pytest.mark.parametrize("cut", [0, 10, 60, -3])
def test_multipart_cut_short_is_refused(cut: int) -> None:
    body = multipart([("json", None, None, b"{}")])
    with pytest.raises(InvalidInput):
        n.multipart_parts(body[:cut], "multipart/form-data; boundary=plateledger-test")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_a_byte_order_mark_changes_nothing(value: object) -> None:
    body = orjson.dumps(value)
    assert n.parse_json(UTF8_BOM + body).value == n.parse_json(body).value == value


@given(st.lists(st.binary(max_size=30).filter(lambda b: b"\n" not in b), min_size=1, max_size=8), st.integers(4, 64))
def test_jsonl_blocks_skip_a_byte_order_mark(lines: list[bytes], size: int) -> None:
    data = b"\n".join(lines)
    assume(not data.startswith(UTF8_BOM))
    with_mark = list(jsonl_blocks(io.BytesIO(UTF8_BOM + data), max(size, max(map(len, lines)) + 4)))
    without = list(jsonl_blocks(io.BytesIO(data), max(size, max(map(len, lines)) + 4)))
    assert b"\n".join(b for b, _ in with_mark) == b"\n".join(b for b, _ in without)
    assert sum(n for _, n in with_mark) == sum(n for _, n in without)

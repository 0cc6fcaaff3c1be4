"""Log records: one JSON object per line (tracebacks as a field), readable text, the request id on every record."""

from __future__ import annotations

import io
import logging
import sys
import threading

import pytest

from plateledger.core.logging import REQUEST_ID, _uncaught, _uncaught_in_thread, resolve_format
from tests.support import captured_logs, json_lines

log = logging.getLogger("plateledger.test")


def test_json_record_is_one_line_with_the_traceback_as_a_field() -> None:
    with captured_logs("json") as buffer:
        try:
            raise ValueError("first line\nsecond line")
        except ValueError:
            log.exception("failed on %s", "/api/v1/reads", extra={"batch": 3})
    (entry,) = json_lines(buffer)
    assert entry["level"] == "error"
    assert entry["logger"] == "plateledger.test"
    assert entry["message"] == "failed on /api/v1/reads"
    assert entry["batch"] == 3
    assert "ValueError: first line\nsecond line" in entry["exc_info"]
    assert entry["ts"].endswith("Z")
    assert "request_id" not in entry


def test_every_record_in_a_request_carries_its_id() -> None:
    with captured_logs("json") as buffer:
        token = REQUEST_ID.set("req-42")
        try:
            log.warning("inside")
            logging.getLogger("uvicorn.error").warning("from another logger")
        finally:
            REQUEST_ID.reset(token)
        log.warning("outside")
    inside, other, outside = json_lines(buffer)
    assert inside["request_id"] == other["request_id"] == "req-42"
    assert "request_id" not in outside


def test_level_setting_drops_less_severe_records() -> None:
    with captured_logs("json", level="warning") as buffer:
        log.info("not written")
        log.warning("written")
    assert [e["message"] for e in json_lines(buffer)] == ["written"]


def test_text_format_is_for_people() -> None:
    with captured_logs("text") as buffer:
        token = REQUEST_ID.set("req-7")
        try:
            log.info("stored %d reads", 5, extra={"owner": "bayview-pd"})
        finally:
            REQUEST_ID.reset(token)
    text = buffer.getvalue()
    assert "INFO" in text
    assert "[req-7] stored 5 reads owner=bayview-pd" in text


def test_configuring_twice_keeps_one_handler_of_ours() -> None:
    with captured_logs("json") as first, captured_logs("json") as second:
        log.warning("once")
    assert first.getvalue() == ""
    assert len(json_lines(second)) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "expected"), [(_Terminal(), "text"), (io.StringIO(), "json")], ids=["terminal", "pipe"]
)
def test_auto_format_is_text_on_a_terminal_only(stream: io.StringIO, expected: str) -> None:
    assert resolve_format("auto", stream) == expected
    assert resolve_format("json", stream) == "json"


def test_uncaught_exceptions_are_records_too() -> None:
    def fail() -> None:
        raise KeyError("gone\nfor good")

    with captured_logs("json") as buffer:
        try:
            fail()
        except KeyError:
            kind, error, trace = sys.exc_info()
            assert kind is not None
            assert error is not None
            _uncaught(kind, error, trace)
            thread = threading.Thread(name="worker-1")
            _uncaught_in_thread(threading.ExceptHookArgs((kind, error, trace, thread)))
    main, worker = json_lines(buffer)
    assert main["level"] == "critical"
    assert main["message"].startswith("uncaught KeyError")
    assert worker["message"].startswith("uncaught KeyError in thread worker-1")
    assert "raise KeyError" in worker["exc_info"]

"""Human CLI output shows stored text, never obeys it: another agency's newlines, ESC sequences, NUL and Rich
markup in case numbers, notes and names are printed escaped; ``--json`` stays exact."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from plateledger.cli.main import app as cli_app
from plateledger.cli.output import printable, shown
from plateledger.core.clock import SystemClock
from plateledger.core.errors import FieldInvalid
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from tests.support import ingest, read, search, seed_agency

PLATE = "7ABC123"
#: 60 characters (a case number keeps 64): a forged audit line, a colour change, a NUL and Rich markup.
EVIL = "B-7\n     9 2025-06-01T00:00:00.000Z search.plate\x1b[31m\x00[bold]"
FORGED = "     9 2025-06-01T00:00:00.000Z search.plate"


def cli(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(cli_app, [*args, "--data", str(settings.data)])
    assert result.exit_code == 0, result.output
    return result.stdout


def assert_inert(text: str) -> None:
    assert "\x1b" not in text
    assert "\x00" not in text
    assert not any(line.startswith(FORGED) for line in text.splitlines())
    assert "B-7\\n     9 2025-06-01T00:00:00.000Z search.plate\\x1b[31m\\x00[bold]" in text


@pytest.fixture
def seeded(settings: Settings) -> dict[str, str]:
    """alpha holds a read and a camera with a hostile name; beta searches it (withheld, default deny) with a
    hostile note, and tries a hostile case number (refused, audited). Real clock: tokens must be valid."""
    platform = Platform.open(settings, clock=SystemClock())
    try:
        alpha = seed_agency(platform, "alpha")
        beta = seed_agency(platform, "beta")
        platform.registry.add_camera(
            alpha.admin.actor, agency_slug="alpha", external_id="cam-evil", name=EVIL, mobile=True
        )
        ingest(platform, alpha, [read(PLATE, camera="alpha-fixed", ts=platform.clock.now_ms() - 60_000)])
        search(platform, beta.investigator, PLATE, case_number="B-7", note=EVIL)
        with pytest.raises(FieldInvalid):
            search(platform, beta.investigator, PLATE, case_number=EVIL)
    finally:
        platform.close()
    return {"alpha-admin": alpha.tokens["admin"]}


def test_audit_list_escapes_what_another_agency_wrote(settings: Settings, seeded: dict[str, str]) -> None:
    text = cli(settings, "audit", "list", "--limit", "1000")
    assert_inert(text)
    rows: list[dict[str, Any]] = orjson.loads(cli(settings, "audit", "list", "--limit", "1000", "--json"))["entries"]
    assert EVIL in [row["case_number"] for row in rows]  # --json is exact


def test_access_log_escapes_what_another_agency_wrote(settings: Settings, seeded: dict[str, str]) -> None:
    token = seeded["alpha-admin"]
    text = cli(settings, "access-log", "--token", token)
    assert_inert(text)
    assert len(text.splitlines()) == 1  # the one withheld search, on one line
    body = orjson.loads(cli(settings, "access-log", "--token", token, "--json"))
    assert body["entries"][0]["query"]["note"] == EVIL


def test_camera_list_escapes_names(settings: Settings, seeded: dict[str, str]) -> None:
    assert_inert(cli(settings, "cameras", "list", "--agency", "alpha"))


def test_shown_escapes_controls_and_invisible_characters() -> None:
    assert (
        shown("a\tb\r\n\x1b\x00\x7f\u2028\u202e\U000e0001é") == "a\\tb\\r\\n\\x1b\\x00\\x7f\\u2028\\u202e\\U000e0001é"
    )
    assert printable({"k\n": ["v\x1b", ("t\x00", 1)], "n": None}) == {"k\\n": ["v\\x1b", ("t\\x00", 1)], "n": None}


@given(st.text())
def test_shown_output_is_always_printable(text: str) -> None:
    assert shown(text).isprintable()

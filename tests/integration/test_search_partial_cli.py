"""Partial plates (issue 20) through the CLI: ``search plate --contains`` runs the library's contains search
(gated, audited, refused when too short), ``--json`` carries the groups and the hint, and the text output shows
the groups. Real clock: the tokens must be valid."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from plateledger.cli.main import app as cli_app
from plateledger.core.clock import SystemClock
from plateledger.core.errors import FieldInvalid
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from tests.support import ingest, read, seed_agency

CASE = ["--purpose", "stolen_vehicle", "--case", "2025-000123"]


@pytest.fixture
def token(settings: Settings) -> str:
    """alpha has read 7PRT123 twice and 7PRT124 once; beta (no agreement with alpha) has read 8PRT120."""
    platform = Platform.open(settings, clock=SystemClock())
    try:
        alpha, beta = seed_agency(platform, "alpha"), seed_agency(platform, "beta")
        now = platform.clock.now_ms()
        plates = [("7PRT123", 3), ("7PRT123", 2), ("7PRT124", 1)]
        ingest(platform, alpha, [read(p, camera="alpha-fixed", ts=now - m * 60_000) for p, m in plates])
        ingest(platform, beta, [read("8PRT120", camera="beta-fixed", ts=now - 60_000, read_id="beta-1")])
    finally:
        platform.close()
    return alpha.tokens["investigator"]


def cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["search", "plate", *args, *CASE, "--data", str(settings.data)])
    return result.exit_code, result.output


def test_contains_json_carries_groups(settings: Settings, token: str) -> None:
    code, output = cli(settings, "PRT12", "--contains", "--token", token, "--json")
    assert code == 0, output
    body = orjson.loads(output)
    assert body["match"] == "contains"
    assert [(g["plate"], g["count"]) for g in body["groups"]] == [("7PRT123", 2), ("7PRT124", 1)]
    assert "8PRT120" not in output
    assert "beta police" in {w["owner"] for w in body["withheld"]}


def test_contains_text_shows_groups(settings: Settings, token: str) -> None:
    code, output = cli(settings, "PRT12", "--contains", "--token", token)
    assert code == 0, output
    assert "2 distinct plates:" in output
    assert any(line.split()[:3] == ["7PRT123", "2", "reads"] for line in output.splitlines())
    assert "8PRT120" not in output


def test_too_short_contains_is_refused(settings: Settings, token: str) -> None:
    """The library's FieldInvalid reaches the CLI's one error handler (one line, exit 1, tested for every
    library error in test_cli_invocation.py); the refusal is audited."""
    result = CliRunner().invoke(
        cli_app, ["search", "plate", "PR", "--contains", "--token", token, *CASE, "--data", str(settings.data)]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, FieldInvalid)
    assert result.exception.field == "plate"
    assert "contains search needs at least 3 letters or digits" in result.exception.rule
    platform = Platform.open(settings, clock=SystemClock())
    try:
        (refusal,) = platform.audit.entries(action="search.refused")
        assert orjson.loads(refusal.params)["query"]["match"] == "contains"
    finally:
        platform.close()


def test_empty_exact_search_prints_the_hint(settings: Settings, token: str) -> None:
    code, output = cli(settings, "PRT12", "--token", token)
    assert code == 0, output
    assert "0 reads" in output
    assert "--contains" in output
    assert "hint:" in output
    code, output = cli(settings, "PRT12", "--token", token, "--json")
    assert orjson.loads(output)["hint"]["plate"] == "PRT12"


def test_truncated_text_output_says_what_the_groups_cover(settings: Settings, token: str) -> None:
    code, output = cli(settings, "PRT12", "--contains", "--limit", "1", "--token", token)
    assert code == 0, output
    assert "1 distinct plate (of the reads shown only: the answer is truncated):" in output
    code, output = cli(settings, "PRT12", "--contains", "--limit", "1", "--token", token, "--json")
    body = orjson.loads(output)
    assert body["truncated"] is True
    assert body["groups_complete"] is False

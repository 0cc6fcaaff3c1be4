"""Vehicle description search through the CLI (issue 20, item 2): ``search description`` and the vehicle filters
of ``search plate``, run by the library (gated, audited). Its own module: chDB opens one data directory per
process, and these commands open a fresh one. Real clock: the tokens must be valid."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from plateledger.audit.log import SYSTEM
from plateledger.cli.main import app as cli_app
from plateledger.core.clock import SystemClock
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.policy.rules import DescriptionLimits, Policy
from tests.support import HOUR_MS, ingest, read, seed_agency

RED_TOYOTA = {"make": "Toyota", "model": "Corolla", "color": "Red", "type": "sedan"}


def test_cli_description_search(settings: Settings) -> None:
    platform = Platform.open(settings, clock=SystemClock())
    try:
        alpha = seed_agency(platform, "alpha")
        platform.policies.set(SYSTEM, "alpha", Policy(description=DescriptionLimits(allowed=True)))
        now = platform.clock.now_ms()
        reads = [
            read("AAA111", camera="alpha-fixed", ts=now - 60_000, read_id="a-red", vehicle=RED_TOYOTA),
            read("AAA222", camera="alpha-fixed", ts=now - 60_000, read_id="a-blue", vehicle={"color": "blue"}),
        ]
        ingest(platform, alpha, reads)
    finally:
        platform.close()
    args = [
        "search", "description", "--make", "toyota", "--color", "RED", "--cameras", "alpha-fixed",
        "--since", str(now - HOUR_MS), "--until", str(now + 1), "--purpose", "stolen_vehicle", "--case", "C-1",
        "--token", alpha.tokens["investigator"], "--data", str(settings.data),
    ]  # fmt: skip
    result = CliRunner().invoke(cli_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert [r["read_id"] for r in orjson.loads(result.output)["reads"]] == ["a-red"]
    text = CliRunner().invoke(cli_app, args)
    assert "[Red Toyota Corolla sedan]" in text.output
    plate = CliRunner().invoke(
        cli_app,
        [
            "search", "plate", "AAA*", "--color", "blue", "--purpose", "stolen_vehicle", "--case", "C-1",
            "--token", alpha.tokens["investigator"], "--data", str(settings.data), "--json",
        ],
    )  # fmt: skip
    assert plate.exit_code == 0, plate.output
    assert [r["read_id"] for r in orjson.loads(plate.output)["reads"]] == ["a-blue"]


def test_cli_approval_line_names_the_vehicle_and_where() -> None:
    from plateledger.cli.approvals import _line

    base = {"id": 3, "state": "pending", "kind": "vehicle", "purpose": "stolen_vehicle", "case_number": "C-1"}
    who = {"requested_by": "alpha-investigator", "requester": "alpha", "owners": ["alpha"]}
    vehicle = {"color": "red", "make": "Toyota", "model": None, "vtype": None}
    area = {"lat": 1.5, "lon": 2.5, "radius_m": 500.0, "vehicle": vehicle, "since_ms": 1, "until_ms": 2}
    assert " vehicle red Toyota at 1.5,2.5 r 500.0 m [1, 2) " in _line({**base, **who, "query": area})
    cameras = {"cameras": ["cam-1", "cam-2"], "vehicle": vehicle, "since_ms": 1, "until_ms": 2}
    assert " vehicle red Toyota at cameras cam-1,cam-2 " in _line({**base, **who, "query": cameras})

"""The TOML config file: beside the environment, below the CLI's flags, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from plateledger.core.errors import ConfigurationError
from plateledger.core.settings import load_settings


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "plateledger.toml"
    path.write_text('port = 9000\nhost = "127.0.0.2"\nlog_format = "json"\nlog_level = "warning"\n')
    return path


def test_precedence_is_flag_then_environment_then_file_then_default(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATELEDGER_HOST", "127.0.0.3")
    settings = load_settings(config=config, log_level="debug")
    assert settings.log_level == "debug"  # flag over file
    assert settings.host == "127.0.0.3"  # environment over file
    assert settings.port == 9000  # file over default
    assert settings.log_format == "json"
    assert settings.search_page == 1_000  # default
    monkeypatch.setenv("PLATELEDGER_PORT", "9100")
    assert load_settings(config=config, port=9200).port == 9200  # flag over environment


def test_the_file_is_named_by_the_environment_too(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATELEDGER_CONFIG", str(config))
    assert load_settings().port == 9000
    monkeypatch.setenv("PLATELEDGER_CONFIG", str(config.with_name("missing.toml")))
    assert load_settings(config=config).port == 9000  # --config over PLATELEDGER_CONFIG


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prot = 9000\n", "unknown setting(s): prot"),
        ('config = "other.toml"\n', "unknown setting(s): config"),
        ("port = \n", "not valid TOML"),
        ("port = 99999\n", "bad.toml: port: Input should be less than or equal to 65535"),
    ],
    ids=["typo", "nested-config", "syntax", "out-of-bounds"],
)
def test_a_bad_file_is_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as refused:
        load_settings(config=path)
    assert message in refused.value.detail


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read it"):
        load_settings(config=tmp_path / "missing.toml")


def test_log_level_is_read_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATELEDGER_LOG_LEVEL", "WARNING")
    assert load_settings(log_format="JSON").log_level == "warning"

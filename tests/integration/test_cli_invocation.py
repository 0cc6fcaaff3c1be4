"""How the command is invoked: --version, --config FILE, shell completion, ``python -m plateledger``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from plateledger import __version__
from plateledger.cli.main import app as cli_app


def invoke(*args: str, **env: str) -> str:
    result = CliRunner().invoke(cli_app, list(args), env=env or None, prog_name="plateledger")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_version_option() -> None:
    assert invoke("--version") == f"{__version__}\n"


def test_config_file_names_the_data_directory_and_a_flag_overrides_it(tmp_path: Path) -> None:
    config = tmp_path / "plateledger.toml"
    config.write_text(f'data = "{tmp_path / "from-file"}"\n')
    assert orjson.loads(invoke("--config", str(config), "agencies", "list", "--json")) == []
    assert (tmp_path / "from-file" / "governance.db").exists()
    invoke("--config", str(config), "agencies", "list", "--json", "--data", str(tmp_path / "from-flag"))
    assert (tmp_path / "from-flag" / "governance.db").exists()


def test_config_file_with_an_unknown_key_is_one_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "plateledger.toml"
    config.write_text("prot = 8080\n")
    result = CliRunner().invoke(cli_app, ["--config", str(config), "agencies", "list"], prog_name="plateledger")
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert "unknown setting(s): prot" in str(result.exception)


def test_shell_completion_completes_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    # Name the shell rather than let typer detect the one this test runs under (make's is sh, which it refuses).
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    assert invoke(_PLATELEDGER_COMPLETE="complete_bash", COMP_WORDS="plateledger ser", COMP_CWORD="1") == "serve\n"
    assert "_PLATELEDGER_COMPLETE=complete_bash" in invoke("--show-completion", "bash")


@pytest.mark.slow
def test_python_dash_m_runs_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "plateledger", "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == f"{__version__}\n"

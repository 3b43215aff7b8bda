"""The `crowdalpha` command: help, version and one-line errors."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from crowdalpha import __version__
from crowdalpha.cli import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"crowdalpha {__version__}"


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "--home" in result.output


def test_console_script_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "crowdalpha", "--version"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout


def test_user_error_is_one_line_and_exit_code_1(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "crowdalpha", "data", "build", "--out", str(tmp_path),
                             "--preset", "tiny"], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: invalid_config: preset 'tiny' is not one of small, medium, large")
    assert "Traceback" not in result.stderr

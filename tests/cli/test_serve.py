"""`crowdalpha serve`: settings parsed once from its options and the operator's
``CROWDALPHA_*`` variables, handed to the server (never written back to the
environment), one-line errors for bad values, and several worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from crowdalpha.cli import app
from crowdalpha.server import serving
from crowdalpha.server.settings import ServerSettings


def test_serve_builds_the_settings_once_and_hands_them_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[tuple[ServerSettings, int, dict[str, str]]] = []

    def fake_run_server(settings: ServerSettings, *, workers: int = 1) -> None:
        handed.append((settings, workers, {k: v for k, v in os.environ.items()
                                           if k.startswith("CROWDALPHA_")}))

    monkeypatch.setattr(serving, "run_server", fake_run_server)
    for name in [n for n in os.environ if n.startswith("CROWDALPHA_")]:
        monkeypatch.delenv(name)
    operator = {"CROWDALPHA_SIGNUP_GRANT": "7", "CROWDALPHA_PORT": "9999"}
    result = CliRunner().invoke(
        app, ["--home", str(tmp_path), "serve", "--port", "9001", "--schedule", "daily",
              "--workers", "2"], env=operator,
    )
    assert result.exit_code == 0, result.output
    [(settings, workers, environment)] = handed
    assert (settings.port, settings.schedule, settings.signup_grant, workers) == (
        9001, "daily", Decimal(7), 2
    )
    assert settings.home.home == tmp_path.absolute()
    assert environment == operator  # nothing added for the workers to read back
    assert "http://127.0.0.1:9001/graphql" in result.output


def test_a_bad_setting_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    env = {**os.environ, "CROWDALPHA_HOME": str(tmp_path), "CROWDALPHA_RATE_LIMIT": "lots"}
    env.pop("CROWDALPHA_DB", None)
    result = subprocess.run([sys.executable, "-m", "crowdalpha", "serve"], capture_output=True,
                            text=True, check=False, env=env, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: invalid_config: CROWDALPHA_RATE_LIMIT='lots' is not a whole number"
    ]
    assert not (tmp_path / "crowdalpha.sqlite").exists()  # stopped before touching the home


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_serve_with_two_workers_serves_the_options_settings(tmp_path: Path) -> None:
    """Each worker builds its app from the settings the command parsed: the page shows the
    port of ``--port``, not the variable the workers would see in their environment."""
    from tests.helpers.server import free_port

    port = free_port()
    env = {**os.environ, "CROWDALPHA_HOME": str(tmp_path), "CROWDALPHA_PORT": "1"}
    env.pop("CROWDALPHA_DB", None)
    env.pop("CROWDALPHA_STORE", None)
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "crowdalpha", "serve", "--port", str(port), "--workers", "2"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    try:
        deadline = time.monotonic() + 90
        pages: list[str] = []
        while time.monotonic() < deadline and len(pages) < 4:
            assert process.poll() is None, log.read_text()
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/data", timeout=5)
            except httpx.TransportError:
                time.sleep(0.3)
                continue
            assert page.status_code == 200, page.text[:2000]
            pages.append(page.text)
        assert len(pages) == 4, log.read_text()
        assert all(f"http://127.0.0.1:{port}/graphql" in p for p in pages)
        assert len(_children(process.pid)) >= 2  # the two workers (uvicorn's supervisor is it)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    assert process.returncode == 0, log.read_text()

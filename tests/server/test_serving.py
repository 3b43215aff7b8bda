"""What ``crowdalpha serve`` hands its worker processes: the app factory with the settings,
cheap to unpickle (a worker answers uvicorn's health checks only after that)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

from fastapi import FastAPI

from crowdalpha.server.serving import AppFactory
from crowdalpha.server.settings import resolve_server_settings
from tests.helpers.server import make_home


def test_the_factory_builds_the_app_of_its_settings(small_dataset: Path, tmp_path: Path) -> None:
    settings = resolve_server_settings(make_home(tmp_path / "home", small_dataset), environ={},
                                       port=9123)
    factory = pickle.loads(pickle.dumps(AppFactory.of(settings)))
    app = factory()
    try:
        assert isinstance(app, FastAPI)
        assert app.state.services.settings == settings
    finally:
        for stop in app.router.on_shutdown:
            stop()


def test_unpickling_the_factory_imports_nothing_heavy(tmp_path: Path) -> None:
    data = pickle.dumps(AppFactory.of(resolve_server_settings(tmp_path, environ={})))
    check = ("import pickle, sys; pickle.loads(sys.stdin.buffer.read()); "
             "print(sorted(m for m in ('crowdalpha.server.app', 'crowdalpha.server.settings', "
             "'pandas', 'sqlalchemy', 'fastapi') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", check], input=data, capture_output=True,
                          check=True)
    assert done.stdout.decode().strip() == "[]"

"""Fixtures of the web tests: a tournament home with a round open and the server's
settings over it.

The app in this process and the form helpers are in ``tests/helpers/web.py``; the
browser tests (``test_browser.py``) run a real server process instead, with the
helpers of ``tests/helpers/server.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crowdalpha.server.settings import ServerSettings, resolve_server_settings
from tests.helpers.server import make_home, tournament_of


@pytest.fixture
def web_home(small_dataset: Path, tmp_path: Path) -> Path:
    """A fresh migrated home holding the small dataset, with round 1 open."""
    home = make_home(tmp_path / "home", small_dataset)
    tournament_of(home).open_round()
    return home


@pytest.fixture
def web_settings(web_home: Path) -> ServerSettings:
    """The server's settings over ``web_home`` (nothing from this process's environment)."""
    return resolve_server_settings(web_home, environ={})

"""The API tests' server: a real crowdalpha server process on loopback, and numerapi
clients pointed at it.

The session's server runs ``crowdalpha serve`` on a home holding a copy of the
small test dataset, with round 1 open. Tests make their own participants
(account, key, model, deposit) straight in the database, so they do not see
each other's state. The helpers (``start_server`` for any other home, e.g. one
whose rounds a test drives through scoring) are in ``tests/helpers/server.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numerapi.base_api
import pytest

from tests.helpers.server import (
    Participant,
    Server,
    add_participant,
    make_home,
    start_server,
    stop_server,
    tournament_of,
)


@pytest.fixture(scope="session")
def api_home(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = make_home(tmp_path_factory.mktemp("api-home"), small_dataset)
    tournament_of(home).open_round()
    return home


@pytest.fixture(scope="session")
def server(api_home: Path) -> Iterator[Server]:
    running = start_server(api_home)
    previous = numerapi.base_api.API_TOURNAMENT_URL
    numerapi.base_api.API_TOURNAMENT_URL = running.graphql
    yield running
    numerapi.base_api.API_TOURNAMENT_URL = previous
    stop_server(running)


_names = iter(range(10**6))


@pytest.fixture
def participant_factory(server: Server) -> Callable[..., Participant]:
    """Make a fresh participant (unique name) on the session's server."""

    def make(prefix: str = "p", **kwargs: object) -> Participant:
        return add_participant(server.home, f"{prefix}{next(_names)}", **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def participant(participant_factory: Callable[..., Participant]) -> Participant:
    return participant_factory()

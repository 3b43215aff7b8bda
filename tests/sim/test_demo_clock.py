"""The live demo's clock as the server shows it: round times numerapi reads and the home
page's countdown are wall-clock times, while the database keeps the market's times."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crowdalpha.errors import ConfigError
from crowdalpha.server.settings import resolve_server_settings
from crowdalpha.sim.live import open_windows, window_seconds_for
from crowdalpha.tournament.clock import AcceleratedClock
from crowdalpha.tournament.db import make_engine, make_session_factory, open_store, resolve_settings
from crowdalpha.tournament.feed import DatasetFeed
from crowdalpha.tournament.rounds import Schedule
from crowdalpha.tournament.runner import Tournament
from tests.helpers.server import make_home
from tests.helpers.web import in_process

SATURDAY_1800 = datetime(2024, 1, 6, 18, tzinfo=UTC)
WALL_START = datetime(2030, 1, 1, tzinfo=UTC)
#: Saturday 18:00 to Monday 14:30, the weekly schedule's open window.
WINDOW = timedelta(days=1, hours=20, minutes=30)


class Timer:
    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


def test_open_windows_follow_the_schedule() -> None:
    window = open_windows(Schedule.weekly())
    assert window(SATURDAY_1800) == (SATURDAY_1800, SATURDAY_1800 + WINDOW)
    assert window(SATURDAY_1800 + timedelta(hours=3)) == (SATURDAY_1800, SATURDAY_1800 + WINDOW)
    following = SATURDAY_1800 + timedelta(days=7)
    assert window(SATURDAY_1800 + WINDOW) == (following, following + WINDOW)
    assert window(SATURDAY_1800 - timedelta(hours=1)) == (SATURDAY_1800, SATURDAY_1800 + WINDOW)
    assert window_seconds_for(60) == 61.0 and window_seconds_for(0) == 0.0
    with pytest.raises(ConfigError, match=r"open_seconds -1 must be"):
        window_seconds_for(-1)


def test_round_times_and_the_countdown_are_wall_clock_times(small_dataset: Path,
                                                             tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", small_dataset)
    timer = Timer()
    # one market day a second, but the open window lasts 60 s
    clock = AcceleratedClock(SATURDAY_1800, 86400, timer=timer,
                             windows=open_windows(Schedule.weekly()), window_seconds=60,
                             wall_start=WALL_START)
    factory = make_session_factory(make_engine(resolve_settings(home).db_url))
    tournament = Tournament(factory, open_store(resolve_settings(home)),
                            DatasetFeed.latest(home / "datasets"), clock)
    timer.value = 10.0
    tournament.open_round()
    timer.value = 25.0
    query = "{ rounds(number: 0) { number openTime closeStakingTime closeTime scoreTime } }"

    async def main() -> tuple[dict, str]:
        async with in_process(resolve_server_settings(home, environ={}), clock=clock) as client:
            answer = await client.post("/graphql", json={"query": query})
            page = await client.get("/")
        return answer.json()["data"]["rounds"][0], page.text

    found, html = asyncio.run(main())
    wall = {k: datetime.fromisoformat(v.replace("Z", "+00:00")) for k, v in found.items()
            if k != "number"}
    assert wall["openTime"] == WALL_START + timedelta(seconds=10)
    assert wall["closeStakingTime"] == wall["closeTime"] == WALL_START + timedelta(seconds=60)
    # Tuesday 14:30, one market day (one second) after the close
    assert wall["scoreTime"] == WALL_START + timedelta(seconds=61)
    countdown = re.search(r'id="countdown" data-seconds="(-?\d+)"', html)
    assert countdown is not None and int(countdown.group(1)) == 35  # not 1d 06h of market time
    assert "2024-01-08 14:30 UTC" in html  # the page still names the market's close

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crowdalpha.tournament.clock import Clock, ReplayClock, SystemClock, ensure_utc


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert isinstance(SystemClock(), Clock)


def test_replay_clock_stands_still_until_moved() -> None:
    start = datetime(2024, 1, 6, 18, tzinfo=UTC)
    clock = ReplayClock(start)
    assert clock.now() == clock.now() == start
    assert clock.advance(days=2, hours=-3, minutes=-30) == datetime(2024, 1, 8, 14, 30, tzinfo=UTC)
    assert clock.advance(timedelta(seconds=1)) == datetime(2024, 1, 8, 14, 30, 1, tzinfo=UTC)
    assert clock.set(datetime(2024, 2, 1, tzinfo=UTC)) == clock.now()
    assert isinstance(clock, Clock)


def test_replay_clock_converts_to_utc_and_refuses_naive_or_backwards() -> None:
    clock = ReplayClock(datetime(2024, 1, 6, 20, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2024, 1, 6, 18, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    with pytest.raises(
        ValueError, match=r"naive_datetime: start 2024-01-06T00:00:00 has no time zone"
    ):
        ReplayClock(datetime(2024, 1, 6))
    with pytest.raises(ValueError, match=r"clock_backwards"):
        clock.set(datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match=r"clock_backwards"):
        clock.advance(hours=-1)


def test_ensure_utc_rejects_non_datetimes() -> None:
    with pytest.raises(TypeError, match=r"at must be a datetime"):
        ensure_utc("2024-01-01", name="at")  # type: ignore[arg-type]

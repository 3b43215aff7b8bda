from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crowdalpha.tournament.clock import (
    AcceleratedClock,
    Clock,
    ReplayClock,
    SystemClock,
    ensure_utc,
    wall_time,
)
from crowdalpha.tournament.errors import ClockBackwardsError, InvalidValueError, NaiveDatetimeError


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
        NaiveDatetimeError, match=r"^naive_datetime: start 2024-01-06T00:00:00 has no time zone"
    ) as naive:
        ReplayClock(datetime(2024, 1, 6))
    assert isinstance(naive.value, ValueError)  # as before the exception family
    with pytest.raises(ClockBackwardsError, match=r"^clock_backwards: cannot set .* to 2024-01-01"):
        clock.set(datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ClockBackwardsError, match=r"^clock_backwards: cannot advance .* by -1 day"):
        clock.advance(hours=-1)


def test_ensure_utc_rejects_non_datetimes() -> None:
    with pytest.raises(TypeError, match=r"at must be a datetime"):
        ensure_utc("2024-01-01", name="at")  # type: ignore[arg-type]


class FakeTimer:
    """A monotonic timer moved by hand (seconds)."""

    def __init__(self, value: float = 100.0) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value


def test_accelerated_clock_runs_speed_times_faster() -> None:
    start = datetime(2024, 1, 6, 18, tzinfo=UTC)
    timer = FakeTimer()
    clock = AcceleratedClock(start, 86400 / 5, timer=timer)  # one day every 5 s
    assert isinstance(clock, Clock)
    assert clock.now() == start and clock.now().tzinfo is UTC
    timer.value += 5
    assert clock.now() == start + timedelta(days=1)
    timer.value += 0.5
    assert clock.now() == start + timedelta(days=1, hours=2, minutes=24)
    assert clock.wall_seconds(timedelta(days=2)) == pytest.approx(10.0)
    assert clock.wall_seconds_until(start + timedelta(days=2)) == pytest.approx(4.5)
    assert clock.wall_seconds_until(start) == 0.0
    assert clock.speed == 17280.0 and clock.start == start


def test_accelerated_clock_never_runs_backwards() -> None:
    timer = FakeTimer()
    clock = AcceleratedClock(datetime(2024, 1, 6, tzinfo=UTC), 60, timer=timer)
    timer.value += 10
    later = clock.now()
    timer.value -= 5  # a timer that misbehaves cannot move the clock back
    assert clock.now() == later
    timer.value -= 100  # not even before the start
    assert clock.now() == later


def test_accelerated_clock_converts_to_utc_and_checks_its_arguments() -> None:
    clock = AcceleratedClock(datetime(2024, 1, 6, 20, tzinfo=timezone(timedelta(hours=2))), 2,
                             timer=FakeTimer())
    assert clock.now() == datetime(2024, 1, 6, 18, tzinfo=UTC)
    assert repr(clock) == (
        "AcceleratedClock(start=2024-01-06T18:00:00+00:00, speed=2, now=2024-01-06T18:00:00+00:00)"
    )
    with pytest.raises(NaiveDatetimeError, match=r"^naive_datetime: start"):
        AcceleratedClock(datetime(2024, 1, 6), 2)
    for speed in (0, -1.0, float("nan"), float("inf"), True, "2"):
        with pytest.raises(InvalidValueError, match=r"^invalid_value: speed .* must be a positive finite"):
            AcceleratedClock(datetime(2024, 1, 6, tzinfo=UTC), speed)  # type: ignore[arg-type]


def test_accelerated_clock_on_the_real_timer_is_monotonic_across_threads() -> None:
    clock = AcceleratedClock(datetime(2024, 1, 6, tzinfo=UTC), 1000.0)
    seen: list[list[datetime]] = [[] for _ in range(4)]

    def read(out: list[datetime]) -> None:
        for _ in range(2000):
            out.append(clock.now())

    threads = [threading.Thread(target=read, args=(out,)) for out in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for out in seen:
        assert out == sorted(out)
    assert max(max(out) for out in seen) <= clock.now()


def _weekend(after: datetime) -> tuple[datetime, datetime]:
    """Windows of two days from each Saturday 00:00 (a stand-in for a schedule)."""
    saturday = datetime.combine(after.date(), datetime.min.time(), tzinfo=UTC)
    saturday -= timedelta(days=(saturday.weekday() - 5) % 7)
    if saturday + timedelta(days=2) <= after:
        saturday += timedelta(days=7)
    return saturday, saturday + timedelta(days=2)


def test_accelerated_clock_slows_down_inside_its_windows() -> None:
    start = datetime(2024, 1, 5, tzinfo=UTC)  # a Friday: one day before the first window
    timer = FakeTimer(0.0)
    wall_start = datetime(2030, 1, 1, tzinfo=UTC)
    clock = AcceleratedClock(start, 86400, timer=timer, windows=_weekend, window_seconds=20,
                             wall_start=wall_start)  # a day a second, a weekend in 20 s
    timer.value = 1
    assert clock.now() == datetime(2024, 1, 6, tzinfo=UTC)
    timer.value = 11  # half the window: one of its two days
    assert clock.now() == datetime(2024, 1, 7, tzinfo=UTC)
    timer.value = 21
    assert clock.now() == datetime(2024, 1, 8, tzinfo=UTC)
    timer.value = 26  # five weekdays at full speed
    assert clock.now() == datetime(2024, 1, 13, tzinfo=UTC)
    timer.value = 36
    assert clock.now() == datetime(2024, 1, 14, tzinfo=UTC)
    # to the wall clock and back, for past and future times
    assert clock.to_wall(datetime(2024, 1, 6, tzinfo=UTC)) == wall_start + timedelta(seconds=1)
    assert clock.to_wall(datetime(2024, 1, 8, tzinfo=UTC)) == wall_start + timedelta(seconds=21)
    assert clock.to_wall(datetime(2024, 1, 20, tzinfo=UTC)) == wall_start + timedelta(seconds=51)
    assert clock.to_wall(datetime(2024, 1, 4, tzinfo=UTC)) == wall_start - timedelta(seconds=1)
    assert clock.wall_seconds_until(datetime(2024, 1, 15, tzinfo=UTC)) == pytest.approx(10.0)
    assert clock.wall_seconds_until(start) == 0.0
    assert wall_time(clock, datetime(2024, 1, 6, tzinfo=UTC)) == wall_start + timedelta(seconds=1)


def test_a_window_never_runs_faster_than_the_clock() -> None:
    timer = FakeTimer(0.0)
    start = datetime(2024, 1, 6, tzinfo=UTC)
    clock = AcceleratedClock(start, 60, timer=timer, windows=_weekend, window_seconds=1)
    timer.value = 60
    assert clock.now() == start + timedelta(hours=1)  # the window would allow more: speed caps it
    plain = AcceleratedClock(start, 60, timer=timer, windows=_weekend, window_seconds=0)
    timer.value = 120
    assert plain.now() == start + timedelta(hours=1)  # 0: no windows at all
    with pytest.raises(InvalidValueError, match=r"window_seconds -1 must be"):
        AcceleratedClock(start, 60, windows=_weekend, window_seconds=-1)


def test_wall_time_is_the_time_itself_for_the_other_clocks() -> None:
    when = datetime(2024, 1, 6, 20, tzinfo=timezone(timedelta(hours=2)))
    assert wall_time(SystemClock(), when) == datetime(2024, 1, 6, 18, tzinfo=UTC)
    assert wall_time(ReplayClock(when), when) == when

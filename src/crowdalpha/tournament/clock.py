"""Clocks: every "now" of the tournament comes from one, so seasons replay in seconds.

``SystemClock`` reads the wall clock; ``ReplayClock`` is set and advanced by
hand (simulations, tests), and never runs backwards; ``AcceleratedClock`` runs
on its own, ``speed`` times faster than the wall clock (the live demo: a market
day every few seconds). All return timezone-aware UTC datetimes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from crowdalpha.tournament.errors import ClockBackwardsError, InvalidValueError, NaiveDatetimeError


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now() -> datetime`` (aware, UTC)."""

    def now(self) -> datetime: ...


def ensure_utc(value: datetime, *, name: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; a naive datetime is refused (its zone is unknown)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name} {value.isoformat()} has no time zone; pass an aware datetime"
        )
    return value.astimezone(UTC)


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ReplayClock:
    """A clock that stands still until set or advanced; for replays and tests."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start, name="start")

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to ``when``; refuses to go backwards (recorded history would reorder)."""
        when = ensure_utc(when, name="when")
        if when < self._now:
            raise ClockBackwardsError(
                f"cannot set the replay clock to {when.isoformat()}, "
                f"it is already {self._now.isoformat()}"
            )
        self._now = when
        return self._now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**parts)`` (e.g. ``days=1``)."""
        step = (delta or timedelta()) + timedelta(**parts)
        if step < timedelta():
            raise ClockBackwardsError(f"cannot advance the replay clock by {step}")
        self._now = self._now + step
        return self._now

    def __repr__(self) -> str:
        return f"ReplayClock({self._now.isoformat()})"


class AcceleratedClock:
    """A clock that runs ``speed`` times faster than the wall clock from ``start``.

    ``now() = start + (wall seconds since construction) * speed``, measured on
    a monotonic timer, so it never runs backwards (not even when the system
    clock is set back) and every thread sees the same time line. ``timer``
    (seconds, monotonic) is there for tests: they move it by hand instead of sleeping.
    """

    def __init__(
        self,
        start: datetime,
        speed: float,
        *,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._start = ensure_utc(start, name="start")
        if (
            isinstance(speed, bool)
            or not isinstance(speed, int | float)
            or not math.isfinite(speed)
            or speed <= 0
        ):
            raise InvalidValueError(f"speed {speed!r} must be a positive finite number")
        self._speed = float(speed)
        self._timer = timer
        self._origin = timer()
        self._last = self._start
        self._lock = threading.Lock()

    @property
    def start(self) -> datetime:
        return self._start

    @property
    def speed(self) -> float:
        """Clock seconds per wall-clock second."""
        return self._speed

    def now(self) -> datetime:
        elapsed = max(self._timer() - self._origin, 0.0)
        moment = self._start + timedelta(seconds=elapsed * self._speed)
        with self._lock:  # never hand out a time before one already handed out
            if moment < self._last:
                moment = self._last
            self._last = moment
        return moment

    def wall_seconds(self, delta: timedelta) -> float:
        """How many wall-clock seconds ``delta`` of clock time takes."""
        return delta.total_seconds() / self._speed

    def wall_seconds_until(self, when: datetime) -> float:
        """Wall-clock seconds until the clock reaches ``when`` (0 when it already has)."""
        return max(self.wall_seconds(ensure_utc(when, name="when") - self.now()), 0.0)

    def __repr__(self) -> str:
        return (
            f"AcceleratedClock(start={self._start.isoformat()}, speed={self._speed:g}, "
            f"now={self.now().isoformat()})"
        )


__all__ = ["AcceleratedClock", "Clock", "ReplayClock", "SystemClock", "ensure_utc"]

"""Clocks: every "now" of the tournament comes from one, so seasons replay in seconds.

``SystemClock`` reads the wall clock; ``ReplayClock`` is set and advanced by
hand (simulations, tests), and never runs backwards; ``AcceleratedClock`` runs
on its own, ``speed`` times faster than the wall clock (the live demo: a market
day every few seconds), optionally slower inside given windows (the demo's open
rounds, so that a person has time to submit). All return timezone-aware UTC datetimes.

``wall_time(clock, when)`` says when, on the real wall clock, a clock shows
``when``: what a client comparing times with its own clock needs (numerapi's
``check_round_open``, a countdown). For every clock but the accelerated one it
is ``when`` itself.
"""

from __future__ import annotations

import bisect
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


#: ``windows(after)``: the first window ``(begin, end)`` of clock time with ``end > after``.
Windows = Callable[[datetime], tuple[datetime, datetime]]


class AcceleratedClock:
    """A clock that runs ``speed`` times faster than the wall clock from ``start``.

    ``now() = start + (wall seconds since construction) * speed``, measured on
    a monotonic timer, so it never runs backwards (not even when the system
    clock is set back) and every thread sees the same time line. ``timer``
    (seconds, monotonic) is there for tests: they move it by hand instead of sleeping.

    With ``windows`` (a function giving the first window of clock time that ends
    after a given time), the clock slows down inside each window so that the window
    lasts at least ``window_seconds`` wall-clock seconds (never faster than
    ``speed``); between windows it runs at ``speed``. ``wall_start`` is the
    wall-clock instant of ``start`` (default: the construction's), for ``to_wall``.
    """

    def __init__(
        self,
        start: datetime,
        speed: float,
        *,
        timer: Callable[[], float] = time.monotonic,
        windows: Windows | None = None,
        window_seconds: float = 0.0,
        wall_start: datetime | None = None,
    ) -> None:
        self._start = ensure_utc(start, name="start")
        if (
            isinstance(speed, bool)
            or not isinstance(speed, int | float)
            or not math.isfinite(speed)
            or speed <= 0
        ):
            raise InvalidValueError(f"speed {speed!r} must be a positive finite number")
        if (
            isinstance(window_seconds, bool)
            or not isinstance(window_seconds, int | float)
            or not math.isfinite(window_seconds)
            or window_seconds < 0
        ):
            raise InvalidValueError(
                f"window_seconds {window_seconds!r} must be a finite number of seconds, 0 or more"
            )
        self._speed = float(speed)
        self._windows = windows if window_seconds > 0 else None
        self._window_seconds = float(window_seconds)
        self._timer = timer
        self._origin = timer()
        self._wall_start = (
            datetime.now(UTC) if wall_start is None else ensure_utc(wall_start, name="wall_start")
        )
        self._last = self._start
        self._lock = threading.Lock()
        # the time line in pieces of constant speed: (wall offset, clock time, speed, clock end)
        self._pieces: list[tuple[float, datetime, float, datetime]] = []

    @property
    def start(self) -> datetime:
        return self._start

    @property
    def speed(self) -> float:
        """Clock seconds per wall-clock second (between windows)."""
        return self._speed

    # --- the piecewise time line -------------------------------------------------------

    def _next_piece(self, windows: Windows) -> tuple[float, datetime, float, datetime]:
        if self._pieces:
            w0, t0, speed, t1 = self._pieces[-1]
            wall, at = w0 + (t1 - t0).total_seconds() / speed, t1
        else:
            wall, at = 0.0, self._start
        begin, end = windows(at)
        begin, end = ensure_utc(begin, name="window begin"), ensure_utc(end, name="window end")
        if not begin < end or end <= at:
            raise InvalidValueError(
                f"window ({begin.isoformat()}, {end.isoformat()}) after {at.isoformat()} "
                "must end after it and after its beginning"
            )
        if at < begin:
            return wall, at, self._speed, begin
        slow = min(self._speed, (end - begin).total_seconds() / self._window_seconds)
        return wall, at, slow, end

    def _piece_at(self, windows: Windows, *, wall: float | None = None,
                  at: datetime | None = None) -> tuple[float, datetime, float, datetime]:
        """The piece holding wall offset ``wall`` (or clock time ``at``), made as needed."""
        with self._lock:
            pieces = self._pieces
            while not pieces or (
                wall is not None and pieces[-1][0]
                + (pieces[-1][3] - pieces[-1][1]).total_seconds() / pieces[-1][2] <= wall
            ) or (at is not None and pieces[-1][3] <= at):
                pieces.append(self._next_piece(windows))
            if wall is not None:
                index = bisect.bisect_right([p[0] for p in pieces], wall) - 1
            else:
                index = bisect.bisect_right([p[1] for p in pieces], at) - 1
            return pieces[max(index, 0)]

    def _clock_at(self, wall: float) -> datetime:
        """The clock time ``wall`` wall-clock seconds after construction."""
        if self._windows is None:
            return self._start + timedelta(seconds=wall * self._speed)
        w0, t0, speed, _ = self._piece_at(self._windows, wall=wall)
        return t0 + timedelta(seconds=(wall - w0) * speed)

    def _wall_at(self, when: datetime) -> float:
        """Wall-clock seconds after construction at which the clock shows ``when``."""
        if self._windows is None or when < self._start:
            return (when - self._start).total_seconds() / self._speed
        w0, t0, speed, _ = self._piece_at(self._windows, at=when)
        return w0 + (when - t0).total_seconds() / speed

    # --- reading it ----------------------------------------------------------------------

    def now(self) -> datetime:
        elapsed = max(self._timer() - self._origin, 0.0)
        moment = self._clock_at(elapsed)
        with self._lock:  # never hand out a time before one already handed out
            if moment < self._last:
                moment = self._last
            self._last = moment
        return moment

    def wall_seconds(self, delta: timedelta) -> float:
        """How many wall-clock seconds ``delta`` of clock time takes between windows."""
        return delta.total_seconds() / self._speed

    def wall_seconds_until(self, when: datetime) -> float:
        """Wall-clock seconds until the clock reaches ``when`` (0 when it already has)."""
        target = self._wall_at(ensure_utc(when, name="when"))
        return max(target - max(self._timer() - self._origin, 0.0), 0.0)

    def to_wall(self, when: datetime) -> datetime:
        """The wall-clock instant at which this clock shows (or showed) ``when``."""
        offset = self._wall_at(ensure_utc(when, name="when"))
        return self._wall_start + timedelta(seconds=offset)

    def __repr__(self) -> str:
        return (
            f"AcceleratedClock(start={self._start.isoformat()}, speed={self._speed:g}, "
            f"now={self.now().isoformat()})"
        )


def wall_time(clock: Clock, when: datetime) -> datetime:
    """When the wall clock reads as ``clock`` shows ``when``: ``clock.to_wall(when)`` for a
    clock that has it (the accelerated clock), else ``when`` (in UTC)."""
    to_wall = getattr(clock, "to_wall", None)
    when = ensure_utc(when, name="when")
    return when if to_wall is None else to_wall(when)


__all__ = [
    "AcceleratedClock",
    "Clock",
    "ReplayClock",
    "SystemClock",
    "Windows",
    "ensure_utc",
    "wall_time",
]

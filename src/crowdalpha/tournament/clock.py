"""Clocks: every "now" of the tournament comes from one, so seasons replay in seconds.

``SystemClock`` reads the wall clock; ``ReplayClock`` is set and advanced by
hand (simulations, tests), and never runs backwards. Both return timezone-aware
UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now() -> datetime`` (aware, UTC)."""

    def now(self) -> datetime: ...


def ensure_utc(value: datetime, *, name: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; a naive datetime is refused (its zone is unknown)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"naive_datetime: {name} {value.isoformat()} has no time zone; pass an aware datetime"
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
            raise ValueError(
                f"clock_backwards: cannot set the replay clock to {when.isoformat()}, "
                f"it is already {self._now.isoformat()}"
            )
        self._now = when
        return self._now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**parts)`` (e.g. ``days=1``)."""
        step = (delta or timedelta()) + timedelta(**parts)
        if step < timedelta():
            raise ValueError(f"clock_backwards: cannot advance the replay clock by {step}")
        self._now = self._now + step
        return self._now

    def __repr__(self) -> str:
        return f"ReplayClock({self._now.isoformat()})"


__all__ = ["Clock", "ReplayClock", "SystemClock", "ensure_utc"]

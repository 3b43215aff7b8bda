"""Rounds: opened on a schedule with the newest live era, closed, scored day by day, resolved.

Life of a round (docs/tournament.md, "A round's life")::

    open --close_round--> closed --record_scoring_day(1..N-1)--> scoring --day N--> resolved

At most one round is open at a time (a partial unique index enforces it too).
Closing freezes every staked model's stake at risk (``stakes.stakes_as_of`` at the
round's ``closes_at``) into ``round_stakes``, so later stake changes never alter
it. Times come from the clock passed in; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crowdalpha.errors import ConfigError, NotFoundError
from crowdalpha.tournament import stakes
from crowdalpha.tournament.clock import Clock, ensure_utc
from crowdalpha.tournament.db import atomic
from crowdalpha.tournament.errors import (
    InvalidValueError,
    RoundAlreadyOpenError,
    RoundStateError,
)
from crowdalpha.tournament.tables import (
    Round,
    RoundStake,
    RoundStatus,
)

DEFAULT_RESOLVES_AFTER_DAYS = 20


@dataclass(frozen=True)
class Schedule:
    """When rounds open and how long they take submissions (UTC).

    A round opens at ``open_time`` on each of ``open_weekdays`` (0 = Monday) and
    closes ``close_after`` later. The default is weekly: open Saturday 18:00,
    close Monday 14:30; ``Schedule.daily()`` opens every weekday.
    """

    open_weekdays: tuple[int, ...] = (5,)
    open_time: time = time(18, 0)
    close_after: timedelta = timedelta(days=1, hours=20, minutes=30)
    resolves_after_days: int = DEFAULT_RESOLVES_AFTER_DAYS
    name: str = field(default="weekly", compare=False)

    def __post_init__(self) -> None:
        days = self.open_weekdays
        if not days or any(
            isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days
        ):
            raise InvalidValueError(f"schedule open_weekdays {days!r} must be weekday numbers 0..6")
        if self.open_time.tzinfo is not None:
            raise InvalidValueError(
                f"schedule open_time {self.open_time!r} must be a plain UTC time"
            )
        if not timedelta() < self.close_after <= timedelta(days=7):
            raise InvalidValueError(
                f"schedule close_after {self.close_after} must be positive and at most 7 days"
            )
        n = self.resolves_after_days
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidValueError(
                f"schedule resolves_after_days {n!r} must be a positive integer"
            )

    @classmethod
    def weekly(cls) -> Schedule:
        """Open Saturday 18:00 UTC, close Monday 14:30 UTC."""
        return cls()

    @classmethod
    def daily(
        cls,
        *,
        open_time: time = time(13, 0),
        close_after: timedelta = timedelta(hours=1, minutes=30),
    ) -> Schedule:
        """Open every weekday (Monday..Friday) at ``open_time``, close ``close_after`` later."""
        return cls((0, 1, 2, 3, 4), open_time, close_after, name="daily")

    def _opens_from(self, day: datetime) -> list[datetime]:
        start = datetime.combine(day.date(), self.open_time, tzinfo=UTC)
        return [
            start + timedelta(days=k)
            for k in range(8)
            if (start + timedelta(days=k)).weekday() in self.open_weekdays
        ]

    def next_open(self, after: datetime) -> datetime:
        """The first scheduled opening strictly after ``after``."""
        when = ensure_utc(after, name="after")
        return next(t for t in self._opens_from(when) if t > when)

    def next_close(self, after: datetime) -> datetime:
        """The first scheduled close strictly after ``after`` (of the window holding it, else the next)."""
        when = ensure_utc(after, name="after")
        first = when - self.close_after - timedelta(days=1)
        closes = [t + self.close_after for t in self._opens_from(first)]
        closes += [t + self.close_after for t in self._opens_from(first + timedelta(days=7))]
        return min(c for c in closes if c > when)


#: The round cadences a tournament can run on, by the name settings and commands use.
SCHEDULES: dict[str, Callable[[], Schedule]] = {"weekly": Schedule.weekly, "daily": Schedule.daily}


def schedule_named(name: str, *, source: str = "schedule") -> Schedule:
    """The cadence called ``name``; ``ConfigError`` naming ``source`` when there is none."""
    if name not in SCHEDULES:
        raise ConfigError(f"{source}={name!r} is not one of {', '.join(SCHEDULES)}")
    return SCHEDULES[name]()


def next_round_number(session: Session) -> int:
    """The number the next round to open will get."""
    return (session.scalar(select(func.max(Round.number))) or 0) + 1


def current_round(session: Session) -> Round | None:
    """The round taking submissions now, or None."""
    return session.scalars(select(Round).where(Round.status == RoundStatus.OPEN)).one_or_none()


def round_open_for_submissions(session: Session, *, now: datetime, schedule: Schedule) -> Round:
    """The round taking on-time submissions at ``now``; a clear error between rounds or
    after the close, saying when the next round opens."""
    current = current_round(session)
    if current is not None and now < current.closes_at:
        return current
    newest = session.scalars(select(Round).order_by(Round.number.desc()).limit(1)).first()
    if newest is None:
        raise RoundStateError("Current round not open for submissions: no round has opened yet")
    raise RoundStateError(
        f"Current round not open for submissions: round {newest.number} closed at "
        f"{newest.closes_at.isoformat()}; the next round opens at {schedule.next_open(now).isoformat()}"
    )


def get_round(session: Session, number: int) -> Round:
    """Round ``number``; ``NotFoundError`` if there is none."""
    found = session.scalars(select(Round).where(Round.number == number)).one_or_none()
    if found is None:
        raise NotFoundError(f"round {number!r} does not exist")
    return found


def rounds_scoring(session: Session) -> list[Round]:
    """Closed rounds not yet resolved (each is scored once per trading day), oldest first."""
    return list(
        session.scalars(
            select(Round)
            .where(Round.status.in_((RoundStatus.CLOSED, RoundStatus.SCORING)))
            .order_by(Round.number)
        )
    )


def open_round(session: Session, *, era: str, clock: Clock, schedule: Schedule) -> Round:
    """Open the next round on live era ``era`` now; it closes at the schedule's next close."""
    if not isinstance(era, str) or not era.strip() or len(era) > 16:
        raise InvalidValueError(f"era {era!r} must be a non-empty label of at most 16 characters")
    now = ensure_utc(clock.now(), name="clock.now()")
    try:
        return _insert_round(session, era=era, now=now, schedule=schedule)
    except IntegrityError:
        # another transaction opened a round (or took this number) after our check
        raise RoundAlreadyOpenError(
            f"another round was opened at the same time; era '{era}' was not opened"
        ) from None


def _insert_round(session: Session, *, era: str, now: datetime, schedule: Schedule) -> Round:
    with atomic(session):
        number = next_round_number(session)
        already = current_round(session)
        if already is not None:
            raise RoundAlreadyOpenError(
                f"round {already.number} (era '{already.era}') is open until "
                f"{already.closes_at.isoformat()}; close it before opening round {number}"
            )
        opened = Round(
            number=number,
            era=era,
            opens_at=now,
            closes_at=schedule.next_close(now),
            resolves_after_days=schedule.resolves_after_days,
            status=RoundStatus.OPEN,
            scoring_day=0,
            created_at=now,
        )
        session.add(opened)
        session.flush()
    return opened


def close_round(
    session: Session, round: Round, *, clock: Clock, early: bool = False
) -> dict[int, Decimal]:
    """Close ``round`` (due at its ``closes_at``) and freeze each staked model's stake at risk.

    ``early`` closes it now instead (the operator's hand), moving ``closes_at``
    to now. Returns the frozen stakes by model id.
    """
    now = ensure_utc(clock.now(), name="clock.now()")
    if round.status != RoundStatus.OPEN:
        raise RoundStateError(
            f"round {round.number} is {round.status}, only an open round can close"
        )
    if early and now <= round.opens_at:
        raise RoundStateError(
            f"round {round.number} opened at {round.opens_at.isoformat()}; it cannot close at "
            f"{now.isoformat()}"
        )
    if now < round.closes_at and not early:
        raise RoundStateError(
            f"round {round.number} closes at {round.closes_at.isoformat()}, it is {now.isoformat()}"
        )
    with atomic(session):
        if early and now < round.closes_at:
            round.closes_at = now
        frozen = {
            m: v for m, v in stakes.stakes_as_of(session, at=round.closes_at).items() if v > 0
        }
        for model_id, value in sorted(frozen.items()):
            session.add(RoundStake(round_id=round.id, model_id=model_id, stake_at_risk=value))
        round.status = RoundStatus.CLOSED
        session.flush()
    return frozen


def scoring_day_due(round: Round, day: int) -> datetime:
    """When day ``day`` of ``round``'s horizon is known: ``day`` trading days (Monday to
    Friday) after its close, at the close's time of day."""
    closes = round.closes_at.astimezone(UTC)
    date = np.busday_offset(np.datetime64(closes.date()), day, roll="forward")
    return datetime.combine(date.astype(object), closes.timetz())


def days_due(round: Round, now: datetime) -> int:
    """How many of ``round``'s scoring days are due at ``now`` (0 before the first)."""
    when = ensure_utc(now, name="now")
    due = 0
    while due < round.resolves_after_days and scoring_day_due(round, due + 1) <= when:
        due += 1
    return due


def record_scoring_day(session: Session, round: Round, day: int, *, clock: Clock) -> Round:
    """Mark ``round`` scored through ``day``; on its last day it resolves and due releases are paid."""
    if round.status not in (RoundStatus.CLOSED, RoundStatus.SCORING):
        raise RoundStateError(f"round {round.number} is {round.status}, it cannot be scored")
    last = round.resolves_after_days
    if isinstance(day, bool) or not isinstance(day, int) or not round.scoring_day < day <= last:
        raise InvalidValueError(
            f"scoring day {day!r} of round {round.number} must be after day {round.scoring_day} "
            f"and at most {last}"
        )
    with atomic(session):
        round.scoring_day = day
        round.status = RoundStatus.RESOLVED if day == last else RoundStatus.SCORING
        session.flush()
        if day == last:
            stakes.release_due(session, round.number, clock=clock)
    return round


__all__ = [
    "DEFAULT_RESOLVES_AFTER_DAYS",
    "SCHEDULES",
    "Schedule",
    "close_round",
    "current_round",
    "days_due",
    "get_round",
    "next_round_number",
    "open_round",
    "record_scoring_day",
    "round_open_for_submissions",
    "rounds_scoring",
    "schedule_named",
    "scoring_day_due",
]

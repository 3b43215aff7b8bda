from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdalpha.errors import NotFoundError
from crowdalpha.tournament import rounds, stakes
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.errors import (
    InvalidValueError,
    RoundAlreadyOpenError,
    RoundStateError,
)
from crowdalpha.tournament.tables import Round, RoundStake, RoundStatus

from . import factories

SAT = datetime(2024, 1, 6, 18, 0, tzinfo=UTC)
MON_CLOSE = datetime(2024, 1, 8, 14, 30, tzinfo=UTC)

# --- schedule math ---------------------------------------------------------------


def test_weekly_schedule_opens_saturday_and_closes_monday() -> None:
    s = rounds.Schedule()
    assert s.next_open(datetime(2024, 1, 3, 9, tzinfo=UTC)) == SAT
    assert s.next_open(SAT) == SAT + timedelta(days=7)  # strictly after
    assert s.next_open(SAT - timedelta(seconds=1)) == SAT
    assert s.next_close(SAT) == MON_CLOSE
    assert s.next_close(datetime(2024, 1, 7, 12, tzinfo=UTC)) == MON_CLOSE
    assert s.next_close(MON_CLOSE) == MON_CLOSE + timedelta(days=7)
    assert s.next_close(datetime(2024, 1, 10, tzinfo=UTC)) == MON_CLOSE + timedelta(days=7)
    assert s.resolves_after_days == 20


def test_daily_schedule_opens_each_weekday() -> None:
    s = rounds.Schedule.daily()
    fri = datetime(2024, 1, 5, 14, tzinfo=UTC)
    assert s.next_open(fri) == datetime(2024, 1, 8, 13, tzinfo=UTC)  # skips the weekend
    assert s.next_open(datetime(2024, 1, 8, 12, tzinfo=UTC)) == datetime(2024, 1, 8, 13, tzinfo=UTC)
    assert s.next_close(datetime(2024, 1, 8, 13, tzinfo=UTC)) == datetime(
        2024, 1, 8, 14, 30, tzinfo=UTC
    )


def test_bad_schedules_and_naive_times_are_refused() -> None:
    with pytest.raises(InvalidValueError, match=r"open_weekdays \(7,\)"):
        rounds.Schedule(open_weekdays=(7,))
    with pytest.raises(InvalidValueError, match="close_after"):
        rounds.Schedule(close_after=timedelta())
    with pytest.raises(InvalidValueError, match="resolves_after_days 0"):
        rounds.Schedule(resolves_after_days=0)
    with pytest.raises(ValueError, match="naive_datetime"):
        rounds.Schedule().next_open(datetime(2024, 1, 1, 12))
    assert rounds.Schedule(open_time=time(0, 0)).next_open(SAT) == datetime(2024, 1, 13, tzinfo=UTC)


# --- open / close ----------------------------------------------------------------


def test_open_and_close_round(session: Session, clock: ReplayClock) -> None:
    assert rounds.current_round(session) is None
    first = rounds.open_round(session, era="0001", clock=clock, schedule=rounds.Schedule())
    assert (first.number, first.era, first.status) == (1, "0001", RoundStatus.OPEN)
    assert (first.opens_at, first.closes_at, first.resolves_after_days) == (SAT, MON_CLOSE, 20)
    assert rounds.current_round(session) is first
    assert rounds.get_round(session, 1) is first
    with pytest.raises(NotFoundError, match="not_found: round 2 does not exist"):
        rounds.get_round(session, 2)

    with pytest.raises(RoundStateError, match=r"round_state: round 1 closes at 2024-01-08T14:30"):
        rounds.close_round(session, first, clock=clock)
    clock.set(MON_CLOSE)
    assert rounds.close_round(session, first, clock=clock) == {}
    assert first.status == RoundStatus.CLOSED
    assert rounds.current_round(session) is None
    assert rounds.rounds_scoring(session) == [first]
    with pytest.raises(RoundStateError, match="round 1 is closed, only an open round can close"):
        rounds.close_round(session, first, clock=clock)

    second = rounds.open_round(session, era="0002", clock=clock, schedule=rounds.Schedule())
    assert second.number == 2
    assert second.closes_at == MON_CLOSE + timedelta(days=7)


def test_only_one_round_is_open(session: Session, clock: ReplayClock) -> None:
    rounds.open_round(session, era="0001", clock=clock, schedule=rounds.Schedule())
    with pytest.raises(
        RoundAlreadyOpenError,
        match=r"^round_already_open: round 1 \(era '0001'\) is open until 2024-01-08T14:30:00\+00:00; "
        r"close it before opening round 2$",
    ):
        rounds.open_round(session, era="0002", clock=clock, schedule=rounds.Schedule())
    assert session.scalar(select(func.count(Round.id))) == 1
    with pytest.raises(InvalidValueError, match="era ''"):
        rounds.open_round(session, era="", clock=clock, schedule=rounds.Schedule())


def test_close_freezes_stakes_at_risk(session: Session, clock: ReplayClock) -> None:
    alice = factories.account(session, clock, "alice", funds="1000")
    staked = factories.staked_model(session, clock, alice, "m_staked", stake="100")
    unstaked = factories.staked_model(session, clock, alice, "m_free")
    r1 = rounds.open_round(session, era="0001", clock=clock, schedule=rounds.Schedule())
    clock.advance(hours=1)
    stakes.increase_stake(session, staked, Decimal("50"), by=alice, clock=clock)  # before close
    clock.set(MON_CLOSE)
    stakes.increase_stake(
        session, staked, Decimal("25"), by=alice, clock=clock
    )  # at close: next round
    clock.advance(minutes=5)
    assert rounds.close_round(session, r1, clock=clock) == {staked.id: Decimal("150")}
    stakes.increase_stake(session, staked, Decimal("500"), by=alice, clock=clock)
    session.expire_all()
    assert stakes.frozen_stakes(session, r1) == {staked.id: Decimal("150.000000000")}
    assert stakes.frozen_stake(session, r1, staked) == Decimal("150")
    assert stakes.frozen_stake(session, r1, unstaked) == 0
    assert session.scalar(select(func.count()).select_from(RoundStake)) == 1


def test_scoring_days_resolve_the_round_and_release_decreases(
    session: Session, clock: ReplayClock
) -> None:
    alice = factories.account(session, clock, "alice", funds="100")
    model = factories.staked_model(session, clock, alice, "m1", stake="100")
    r1 = rounds.open_round(
        session, era="0001", clock=clock, schedule=rounds.Schedule(resolves_after_days=2)
    )
    clock.set(MON_CLOSE)
    rounds.close_round(session, r1, clock=clock)
    stakes.decrease_stake(
        session, model, Decimal("40"), by=alice, clock=clock, at_risk_until_round=r1.number
    )
    rounds.record_scoring_day(session, r1, 1, clock=clock)
    assert (r1.status, r1.scoring_day) == (RoundStatus.SCORING, 1)
    assert rounds.rounds_scoring(session) == [r1]
    with pytest.raises(InvalidValueError, match="scoring day 1 of round 1 must be after day 1"):
        rounds.record_scoring_day(session, r1, 1, clock=clock)
    assert stakes.pending_release_balance(session, model) == Decimal("40")
    rounds.record_scoring_day(session, r1, 2, clock=clock)
    assert r1.status == RoundStatus.RESOLVED
    assert rounds.rounds_scoring(session) == []
    assert stakes.pending_release_balance(session, model) == 0
    with pytest.raises(RoundStateError, match="round 1 is resolved, it cannot be scored"):
        rounds.record_scoring_day(session, r1, 3, clock=clock)


def test_the_round_open_for_submissions_and_why_there_is_none(session: Session, clock: ReplayClock) -> None:
    schedule = rounds.Schedule()
    with pytest.raises(RoundStateError, match="no round has opened yet"):
        rounds.round_open_for_submissions(session, now=clock.now(), schedule=schedule)
    opened = rounds.open_round(session, era="0001", clock=clock, schedule=schedule)
    assert rounds.round_open_for_submissions(session, now=clock.now(), schedule=schedule) is opened
    after = opened.closes_at
    next_open = schedule.next_open(after).isoformat()
    with pytest.raises(RoundStateError, match=(
        f"round 1 closed at {opened.closes_at.isoformat()}; the next round opens at {next_open}"
    ).replace("+", r"\+")):
        rounds.round_open_for_submissions(session, now=after, schedule=schedule)

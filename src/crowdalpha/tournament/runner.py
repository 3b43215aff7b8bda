"""The operator's tournament: rounds opened from the feed, closed, scored and resolved.

``Tournament`` holds what every round operation needs (database, file store,
feed, clock, schedule, payout rules). Each operation is its own committed
transaction, so a crash loses at most the operation in flight, and that one
leaves nothing behind. ``advance()`` does whatever the clock says is due, in
order: close the open round past its close, score the trading days that have
come for every scoring round, open the next round when the schedule says so.
The by-hand operations (``open_round``, ``close_round(early=True)``,
``score_next_day``, ``resolve``) are the operator's ``admin round`` commands:
they do not wait for the calendar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crowdalpha.tournament import accounts, resolution, rounds, submissions, webhooks
from crowdalpha.tournament import feed as feed_mod
from crowdalpha.tournament.clock import Clock, ReplayClock, ensure_utc
from crowdalpha.tournament.db import session_scope
from crowdalpha.tournament.errors import RoundStateError
from crowdalpha.tournament.payouts import PayoutRules
from crowdalpha.tournament.store import Store
from crowdalpha.tournament.tables import ModelKind, Round

#: Weekdays (0 = Monday) on which a round's opening gets the operator's integration-test
#: submissions: every weekly round (Saturday), and Tuesdays and Thursdays of daily rounds.
INTEGRATION_TEST_WEEKDAYS: tuple[int, ...] = (1, 3, 5)


@dataclass(frozen=True)
class Event:
    """Something the tournament did: ``opened``, ``closed``, ``scored`` or ``resolved``."""

    kind: str
    round_number: int
    day: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        day = "" if self.day is None else f" day {self.day}"
        detail = f" ({self.detail})" if self.detail else ""
        return f"round {self.round_number} {self.kind}{day}{detail}"


@dataclass
class Tournament:
    """One tournament: its state, its data feed and its rules."""

    factory: sessionmaker[Session]
    store: Store
    feed: feed_mod.DatasetFeed
    clock: Clock
    schedule: rounds.Schedule = field(default_factory=rounds.Schedule.weekly)
    rules: PayoutRules = field(default_factory=PayoutRules)
    scoring_feature_set: str = feed_mod.DEFAULT_SCORING_FEATURE_SET
    integration_test_weekdays: tuple[int, ...] = INTEGRATION_TEST_WEEKDAYS

    # ------------------------------------------------------------------ by hand

    def open_round(self) -> Event:
        """Open the next round now on the newest live era (publishing a new era if the
        newest one already had its round) and archive its live data.

        The round opens at the moment it was asked for, even when publishing the era
        takes a while (hours, on a fast demo clock)."""
        asked_at = ReplayClock(ensure_utc(self.clock.now(), name="clock.now()"))
        with session_scope(self.factory, writes=True) as session:
            already = rounds.current_round(session)
            if already is not None:
                raise RoundStateError(
                    f"round {already.number} is open until {already.closes_at.isoformat()}; "
                    "close it first"
                )
            number = rounds.next_round_number(session)
            era = self.feed.newest_era()
            if session.scalar(select(Round.id).where(Round.era == era).limit(1)) is not None:
                era = self.feed.publish_next_era()
            live = self.feed.live()
            features = self.feed.scoring_features(self.scoring_feature_set)
            feed_mod.archive_round_data(
                self.store, number, live, features, self.feed.example_predictions()
            )
            opened = rounds.open_round(session, era=era, clock=asked_at, schedule=self.schedule)
            if opened.number != number:  # another process opened one meanwhile
                raise RoundStateError(f"round {number} was opened by another process")
            closes = opened.closes_at.isoformat()
            submitted = self._submit_operator_models(session, opened)
            calls = webhooks.round_opened_calls(session)
        webhooks.notify_round_opened(calls, number)
        return Event(
            "opened", number,
            detail=f"era {era}, {len(live)} ids, closes {closes}, {submitted} operator submissions",
        )

    def _submit_operator_models(self, session: Session, round: Round) -> int:
        """Submit the example predictions for the operator's benchmark models, and for its
        integration-test models on their weekdays, through the participants' path (in the
        opening's transaction: a failure opens nothing)."""
        weekday = round.opens_at.weekday()
        operator = accounts.get_operator(session, missing_ok=True)
        if operator is None:
            return 0
        chosen = [
            m for m in operator.models
            if m.kind == ModelKind.BENCHMARK
            or (m.kind == ModelKind.INTEGRATION_TEST and weekday in self.integration_test_weekdays)
        ]
        if not chosen:
            return 0
        ids = feed_mod.round_live_ids(self.store, round.number)
        example = feed_mod.round_example_predictions(self.store, round.number)
        data = example.rename("prediction").rename_axis("id").to_csv().encode()
        for model in chosen:
            submissions.submit(session, self.store, model, round, data, "example_preds.csv",
                               by=operator, clock=self.clock, live_ids=ids)
        return len(chosen)

    def close_round(self, *, early: bool = False) -> Event:
        """Close the open round (at or after its close time; any time with ``early``)."""
        with session_scope(self.factory, writes=True) as session:
            current = rounds.current_round(session)
            if current is None:
                raise RoundStateError("no round is open")
            frozen = rounds.close_round(session, current, clock=self.clock, early=early)
            number = current.number
        return Event("closed", number, detail=f"{len(frozen)} stakes at risk")

    def score_next_day(self, round_number: int) -> Event | None:
        """Score the next day of round ``round_number``; None when it is already resolved."""
        with session_scope(self.factory, writes=True) as session:
            round = rounds.get_round(session, round_number)
            outcome = resolution.score_day(
                session, self.store, self.feed, round, clock=self.clock, rules=self.rules
            )
        if outcome is None:
            return None
        if outcome.resolved:
            total = sum(outcome.payouts.values())
            detail = f"{len(outcome.payouts)} payouts, net {total:+f}"
            return Event("resolved", round_number, outcome.day, detail)
        return Event("scored", round_number, outcome.day, f"{outcome.submissions} submissions")

    def resolve(self, round_number: int) -> list[Event]:
        """Score every remaining day of round ``round_number`` and pay it out."""
        events = []
        while (event := self.score_next_day(round_number)) is not None:
            events.append(event)
        return events

    def scoring_rounds(self) -> list[int]:
        """Numbers of the rounds closed and not yet resolved."""
        with session_scope(self.factory) as session:
            return [r.number for r in rounds.rounds_scoring(session)]

    # ------------------------------------------------------------------ by the clock

    def advance(self, *, open_rounds: bool = True) -> list[Event]:
        """Do what is due now: close, score the due days, open the next round."""
        now = ensure_utc(self.clock.now(), name="clock.now()")
        events = []
        with session_scope(self.factory) as session:
            current = rounds.current_round(session)
            close_due = current is not None and current.closes_at <= now
        if close_due:
            events.append(self.close_round())
        with session_scope(self.factory) as session:
            due = {
                r.number: rounds.days_due(r, now) - r.scoring_day
                for r in rounds.rounds_scoring(session)
            }
        for number, days in sorted(due.items()):
            for _ in range(max(days, 0)):
                event = self.score_next_day(number)
                if event is not None:
                    events.append(event)
        if open_rounds and self._opening_due(now):
            events.append(self.open_round())
        return events

    def _opening_due(self, now: datetime) -> bool:
        with session_scope(self.factory) as session:
            if rounds.current_round(session) is not None:
                return False
            last = _last_round(session)
            if last is None:
                return True
            return self.schedule.next_open(last.opens_at) <= now

    def next_event_time(self, *, open_rounds: bool = True) -> datetime | None:
        """When something is next due (a close, a scoring day or, with ``open_rounds``, an
        opening), for replays; None when nothing is."""
        with session_scope(self.factory) as session:
            times = []
            current = rounds.current_round(session)
            if current is not None:
                times.append(current.closes_at)
            for r in rounds.rounds_scoring(session):
                if r.scoring_day < r.resolves_after_days:
                    times.append(rounds.scoring_day_due(r, r.scoring_day + 1))
            last = _last_round(session)
            if open_rounds and current is None and last is not None:
                times.append(self.schedule.next_open(last.opens_at))
        return min(times) if times else None


def _last_round(session: Session) -> Round | None:
    return session.scalars(select(Round).order_by(Round.number.desc()).limit(1)).first()


__all__ = ["INTEGRATION_TEST_WEEKDAYS", "Event", "Tournament"]

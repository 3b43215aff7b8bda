"""A replayed season: the real tournament on a replay clock, with simulated participants.

Everything goes through the operator's code paths (``Tournament``: rounds
opened from the feed, closed, scored day by day, paid out) and the
participants' (submissions validated and stored, stakes moved on the ledger);
only the clock is simulated, jumping from one due event to the next, so weeks
pass in seconds. The season works on its own copy of the dataset version
(publishing live eras rewrites the version's live files) and its own SQLite
database in ``folder``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from crowdalpha.errors import ConfigError
from crowdalpha.sim.participants import (
    Participant,
    StakeAction,
    make_participants,
    submission_bytes,
)
from crowdalpha.tournament import (
    accounts,
    db,
    leaderboard,
    ledger,
    models,
    rounds,
    stakes,
    submissions,
)
from crowdalpha.tournament.clock import Clock, ReplayClock
from crowdalpha.tournament.feed import DatasetFeed, round_live_ids
from crowdalpha.tournament.ledger import AuditReport
from crowdalpha.tournament.runner import Event, Tournament
from crowdalpha.tournament.tables import ModelKind

#: A Saturday 18:00 UTC: the first weekly opening of every replayed season.
SEASON_START = datetime(2024, 1, 6, 18, 0, tzinfo=UTC)
#: The operator's benchmark model (the tournament submits the example predictions for it).
BENCHMARK_MODEL = "benchmark_example"


@dataclass(frozen=True)
class SeasonResult:
    """What a season did and where everyone ended up."""

    folder: Path
    rounds_opened: int
    events: list[Event]
    models: list[leaderboard.ModelRow]
    accounts: list[leaderboard.AccountRow]
    audit: AuditReport


def enrol_cast(session: Session, cast: list[Participant], clock: Clock) -> None:
    """Accounts, models and deposits of the cast, plus the operator's benchmark model."""
    operator = accounts.ensure_operator(session, clock=clock)
    models.create_model(session, operator, BENCHMARK_MODEL, clock=clock, kind=ModelKind.BENCHMARK)
    for member in cast:
        if member.operator:
            models.create_model(
                session, operator, member.model_name, clock=clock,
                kind=ModelKind.INTEGRATION_TEST,
            )
            continue
        owner = accounts.create_account(session, member.name, clock=clock)
        if member.staking.initial_deposit > 0:
            ledger.deposit(session, owner, member.staking.initial_deposit, clock=clock)
        basis = "corr+mmc" if member.kind.value in ("meta_copy", "neutral") else "corr"
        models.create_model(session, owner, member.model_name, clock=clock, payout_basis=basis)


def _last_final_corr(session: Session) -> dict[int, float]:
    """Each model's final CORR in its most recent resolved round."""
    scores = leaderboard.final_scores(session, "corr")
    latest = scores.sort_values("round_number").groupby("model_id")["value"].last()
    return {int(k): float(v) for k, v in latest.items()}


def _participants_act(
    session: Session, tournament: Tournament, cast: list[Participant], round_number: int
) -> None:
    """Every participant's turn when a round opens: submit, then change its stake."""
    round = rounds.get_round(session, round_number)
    ids = round_live_ids(tournament.store, round_number)
    live = tournament.feed.live().reindex(ids)
    example = tournament.feed.example_predictions()
    clock = tournament.clock
    weekday = clock.now().weekday()
    last_corr = _last_final_corr(session)
    for member in cast:
        if member.operator:
            continue  # the tournament submits the operator's models itself when a round opens
        model = models.get_model(session, member.model_name)
        owner = model.account
        if member.submits_on(weekday):
            data = submission_bytes(member.predict(live, example))
            submissions.submit(session, tournament.store, model, round, data,
                               f"{member.model_name}.csv", by=owner, clock=clock, live_ids=ids)
        change = member.decide_stake(
            ledger.wallet_balance(session, owner), stakes.stake_now(session, model),
            last_corr.get(model.id),
        )
        if change is None:
            continue
        if change.action is StakeAction.INCREASE:
            stakes.increase_stake(session, model, change.amount, by=owner, clock=clock)
        else:
            stakes.decrease_stake(session, model, change.amount, by=owner, clock=clock)


def run_season(
    folder: Path,
    dataset_version: Path,
    *,
    weeks: int,
    seed: int,
    participants: int | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> SeasonResult:
    """Replay ``weeks`` weekly rounds in ``folder`` (which must be empty or absent) and let
    them all resolve; returns the leaderboards and the ledger audit."""
    if isinstance(weeks, bool) or not isinstance(weeks, int) or weeks < 1:
        raise ConfigError(f"weeks {weeks!r} must be a positive integer")
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"season folder '{folder}' is not empty; give a new or empty folder")
    version = folder / "datasets" / Path(dataset_version).name
    shutil.copytree(dataset_version, version)
    settings = db.resolve_settings(folder, environ={})
    db.prepare_home(settings)
    engine = db.make_engine(settings.db_url)
    try:
        db.migrate(engine)
        factory = db.make_session_factory(engine)
        clock = ReplayClock(SEASON_START)
        tournament = Tournament(factory, db.open_store(settings), DatasetFeed(version), clock)
        cast = make_participants(version, seed, participants)
        with db.session_scope(factory) as session:
            enrol_cast(session, cast, clock)
        events: list[Event] = []
        opened = 0
        while True:
            for event in tournament.advance(open_rounds=opened < weeks):
                events.append(event)
                if on_event is not None:
                    on_event(event)
                if event.kind == "opened":
                    opened += 1
                    with db.session_scope(factory) as session:
                        _participants_act(session, tournament, cast, event.round_number)
            upcoming = tournament.next_event_time(open_rounds=opened < weeks)
            if upcoming is None:
                break
            clock.set(upcoming)
        with db.session_scope(factory) as session:
            return SeasonResult(
                folder,
                opened,
                events,
                leaderboard.model_leaderboard(session),
                leaderboard.account_leaderboard(session),
                ledger.audit(session),
            )
    finally:
        engine.dispose()


__all__ = [
    "BENCHMARK_MODEL",
    "SEASON_START",
    "SeasonResult",
    "enrol_cast",
    "run_season",
]

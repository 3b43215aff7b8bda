"""The read models (tournament/views) on a real tournament: counts follow the counted-submission
rule, a model's scores are its counted submission's, payouts projected and settled as resolution
pays them, and the meta-model's contributors are the on-time staked submissions."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from crowdalpha.tournament import accounts, models, payouts, resolution, rounds, stakes, submissions
from crowdalpha.tournament.db import session_scope
from crowdalpha.tournament.feed import round_live_ids
from crowdalpha.tournament.runner import Tournament
from crowdalpha.tournament.tables import RoundStatus
from crowdalpha.tournament.views import history, money, scores
from crowdalpha.tournament.views import models as model_views
from crowdalpha.tournament.views import rounds as round_views
from tests.helpers.tournament import close_open_round, submit_all


def _resubmit(t: Tournament, name: str, number: int) -> None:
    """``name`` submits again in round ``number``: reversed example predictions."""
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, number)
        ids = round_live_ids(t.store, number)
        values = t.feed.example_predictions().reindex(ids).rank(pct=True)
        frame = pd.DataFrame({"id": ids, "prediction": 1 - values.to_numpy()})
        submissions.submit(session, t.store, models.get_model(session, name), round,
                           frame.to_csv(index=False).encode(), "again.csv",
                           by=accounts.get_account(session, "alice"), clock=t.clock, live_ids=ids)


def test_the_round_listing_counts_models_with_a_counted_submission(tournament: Tournament) -> None:
    t = tournament
    submit_all(t, 1)
    _resubmit(t, "m0", 1)  # two submissions of one model: one model
    with session_scope(t.factory) as session:
        (listed,) = round_views.round_listing(session)
        # alice's four, the benchmark and the operator's integration-test model
        assert (listed.round.number, listed.models, listed.at_risk) == (1, 6, None)
        m1 = models.get_model(session, "m1")
        submissions.counted_submission(session, m1, listed.round).valid = False
    with session_scope(t.factory) as session:
        assert round_views.round_listing(session)[0].models == 5
    close_open_round(t)
    with session_scope(t.factory) as session:
        (listed,) = round_views.round_listing(session)
        # m1 is staked but its only submission is invalid: its stake is still frozen
        assert listed.at_risk == sum(stakes.frozen_stakes(session, listed.round).values())
        assert listed.at_risk == Decimal(100 + 200 + 300 + 400)


def test_a_models_scores_are_its_counted_submissions(tournament: Tournament) -> None:
    t = tournament
    submit_all(t, 1)
    _resubmit(t, "m0", 1)
    close_open_round(t)
    t.score_next_day(1)
    t.score_next_day(1)
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, 1)
        model = models.get_model(session, "m0")
        counted = submissions.counted_submission(session, model, round)
        assert counted.filename == "again.csv"
        assert submissions.counted_submission_ids(session, model) == {counted.id}
        table = resolution.round_scores(session, round)
        mine = table[table.model == "m0"].set_index("day")
        days = scores.model_day_scores(session, model, percentiles=True)
        assert [(d.round.number, d.day, d.submission_id) for d in days] == [
            (1, 1, counted.id), (1, 2, counted.id)
        ]
        assert days[1].values["corr"] == pytest.approx(mine.at[2, "corr"], abs=1e-12)
        assert all(0 < p < 1 for d in days for p in d.percentiles.values() if p is not None)
        (line,) = model_views.model_rounds(session, model)
        assert (line.number, line.submission_id, sorted(line.by_day)) == (1, counted.id, [1, 2])
        assert line.latest == days[1].values and line.final is None
        assert line.stake_at_risk == Decimal(100)
        latest = model_views.latest_score(session, model)
        assert (latest.round_number, latest.day) == (1, 2)


def test_projected_and_settled_payouts_are_what_resolution_pays(tournament: Tournament) -> None:
    t = tournament
    submit_all(t, 1)
    close_open_round(t)
    t.score_next_day(1)
    rules = payouts.PayoutRules()
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, 1)
        model = models.get_model(session, "m1")
        (performance,) = scores.model_round_performances(session, model, rules)
        assert performance.at_risk == Decimal(200) and not performance.resolved
        assert performance.factor == payouts.payout_factor(Decimal(1000), rules)
        day = performance.latest
        pending, settled = performance.payout_on(day)
        assert settled is None
        assert pending == payouts.projected_payout(
            Decimal(200), day.values["corr"], day.values["mmc"], "corr+mmc", performance.factor,
            rules,
        )
        _actual, projected = scores.account_payouts(
            session, accounts.get_account(session, "alice"), rules
        )
        assert {p.model.name: p.amount for p in projected}["m1"] == pending
        assert round_views.round_payout_factor(session, round, rules) == performance.factor
    t.resolve(1)
    with session_scope(t.factory) as session:
        model = models.get_model(session, "m1")
        (performance,) = scores.model_round_performances(session, model, rules)
        assert performance.resolved and performance.settled is not None
        assert performance.payout_on(performance.latest) == (None, performance.settled.amount)
        assert performance.final is performance.latest
        actual, projected = scores.account_payouts(
            session, accounts.get_account(session, "alice"), rules
        )
        assert projected == []
        assert sorted(p.model.name for p in actual) == ["m0", "m1", "m2", "m3"]
        moves = model_views.stake_moves(session, model)
        assert moves[-1].stake == stakes.stake_now(session, model)
        totals = money.money_totals(session)
        assert totals.staked == sum(
            (stakes.stake_now(session, m) for m in accounts.get_account(session, "alice").models),
            Decimal(0),
        )
        standings = history.daily_standings(session, model)
        assert standings and set(standings[-1].reps) == set(history.STANDING_METRICS)


def test_the_meta_model_is_made_of_the_on_time_staked_submissions(tournament: Tournament) -> None:
    t = tournament
    submit_all(t, 1, late_model="m3")  # m3 does not submit
    t.clock.advance(hours=1)  # the stakes were made at the opening: count them
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, 1)
        open_view = round_views.contributors(session, round, now=t.clock.now(), top=2)
        # while open: the stakes as they would be frozen now; the benchmark has no stake
        assert (open_view.count, open_view.total) == (3, Decimal(600))
        assert [c.model for c in open_view.top] == ["m2", "m1"]
        assert open_view.top[0].weight == pytest.approx(0.5)
        assert round.status == RoundStatus.OPEN
    close_open_round(t)
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, 1)
        closed = round_views.contributors(session, round, now=t.clock.now(), top=10)
        assert (closed.count, closed.total) == (3, Decimal(600))
        assert sum(c.weight for c in closed.top) == pytest.approx(1.0)
        board = round_views.round_board(
            session, round, now=t.clock.now(), rules=payouts.PayoutRules(), paths_for=2
        )
        assert [r.model for r in board.rows][:3] == ["m2", "m1", "m0"]
        assert board.total_at_risk == Decimal(600) and board.paths == {}

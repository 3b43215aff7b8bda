"""Scores, payouts and leaderboards through numerapi against a real server.

The module's own home: round 1 is scored to resolution (its first two days dated back to the
two days before, as a calendar would have spread them), round 2 stays mid-scoring after day 1
and round 3 is open. Participants ``a`` (paid on corr+mmc) and ``b`` (corr) stake; ``c`` does
not. ``a`` and ``b`` were created a week ago, ``c`` today; ``a`` alone submits to round 3.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numerapi
import numerapi.base_api
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crowdalpha.api.graphql.scores import DISPLAY_NAMES
from crowdalpha.tournament import feed as feed_mod
from crowdalpha.tournament import leaderboard, payouts, rounds, stakes
from crowdalpha.tournament.db import make_engine, open_store, resolve_settings
from crowdalpha.tournament.tables import (
    Model,
    PayoutBasis,
    Round,
    RoundDay,
    RoundPayout,
    RoundStake,
    Score,
)
from tests.helpers.server import (
    Participant,
    Server,
    add_participant,
    make_home,
    start_server,
    stop_server,
    tournament_of,
)

DAYS = 3  # scoring days of a round here
STAKES = {"a": Decimal(40), "b": Decimal(25)}


@dataclass
class World:
    server: Server
    people: dict[str, Participant]
    engine: Engine

    def session(self) -> Session:
        return Session(self.engine)


def _submit(home: Path, round_number: int, people: dict[str, Participant], seed: int) -> None:
    ids = feed_mod.round_live_ids(open_store(resolve_settings(home)), round_number)
    rng = np.random.default_rng(seed)
    for person in people.values():
        frame = pd.DataFrame({"id": ids, "prediction": rng.uniform(size=len(ids))})
        person.api().upload_predictions(df=frame, model_id=person.model_id)


@pytest.fixture(scope="module")
def world(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = make_home(tmp_path_factory.mktemp("scores-home"), small_dataset)
    tournament = tournament_of(home, schedule=rounds.Schedule(resolves_after_days=DAYS))
    tournament.open_round()
    running = start_server(home)
    previous = numerapi.base_api.API_TOURNAMENT_URL
    numerapi.base_api.API_TOURNAMENT_URL = running.graphql
    engine = make_engine(resolve_settings(home).db_url)
    try:
        people = {name: add_participant(home, f"sc_{name}") for name in ("a", "b", "c")}
        with Session(engine) as session:  # a is paid on CORR and MMC (the default is CORR alone)
            model = session.scalars(select(Model).where(Model.name == people["a"].model)).one()
            model.payout_basis = PayoutBasis.CORR_MMC
            session.commit()
        for name, amount in STAKES.items():
            people[name].api().stake_increase(str(amount), people[name].model_id)
        _submit(home, 1, people, seed=1)
        tournament.close_round(early=True)
        tournament.resolve(1)
        tournament.open_round()
        _submit(home, 2, people, seed=2)
        tournament.close_round(early=True)
        tournament.score_next_day(2)
        tournament.open_round()
        _submit(home, 3, {"a": people["a"]}, seed=3)
        _spread_over_days(engine, people)
        yield World(running, people, engine)
    finally:
        numerapi.base_api.API_TOURNAMENT_URL = previous
        stop_server(running)
        engine.dispose()


def _spread_over_days(engine: Engine, people: dict[str, Participant]) -> None:
    """Date round 1's days 1 and 2 back to the two days before, and models a and b a week back."""
    with Session(engine) as session:
        first = rounds.get_round(session, 1)
        for row in session.scalars(select(RoundDay).where(RoundDay.round_id == first.id)):
            row.scored_at -= timedelta(days=DAYS - row.day)
        for name in ("a", "b"):
            session.scalars(select(Model).where(Model.name == people[name].model)).one().created_at -= (
                timedelta(days=7)
            )
        session.commit()


def _api() -> numerapi.NumerAPI:
    return numerapi.NumerAPI(show_progress_bars=False, verbosity="error")


def _model(session: Session, person: Participant) -> Model:
    return session.scalars(select(Model).where(Model.name == person.model)).one()


def _percentile(values: list[float], mine: float) -> float:
    below = sum(v < mine for v in values)
    equal = sum(v == mine for v in values)
    return (below + equal / 2) / len(values)


# --- submission_scores -----------------------------------------------------------


def test_submission_scores_equal_the_database(world: World) -> None:
    person = world.people["a"]
    got = _api().submission_scores(person.model_id)
    with world.session() as session:
        model = _model(session, person)
        rows = session.execute(
            select(Score, Round, RoundDay.scored_at)
            .join(Round, Round.id == Score.round_id)
            .join(RoundDay, (RoundDay.round_id == Score.round_id) & (RoundDay.day == Score.day))
            .where(Score.model_id == model.id)
        ).all()
        everyone = session.scalars(select(Score)).all()
        assert len(rows) == DAYS + 1
        assert len(got) == len(rows) * len(DISPLAY_NAMES)
        by_key = {(r["roundNumber"], r["day"], r["displayName"]): r for r in got}
        for score, round, scored_at in rows:
            for metric, name in DISPLAY_NAMES.items():
                row = by_key[(round.number, score.day, name)]
                assert row["value"] == pytest.approx(getattr(score, metric), rel=0, abs=0)
                assert row["version"] == "1"
                assert row["date"] == scored_at
                assert row["resolveDate"] == row["roundResolveTime"] == rounds.scoring_day_due(round, DAYS)
                assert row["roundScoreTime"] == rounds.scoring_day_due(round, 1)
                assert row["roundCloseStakingTime"] == round.closes_at
                assert row["resolved"] is (round.number == 1)
                assert row["roundId"] == str(round.number)
                same_day = [getattr(s, metric) for s in everyone
                            if s.round_id == round.id and s.day == score.day]
                expected = _percentile([v for v in same_day if v is not None], getattr(score, metric))
                assert 0 <= row["percentile"] <= 1
                assert row["percentile"] == pytest.approx(expected)
    assert [(r["roundNumber"], r["day"]) for r in got] == sorted((r["roundNumber"], r["day"]) for r in got)


def test_submission_scores_filters(world: World) -> None:
    api, model_id = _api(), world.people["b"].model_id
    corr = api.submission_scores(model_id, display_name="v2_corr20")
    assert {r["displayName"] for r in corr} == {"v2_corr20"} and len(corr) == DAYS + 1
    assert {(r["roundNumber"], r["day"]) for r in api.submission_scores(model_id, day=2)} == {(1, 2)}
    assert {r["roundNumber"] for r in api.submission_scores(model_id, resolved=True)} == {1}
    assert {r["roundNumber"] for r in api.submission_scores(model_id, resolved=False)} == {2}
    assert {r["roundNumber"] for r in api.submission_scores(model_id, last_n_rounds=1)} == {2}
    assert api.submission_scores(model_id, last_n_rounds=0) == []
    latest = api.submission_scores(model_id, display_name="mmc", distinct_on_round=True)
    assert [(r["roundNumber"], r["day"]) for r in latest] == [(1, DAYS), (2, 1)]
    resolved_latest = api.submission_scores(model_id, resolved=True, distinct_on_round=True)
    assert {(r["roundNumber"], r["day"]) for r in resolved_latest} == {(1, DAYS)}
    assert len(resolved_latest) == len(DISPLAY_NAMES)
    assert api.submission_scores(model_id, version="1") == api.submission_scores(model_id)


def test_submission_scores_bad_input_is_a_clear_error(world: World) -> None:
    api = _api()
    missing = str(uuid.uuid4())
    with pytest.raises(ValueError, match=f"no model with id '{missing}'"):
        api.submission_scores(missing)
    with pytest.raises(ValueError, match="is not a model id"):
        api.submission_scores("nope")
    model_id = world.people["a"].model_id
    with pytest.raises(ValueError, match=r"displayName 'corr20' is not one of 'v2_corr20'"):
        api.submission_scores(model_id, display_name="corr20")
    with pytest.raises(ValueError, match="version '2' does not exist"):
        api.submission_scores(model_id, version="2")
    with pytest.raises(ValueError, match="lastNRounds -1 must not be negative"):
        api.submission_scores(model_id, last_n_rounds=-1)
    with pytest.raises(ValueError, match="day 0 must be a scoring day"):
        api.submission_scores(model_id, day=0)


# --- round_model_performances_v2 / intra_round_scores ----------------------------


def _latest_scores(session: Session, model: Model, round_number: int) -> Score:
    round = rounds.get_round(session, round_number)
    return session.scalars(
        select(Score).where(Score.model_id == model.id, Score.round_id == round.id)
        .order_by(Score.day.desc()).limit(1)
    ).one()


def _stake_at_risk(session: Session, model: Model, round_number: int) -> Decimal:
    round = rounds.get_round(session, round_number)
    return session.scalar(select(RoundStake.stake_at_risk).where(
        RoundStake.model_id == model.id, RoundStake.round_id == round.id))


def _factor(session: Session, round_number: int) -> Decimal:
    round = rounds.get_round(session, round_number)
    total = sum(stakes.frozen_stakes(session, round).values(), Decimal(0))
    return payouts.payout_factor(total)


def test_round_model_performances_v2(world: World) -> None:
    person = world.people["a"]
    with pytest.warns(DeprecationWarning):
        got = _api().round_model_performances_v2(person.model_id)
    assert [p["roundNumber"] for p in got] == [3, 2, 1]
    open_, pending, settled = got
    assert open_["atRisk"] is None and open_["roundPayoutFactor"] is None
    assert open_["submissionScores"] == [] and open_["roundResolved"] is False
    with world.session() as session:
        model = _model(session, person)
        [payout] = session.scalars(select(RoundPayout).where(RoundPayout.model_id == model.id)).all()
        assert settled["roundResolved"] is True and pending["roundResolved"] is False
        assert settled["atRisk"] == STAKES["a"]  # round 1's payout adds to the stake of round 2
        assert pending["atRisk"] == _stake_at_risk(session, model, 2) == STAKES["a"] + payout.amount
        # numerapi leaves the factor a decimal string
        assert Decimal(settled["roundPayoutFactor"]) == Decimal(pending["roundPayoutFactor"]) == 1
        assert settled["roundTarget"] == "target"
        assert {m["name"]: m["multiplier"] for m in settled["payoutMultipliers"]} == {"corr": 0.5, "mmc": 2.0}
        assert {s["day"] for s in settled["submissionScores"]} == {DAYS}
        assert {s["payoutSettled"] for s in settled["submissionScores"]} == {payout.amount}
        assert {s["payoutPending"] for s in settled["submissionScores"]} == {None}
        latest = _latest_scores(session, model, 2)
        expected = payouts.payout_amount(pending["atRisk"], latest.corr, latest.mmc, "corr+mmc",
                                         _factor(session, 2))
        assert {s["payoutPending"] for s in pending["submissionScores"]} == {expected}
        corr_row = next(s for s in pending["submissionScores"] if s["displayName"] == "v2_corr20")
        assert corr_row["value"] == latest.corr and corr_row["day"] == 1


def test_performances_of_an_unstaked_model_and_a_corr_only_model(world: World) -> None:
    with pytest.warns(DeprecationWarning):
        unstaked = _api().round_model_performances_v2(world.people["c"].model_id)
    assert [p["atRisk"] for p in unstaked] == [None, None]
    for p in unstaked:
        assert {(s["payoutPending"], s["payoutSettled"]) for s in p["submissionScores"]} == {(None, None)}
    with pytest.warns(DeprecationWarning):
        corr_only = _api().round_model_performances_v2(world.people["b"].model_id)
    assert [m["name"] for m in corr_only[0]["payoutMultipliers"]] == ["corr"]
    with pytest.raises(ValueError, match="no model with id"), pytest.warns(DeprecationWarning):
        _api().round_model_performances_v2(str(uuid.uuid4()))


def test_intra_round_scores_hold_every_day(world: World) -> None:
    got = _api().intra_round_scores(world.people["a"].model_id)
    days = {p["roundNumber"]: sorted({s["day"] for s in p["intraRoundSubmissionScores"]}) for p in got}
    assert days == {1: list(range(1, DAYS + 1)), 2: [1], 3: []}
    scores = _api().submission_scores(world.people["a"].model_id)
    values = {(r["roundNumber"], r["day"], r["displayName"]): r["value"] for r in scores}
    for p in got:
        for s in p["intraRoundSubmissionScores"]:
            assert s["value"] == values[(p["roundNumber"], s["day"], s["displayName"])]


# --- pending_model_payouts -------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "b"])
def test_pending_model_payouts(world: World, name: str) -> None:
    person = world.people[name]
    got = person.api().pending_model_payouts()
    with world.session() as session:
        model = _model(session, person)
        [payout] = session.scalars(select(RoundPayout).where(RoundPayout.model_id == model.id)).all()
        [actual] = got["actual"]
        assert actual["roundNumber"] == 1 and actual["modelId"] == person.model_id
        assert actual["modelName"] == person.model
        assert actual["payoutNmr"] == actual["payoutValue"] == payout.amount
        assert actual["currencySymbol"] == "NMR"
        latest = _latest_scores(session, model, 2)
        stake = _stake_at_risk(session, model, 2)
        assert stake == STAKES[name] + payout.amount
        expected = payouts.payout_amount(stake, latest.corr, latest.mmc, str(model.payout_basis),
                                         _factor(session, 2))
        [pending] = got["pending"]
        assert pending["roundNumber"] == 2 and pending["payoutNmr"] == expected
        assert pending["roundResolveTime"] == rounds.scoring_day_due(rounds.get_round(session, 2), DAYS)


def test_pending_model_payouts_of_an_unstaked_model_are_empty(world: World) -> None:
    assert world.people["c"].api().pending_model_payouts() == {"actual": [], "pending": []}
    with pytest.raises(ValueError, match="tournament 11 does not exist"):
        world.people["c"].api().pending_model_payouts(tournament=11)


# --- leaderboards ----------------------------------------------------------------


def _rep(value: float) -> float | None:
    return None if np.isnan(value) else value


def test_leaderboard_equals_the_domain_board(world: World) -> None:
    got = _api().get_leaderboard(limit=100)
    with world.session() as session:
        board = leaderboard.model_leaderboard(session)
    assert [(e["rank"], e["username"]) for e in got] == [(r.rank, r.name) for r in board]
    for entry, row in zip(got, board, strict=True):
        assert entry["nmrStaked"] == row.stake
        assert entry["corr20Rep"] == entry["corr20V2Rep"] == _rep(row.corr_rep)
        assert entry["mmcRep"] == _rep(row.mmc_rep) and entry["bmcRep"] == _rep(row.bmc_rep)
        assert entry["fncRep"] == entry["fncV3Rep"] == _rep(row.fnc_rep)
        assert entry["tcRep"] is None and entry["team"] is False
    assert {e["username"] for e in got} >= {p.model for p in world.people.values()}
    page = _api().get_leaderboard(limit=1, offset=1)
    assert [(e["rank"], e["username"]) for e in page] == [(got[1]["rank"], got[1]["username"])]


def test_account_leaderboard_equals_the_domain_board(world: World) -> None:
    got = _api().get_account_leaderboard(limit=100)
    with world.session() as session:
        board = leaderboard.account_leaderboard(session)
    assert [(e["rank"], e["username"]) for e in got] == [(r.rank, r.name) for r in board]
    for entry, row in zip(got, board, strict=True):
        assert entry["nmrStaked"] == row.stake
        assert entry["v2Corr20"] == entry["corrV4"] == _rep(row.corr_rep)
        assert entry["mmc"] == _rep(row.mmc_rep) and entry["fncV4"] == _rep(row.fnc_rep)
        assert entry["returnAllTimeNmr"] == row.net
        assert entry["returnAllTime"] == _rep(row.return_on_stake)
    assert {e["username"] for e in got} >= {p.account for p in world.people.values()}


@pytest.mark.parametrize(
    ("limit", "offset", "message"),
    [(-1, 0, "limit -1 must be between 0 and 1000"), (1001, 0, "limit 1001 must be between"),
     (10, -5, "offset -5 must not be negative")],
)
def test_bad_pages_are_clear_errors(world: World, limit: int, offset: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _api().get_leaderboard(limit=limit, offset=offset)
    with pytest.raises(ValueError, match=message):
        _api().get_account_leaderboard(limit=limit, offset=offset)


# --- daily_model_performances ----------------------------------------------------


@pytest.mark.parametrize("name", ["a", "c"])
def test_daily_model_performances_one_entry_per_scored_date(world: World, name: str) -> None:
    person = world.people[name]
    got = _api().daily_model_performances(person.model)
    with world.session() as session:
        model = _model(session, person)
        first = rounds.get_round(session, 1)
        days = session.execute(select(RoundDay.round_id, RoundDay.day, RoundDay.scored_at)).all()
        board = leaderboard.model_leaderboard(session)
    resolved_on = next(at.date() for rid, day, at in days if rid == first.id and day == DAYS)
    dates = sorted({at.date() for *_, at in days if at.date() >= model.created_at.date()})
    assert [e["date"].date() for e in got] == dates
    assert len(dates) >= (3 if name == "a" else 1)
    assert all(e["date"].hour == 0 and e["date"].tzinfo is not None for e in got)
    for entry in got:
        assert entry["fncV3Rep"] == entry["fncRep"] and entry["fncV3Rank"] == entry["fncRank"]
        assert entry["tcRep"] is None and entry["tcRank"] is None
        if entry["date"].date() < resolved_on:  # no round resolved yet: no reputation
            assert {entry[f"{m}{k}"] for m in ("corr", "mmc", "fnc") for k in ("Rep", "Rank")} == {None}
            continue
        for metric in ("corr", "mmc", "fnc"):  # round 1 resolved: the board as it stands now
            row = next(r for r in leaderboard.ranked(board, metric) if r.name == person.model)
            assert entry[f"{metric}Rep"] == pytest.approx(row.rep(metric))
            assert entry[f"{metric}Rank"] == row.rank


def test_daily_model_performances_of_an_unknown_model_is_a_clear_error(world: World) -> None:
    with pytest.raises(ValueError, match="model 'nobody' does not exist"):
        _api().daily_model_performances("nobody")

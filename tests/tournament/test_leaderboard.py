"""Leaderboards read from the database, checked against answers worked out by hand."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from crowdalpha.tournament import accounts, leaderboard, models, stakes
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.errors import InvalidValueError
from crowdalpha.tournament.leaderboard import (
    ModelRow,
    account_leaderboard,
    final_scores,
    model_leaderboard,
    stake_weighted_reputation,
)
from crowdalpha.tournament.reputation import reputation
from crowdalpha.tournament.tables import (
    Account,
    Model,
    ModelKind,
    PayoutBasis,
    Round,
    RoundPayout,
    RoundStatus,
    Score,
    Submission,
)

from . import factories

DAYS = 3  # scoring days of every round here; the final score is day 3's
PEN = -0.01  # missing-round penalty used where a test wants to see it
SORT_KEYS_TEXT = "'corr', 'mmc', 'bmc', 'fnc', 'stake', 'return'"


# --- builders: ORM rows inserted directly -------------------------------------------


def add_round(
    session: Session,
    clock: ReplayClock,
    number: int,
    status: RoundStatus = RoundStatus.RESOLVED,
) -> Round:
    opens = clock.now() + timedelta(days=7 * number)
    made = Round(
        number=number,
        era=f"{number:04d}",
        opens_at=opens,
        closes_at=opens + timedelta(days=2),
        resolves_after_days=DAYS,
        status=status,
        scoring_day=DAYS if status == RoundStatus.RESOLVED else 1,
        created_at=opens,
    )
    session.add(made)
    session.flush()
    return made


def add_rounds(session: Session, clock: ReplayClock, n: int) -> dict[int, Round]:
    return {number: add_round(session, clock, number) for number in range(1, n + 1)}


def add_scores(
    session: Session,
    model: Model,
    round_: Round,
    corr: float | None,
    mmc: float | None = 0.0,
    bmc: float | None = 0.0,
    fnc: float | None = 0.0,
    *,
    days: int = DAYS,
    late: bool = False,
    minutes: int = 0,
) -> Submission:
    """A submission scored on days 1..``days``; the given values are day ``days``'s.

    Earlier days carry other values (1.0), so reading a wrong day shows.
    """
    sub = Submission(
        model_id=model.id,
        round_id=round_.id,
        path=f"submissions/{round_.number}/{model.name}/{minutes}-{late}.parquet",
        rows=100,
        created_at=round_.opens_at + timedelta(minutes=minutes),
        late=late,
        valid=True,
    )
    session.add(sub)
    session.flush()
    for day in range(1, days + 1):
        last = day == days
        session.add(
            Score(
                submission_id=sub.id,
                day=day,
                round_id=round_.id,
                model_id=model.id,
                corr=corr if last else 1.0,
                mmc=mmc if last else 1.0,
                bmc=bmc if last else 1.0,
                fnc=fnc if last else 1.0,
                fe_max=0.2,
                fe_rms=0.1,
            )
        )
    session.flush()
    return sub


def add_payout(
    session: Session, model: Model, round_: Round, amount: str, at_risk: str = "100"
) -> None:
    session.add(
        RoundPayout(
            round_id=round_.id,
            model_id=model.id,
            submission_id=None,
            stake_at_risk=Decimal(at_risk),
            corr=0.0,
            mmc=0.0,
            payout_basis=PayoutBasis.CORR,
            payout_factor="1",
            amount=Decimal(amount),
            entry_id=None,
        )
    )
    session.flush()


def model(session: Session, clock: ReplayClock, owner: Account, name: str, **kw: Any) -> Model:
    return models.create_model(session, owner, name, clock=clock, **kw)


def by_name(rows: list[ModelRow]) -> dict[str, ModelRow]:
    return {row.name: row for row in rows}


def same(got: float, expected: float) -> bool:
    return (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected, abs=1e-12)


@contextmanager
def count_queries(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = session.get_bind().engine

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def alice(session: Session, clock: ReplayClock) -> Account:
    return factories.account(session, clock, "alice", funds="1000")


# --- final scores -----------------------------------------------------------------


def test_final_scores_are_the_last_day_of_resolved_rounds(
    session: Session, clock: ReplayClock, alice: Account
) -> None:
    rounds = add_rounds(session, clock, 2)
    scoring = add_round(session, clock, 3, RoundStatus.SCORING)
    a = model(session, clock, alice, "a")
    b = model(session, clock, alice, "b")
    add_scores(session, a, rounds[1], 0.01, fnc=None)
    add_scores(session, a, rounds[2], 0.02)
    add_scores(session, b, rounds[2], -0.03)
    add_scores(session, a, scoring, 0.5, days=1)  # not resolved: not a final score
    frame = final_scores(session)
    assert list(frame.columns) == ["model_id", "round_number", "value"]
    assert frame.to_dict("records") == [
        {"model_id": a.id, "round_number": 1, "value": 0.01},
        {"model_id": a.id, "round_number": 2, "value": 0.02},
        {"model_id": b.id, "round_number": 2, "value": -0.03},
    ]
    fnc = final_scores(session, "fnc")
    assert math.isnan(fnc["value"].iloc[0])  # not computable: NaN, still listed
    assert final_scores(session, "fe_max")["value"].tolist() == [0.2, 0.2, 0.2]
    assert final_scores(session, now_round=1)["round_number"].tolist() == [1]


def test_final_scores_of_an_empty_tournament(session: Session) -> None:
    frame = final_scores(session, "mmc")
    assert frame.empty
    assert list(frame.columns) == ["model_id", "round_number", "value"]


def test_final_scores_refuses_an_unknown_metric(session: Session) -> None:
    with pytest.raises(
        InvalidValueError,
        match=r"^invalid_value: metric 'sharpe' is not one of 'corr', 'mmc', 'bmc', 'fnc', "
        r"'fe_max', 'fe_rms'$",
    ):
        final_scores(session, "sharpe")


def test_the_submission_scored_to_the_final_day_counts(
    session: Session, clock: ReplayClock, alice: Account
) -> None:
    rounds = add_rounds(session, clock, 2)
    a = model(session, clock, alice, "a")
    # Round 1: the first submission was scored two days only, then replaced.
    add_scores(session, a, rounds[1], 0.9, days=DAYS - 1)
    add_scores(session, a, rounds[1], 0.01, minutes=5)
    # Round 2 (never written by the scoring job): three submissions with final-day rows.
    # On time beats late, then the latest counts, as in submissions.COUNTED_FIRST.
    add_scores(session, a, rounds[2], 0.7, minutes=1)
    add_scores(session, a, rounds[2], 0.02, minutes=2)
    add_scores(session, a, rounds[2], 0.8, minutes=3, late=True)
    frame = final_scores(session)
    assert frame["value"].tolist() == [0.01, 0.02]
    row = by_name(model_leaderboard(session))["a"]
    assert row.corr_rep == pytest.approx(0.015)
    assert row.rounds_scored == 2


def test_a_duplicate_before_the_window_is_settled_like_any_other(
    session: Session, clock: ReplayClock, alice: Account
) -> None:
    rounds = add_rounds(session, clock, 4)
    a = model(session, clock, alice, "a")
    b = model(session, clock, alice, "b")
    add_scores(session, a, rounds[1], 0.05, minutes=1)  # superseded by the next one
    add_scores(session, a, rounds[1], None, minutes=2)  # counts: CORR not computable
    add_scores(session, a, rounds[2], 0.02)  # so a's first CORR is round 2's
    add_scores(session, a, rounds[4], 0.04)
    add_scores(session, b, rounds[2], 0.01)
    rows = by_name(model_leaderboard(session, window=2, missing_penalty=PEN))
    assert rows["a"].corr_rep == pytest.approx((PEN + 0.04) / 2)  # rounds 3 and 4
    assert rows["a"].rounds_scored == 3
    assert rows["b"].corr_rep == pytest.approx(PEN)
    assert final_scores(session)["value"].tolist()[:2] == [
        pytest.approx(math.nan, nan_ok=True),
        0.02,
    ]


# --- model reputation -------------------------------------------------------------


@pytest.fixture
def scored(session: Session, clock: ReplayClock, alice: Account) -> dict[str, Model]:
    """Five resolved rounds; a scores in all, b in 1, 3, 5, c from round 4 (new), d never,
    e in round 1 only."""
    rounds = add_rounds(session, clock, 5)
    made = {name: model(session, clock, alice, name) for name in "abcde"}
    for n in range(1, 6):
        add_scores(session, made["a"], rounds[n], n / 100, mmc=-n / 100)
    for n in (1, 3, 5):
        add_scores(session, made["b"], rounds[n], (n + 1) / 100, bmc=None)
    add_scores(session, made["c"], rounds[4], 0.05, fnc=None)
    add_scores(session, made["c"], rounds[5], 0.07, fnc=0.02)
    add_scores(session, made["e"], rounds[1], 0.09)
    return made


def test_reputation_by_hand(session: Session, scored: dict[str, Model]) -> None:
    rows = by_name(model_leaderboard(session, missing_penalty=PEN))
    assert rows["a"].corr_rep == pytest.approx(0.03)  # (1+2+3+4+5)/5 %
    assert rows["a"].mmc_rep == pytest.approx(-0.03)
    # b: rounds 2 and 4 missing count as the penalty: (2 - 1 + 4 - 1 + 6) / 5 %
    assert rows["b"].corr_rep == pytest.approx(0.02)
    assert math.isnan(rows["b"].bmc_rep)  # never computable: not scored on BMC
    # c started in round 4: rounds 1-3 are not held against it
    assert rows["c"].corr_rep == pytest.approx(0.06)
    # c's FNC was not computable in round 4: its FNC window starts at round 5
    assert rows["c"].fnc_rep == pytest.approx(0.02)
    assert all(math.isnan(rows["d"].rep(m)) for m in leaderboard.METRICS)
    # e: scored once, then missing four rounds
    assert rows["e"].corr_rep == pytest.approx((0.09 + 4 * PEN) / 5)
    assert [rows[n].rounds_scored for n in "abcde"] == [5, 3, 2, 0, 1]
    assert rows["a"].account == "alice"
    assert rows["a"].kind == ModelKind.PARTICIPANT


def test_default_penalty_is_zero(session: Session, scored: dict[str, Model]) -> None:
    rows = by_name(model_leaderboard(session))
    assert rows["b"].corr_rep == pytest.approx((0.02 + 0.04 + 0.06) / 5)
    assert rows["e"].corr_rep == pytest.approx(0.09 / 5)


def test_window_keeps_the_last_resolved_rounds(session: Session, scored: dict[str, Model]) -> None:
    rows = by_name(model_leaderboard(session, window=3, missing_penalty=PEN))
    assert rows["a"].corr_rep == pytest.approx(0.04)  # rounds 3, 4, 5
    assert rows["b"].corr_rep == pytest.approx((0.04 + PEN + 0.06) / 3)
    assert rows["c"].corr_rep == pytest.approx(0.06)  # rounds 4, 5
    assert rows["e"].corr_rep == pytest.approx(PEN)  # scored before the window only
    assert rows["e"].rounds_scored == 1  # all history
    one = by_name(model_leaderboard(session, window=1, missing_penalty=PEN))
    assert [one[n].corr_rep for n in "abce"] == pytest.approx([0.05, 0.06, 0.07, PEN])


def test_now_round_shows_the_board_as_it_stood(session: Session, scored: dict[str, Model]) -> None:
    rows = by_name(model_leaderboard(session, missing_penalty=PEN, now_round=3))
    assert rows["a"].corr_rep == pytest.approx(0.02)
    assert rows["b"].corr_rep == pytest.approx((0.02 + PEN + 0.04) / 3)
    assert math.isnan(rows["c"].corr_rep)  # not scored yet then
    assert [rows[n].rounds_scored for n in "abce"] == [3, 2, 0, 1]


def test_unresolved_rounds_neither_count_nor_penalize(
    session: Session, clock: ReplayClock, scored: dict[str, Model]
) -> None:
    six = add_round(session, clock, 6, RoundStatus.SCORING)
    add_scores(session, scored["a"], six, 0.5)  # all days written, round not resolved yet
    rows = by_name(model_leaderboard(session, missing_penalty=PEN))
    assert rows["a"].corr_rep == pytest.approx(0.03)
    assert rows["b"].corr_rep == pytest.approx(0.02)


def test_reputations_equal_the_rule_over_all_final_scores(
    session: Session, clock: ReplayClock, alice: Account
) -> None:
    """Random gaps and NULLs, windows shorter than the history: same as ``reputation()``
    over every final score (the board reads only the rows that rule depends on)."""
    rng = random.Random(7)

    def value() -> float | None:
        return None if rng.random() < 0.2 else round(rng.gauss(0, 0.03), 6)

    rounds = add_rounds(session, clock, 9)
    owner = factories.account(session, clock, "many")
    made = [model(session, clock, alice if i < 5 else owner, f"m{i:02d}") for i in range(12)]
    for m in made:
        start = rng.randint(1, 9)
        for n in range(start, 10):
            if rng.random() < 0.3:
                continue
            add_scores(session, m, rounds[n], value(), value(), value(), value())
    resolved = list(range(1, 10))
    full = {
        metric: {
            model_id: dict(zip(group["round_number"], group["value"], strict=True))
            for model_id, group in final_scores(session, metric).groupby("model_id")
        }
        for metric in leaderboard.METRICS
    }
    for window in (1, 3, 5, 52):
        for row in model_leaderboard(session, window=window, missing_penalty=PEN):
            for metric in leaderboard.METRICS:
                expected = reputation(
                    full[metric].get(row.model_id, {}), resolved, window, missing_penalty=PEN
                )
                assert same(row.rep(metric), expected), (window, row.name, metric)


# --- money ------------------------------------------------------------------------


def test_stake_and_payout_totals(session: Session, clock: ReplayClock, alice: Account) -> None:
    rounds = add_rounds(session, clock, 3)
    a = factories.staked_model(session, clock, alice, "a", stake="250.5")
    model(session, clock, alice, "b")
    add_payout(session, a, rounds[1], "3")
    add_payout(session, a, rounds[2], "-2.25", at_risk="200")
    add_payout(session, a, rounds[3], "1.000000001")
    rows = by_name(model_leaderboard(session))
    assert rows["a"].stake == Decimal("250.5") == stakes.stake_now(session, a)
    assert rows["a"].paid == Decimal("4.000000001")
    assert rows["a"].burned == Decimal("2.25")
    assert rows["a"].net == Decimal("1.750000001")
    assert rows["a"].at_risk == Decimal(400)
    assert rows["a"].return_on_stake == pytest.approx(1.750000001 / 400)
    assert (rows["b"].stake, rows["b"].paid, rows["b"].burned, rows["b"].net) == (0, 0, 0, 0)
    assert math.isnan(rows["b"].return_on_stake)  # nothing ever at risk
    then = by_name(model_leaderboard(session, now_round=2))["a"]
    assert (then.paid, then.burned, then.at_risk) == (3, Decimal("2.25"), 300)
    assert then.stake == Decimal("250.5")  # the stake is always today's


def test_stake_follows_decreases_and_payouts(
    session: Session, clock: ReplayClock, alice: Account
) -> None:
    a = factories.staked_model(session, clock, alice, "a", stake="100")
    stakes.decrease_stake(session, a, 30, by=alice, clock=clock, at_risk_until_round=1)
    stakes.payout(session, a, "5", round_number=1, clock=clock)
    stakes.burn(session, a, "1", round_number=1, clock=clock)
    assert by_name(model_leaderboard(session))["a"].stake == Decimal(74)
    assert stakes.stake_now(session, a) == Decimal(74)


# --- order ------------------------------------------------------------------------


@pytest.fixture
def board(session: Session, clock: ReplayClock, alice: Account) -> dict[str, Model]:
    """Two rounds: 'zed' and 'amy' tie on CORR, 'nan' is unscored, 'low' is last on CORR."""
    rounds = add_rounds(session, clock, 2)
    made = {
        "zed": factories.staked_model(session, clock, alice, "zed", stake="10"),
        "amy": factories.staked_model(session, clock, alice, "amy", stake="30"),
        "low": factories.staked_model(session, clock, alice, "low", stake="20"),
        "nan": factories.staked_model(session, clock, alice, "nan", stake="40"),
    }
    for n in (1, 2):
        add_scores(session, made["zed"], rounds[n], 0.02, mmc=0.01)
        add_scores(session, made["amy"], rounds[n], 0.02, mmc=-0.01)
        add_scores(session, made["low"], rounds[n], -0.01, mmc=0.03)
    add_payout(session, made["zed"], rounds[1], "1")
    add_payout(session, made["amy"], rounds[1], "-1")
    add_payout(session, made["low"], rounds[1], "2")
    return made


@pytest.mark.parametrize(
    ("sort_by", "order"),
    [
        ("corr", ["amy", "zed", "low", "nan"]),  # tie by name, NaN last
        ("mmc", ["low", "zed", "amy", "nan"]),
        ("bmc", ["amy", "low", "zed", "nan"]),  # all 0: by name
        ("fnc", ["amy", "low", "zed", "nan"]),
        ("stake", ["nan", "amy", "low", "zed"]),
        ("return", ["low", "zed", "amy", "nan"]),  # 'nan' had nothing at risk
    ],
)
def test_sort_orders(
    session: Session, board: dict[str, Model], sort_by: str, order: list[str]
) -> None:
    rows = model_leaderboard(session, sort_by=sort_by)
    assert [r.name for r in rows] == order
    assert [r.rank for r in rows] == [1, 2, 3, 4]


def test_unknown_sort_key_names_the_valid_ones(session: Session) -> None:
    message = rf"^invalid_value: leaderboard sort_by 'sharpe' is not one of {SORT_KEYS_TEXT}$"
    with pytest.raises(InvalidValueError, match=message):
        model_leaderboard(session, sort_by="sharpe")
    with pytest.raises(InvalidValueError, match=message):
        account_leaderboard(session, sort_by="sharpe")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"window": 0}, r"reputation window must be at least 1 round, got 0"),
        ({"missing_penalty": math.nan}, r"missing_penalty nan must be a finite number"),
        ({"now_round": -1}, r"now_round -1 must be a non-negative round number"),
    ],
)
def test_bad_settings_are_refused(
    session: Session, settings: dict[str, float], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        model_leaderboard(session, **settings)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match=message):
        account_leaderboard(session, **settings)  # type: ignore[arg-type]


def test_kinds_filter_and_operator_models(
    session: Session, clock: ReplayClock, alice: Account
) -> None:
    rounds = add_rounds(session, clock, 1)
    operator = accounts.ensure_operator(session, clock=clock)
    bench = model(session, clock, operator, "bench", kind="benchmark")
    mine = model(session, clock, alice, "mine")
    add_scores(session, bench, rounds[1], 0.03)
    add_scores(session, mine, rounds[1], 0.01)
    assert [r.name for r in model_leaderboard(session)] == ["bench", "mine"]
    only = model_leaderboard(session, kinds=["participant"])
    assert [(r.name, r.rank) for r in only] == [("mine", 1)]
    assert model_leaderboard(session, kinds=[ModelKind.BENCHMARK])[0].kind == ModelKind.BENCHMARK
    with pytest.raises(InvalidValueError, match=r"model kind 'robot' is not one of"):
        model_leaderboard(session, kinds=["robot"])


# --- accounts ---------------------------------------------------------------------


def test_stake_weighted_reputation_by_hand() -> None:
    d = Decimal
    assert stake_weighted_reputation([0.01, 0.05], [d(300), d(100)]) == pytest.approx(0.02)
    assert stake_weighted_reputation([0.01, 0.05], [d(0), d(0)]) == pytest.approx(0.03)
    assert stake_weighted_reputation([0.01, math.nan], [d(1), d(99)]) == pytest.approx(0.01)
    assert stake_weighted_reputation([0.01, 0.04], [d(0), d(5)]) == pytest.approx(0.04)
    assert math.isnan(stake_weighted_reputation([math.nan], [d(5)]))
    assert math.isnan(stake_weighted_reputation([], []))
    with pytest.raises(InvalidValueError, match=r"differ in length: 2 and 1"):
        stake_weighted_reputation([0.1, 0.2], [d(1)])


def test_account_leaderboard(session: Session, clock: ReplayClock, alice: Account) -> None:
    rounds = add_rounds(session, clock, 1)
    bob = factories.account(session, clock, "bob")
    carol = factories.account(session, clock, "carol", funds="100")
    factories.account(session, clock, "dave")  # no models
    operator = accounts.ensure_operator(session, clock=clock)
    a1 = factories.staked_model(session, clock, alice, "a1", stake="300")
    a2 = factories.staked_model(session, clock, alice, "a2", stake="100")
    b1, b2 = model(session, clock, bob, "b1"), model(session, clock, bob, "b2")
    c1 = factories.staked_model(session, clock, carol, "c1", stake="10")
    factories.staked_model(session, clock, carol, "c2", stake="90")  # never scored
    bench = model(session, clock, operator, "bench", kind="benchmark")
    for m, corr in ((a1, 0.01), (a2, 0.05), (b1, 0.02), (b2, 0.06), (c1, 0.04), (bench, 0.9)):
        add_scores(session, m, rounds[1], corr)
    add_payout(session, a1, rounds[1], "2", at_risk="300")
    add_payout(session, a2, rounds[1], "-1", at_risk="100")
    add_payout(session, c1, rounds[1], "0.5", at_risk="10")
    rows = account_leaderboard(session)
    assert [(r.rank, r.name) for r in rows] == [(1, "bob"), (2, "carol"), (3, "alice"), (4, "dave")]
    got = {r.name: r for r in rows}
    assert got["alice"].corr_rep == pytest.approx((300 * 0.01 + 100 * 0.05) / 400)
    assert got["bob"].corr_rep == pytest.approx(0.04)  # nothing staked: equal weights
    assert got["carol"].corr_rep == pytest.approx(0.04)  # c2's NaN left out, stake and all
    assert math.isnan(got["dave"].corr_rep)
    assert [got[n].models for n in ("alice", "bob", "carol", "dave")] == [2, 2, 2, 0]
    assert got["alice"].stake == Decimal(400)
    assert (got["alice"].paid, got["alice"].burned, got["alice"].net) == (2, 1, 1)
    assert got["alice"].at_risk == Decimal(400)
    assert got["alice"].return_on_stake == pytest.approx(1 / 400)
    assert got["carol"].return_on_stake == pytest.approx(0.05)
    assert math.isnan(got["bob"].return_on_stake)
    assert "operator" not in got
    by_stake = account_leaderboard(session, sort_by="stake")
    assert [r.name for r in by_stake] == ["alice", "carol", "bob", "dave"]
    assert [r.name for r in account_leaderboard(session, sort_by="return")] == [
        "carol",
        "alice",
        "bob",
        "dave",
    ]


# --- cost -------------------------------------------------------------------------


def _crowd(session: Session, clock: ReplayClock, n_models: int, n_rounds: int) -> None:
    owner = factories.account(session, clock, f"crowd{n_models}")
    rounds = add_rounds(session, clock, n_rounds)
    for i in range(n_models):
        m = model(session, clock, owner, f"m{n_models}_{i}", max_models=10_000)
        for n in range(1 + i % 2, n_rounds + 1):
            add_scores(session, m, rounds[n], 0.01 * i, days=1 if n == n_rounds else DAYS)
        add_payout(session, m, rounds[1], "1")


@pytest.mark.parametrize("n_models", [3, 30])
def test_a_fixed_handful_of_queries_whatever_the_number_of_models(
    session: Session, clock: ReplayClock, n_models: int
) -> None:
    _crowd(session, clock, n_models, 4)
    session.flush()
    with count_queries(session) as statements:
        rows = model_leaderboard(session, window=2)
    assert len(rows) == n_models
    assert len(statements) <= 7, statements
    with count_queries(session) as statements:
        account_leaderboard(session, window=2)
    assert len(statements) <= 8, statements


# --- public surface ---------------------------------------------------------------


def test_all_lists_the_public_names() -> None:
    module = importlib.import_module("crowdalpha.tournament.leaderboard")
    assert [n for n in module.__all__ if not hasattr(module, n)] == []
    defined_here = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    }
    assert defined_here == set(module.__all__) - {"METRICS", "SCORE_METRICS", "SORT_KEYS"}


def test_rows_are_frozen(session: Session, board: dict[str, Model]) -> None:
    row = model_leaderboard(session)[0]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'rank'"):
        row.rank = 5  # type: ignore[misc]

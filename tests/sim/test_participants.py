"""Simulated participants: valid predictions every round, sane stakes, a fixed cast per seed."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crowdalpha.sim.participants as participants_module
from crowdalpha.data import layout
from crowdalpha.errors import ConfigError, DataError
from crowdalpha.scoring import score_eras
from crowdalpha.sim.participants import (
    DEFAULT_CAST,
    INTEGRATION_TEST_WEEKDAYS,
    OPERATOR_ACCOUNT,
    QUANTUM,
    Participant,
    StakeAction,
    StakeChange,
    StakeRule,
    StakingPolicy,
    Strategy,
    StrategyKind,
    cast_members,
    make_participants,
    submission_bytes,
)
from crowdalpha.tournament import accounts, tables
from crowdalpha.tournament.rounds import Schedule
from crowdalpha.tournament.submissions import parse_submission

SEED = 3


@pytest.fixture(scope="module")
def cast(small_dataset: Path) -> list[Participant]:
    return make_participants(small_dataset, seed=SEED)


@pytest.fixture(scope="module")
def live(small_dataset: Path) -> pd.DataFrame:
    return layout.read_split(small_dataset, "live")


@pytest.fixture(scope="module")
def live_example(small_dataset: Path) -> pd.Series:
    return pd.read_parquet(small_dataset / layout.LIVE_EXAMPLE_PREDS)[layout.PREDICTION]


def by_kind(cast: list[Participant], kind: StrategyKind) -> Participant:
    return next(p for p in cast if p.kind is kind)


# --- the cast ----------------------------------------------------------------------


def test_default_cast_covers_every_kind_with_one_operator_model(cast: list[Participant]) -> None:
    assert 7 <= len(cast) <= 8
    assert {p.kind for p in cast} == set(StrategyKind)
    operators = [p for p in cast if p.operator]
    assert [(p.name, p.kind) for p in operators] == [(OPERATOR_ACCOUNT, StrategyKind.INTEGRATION_TEST)]
    assert operators[0].staking.rule is StakeRule.NEVER
    assert len({p.name for p in cast}) == len({p.model_name for p in cast}) == len(cast)
    assert all(accounts.NAME_RE.fullmatch(n) for p in cast for n in (p.name, p.model_name))
    # some stake and grow, some withdraw, some never stake
    rules = {p.staking.rule for p in cast}
    assert {StakeRule.NEVER, StakeRule.COMPOUND, StakeRule.CAUTIOUS} <= rules


def test_ridge_is_fitted_once_and_shared(cast: list[Participant]) -> None:
    linears = [p.strategy.linear for p in cast if p.kind in (StrategyKind.LINEAR, StrategyKind.META_COPY)]
    assert len(linears) >= 2
    assert all(m is linears[0] for m in linears)
    assert len(linears[0].features) == 60  # the small preset's medium set


def test_money_constants_match_the_tournament() -> None:
    assert QUANTUM == tables.QUANTUM
    assert OPERATOR_ACCOUNT == accounts.OPERATOR_NAME


def test_module_does_not_import_the_tournament() -> None:
    tree = ast.parse(Path(participants_module.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert not [m for m in imported if m and m.startswith("crowdalpha.tournament")]


# --- predictions -------------------------------------------------------------------


def test_every_participant_submits_valid_predictions(
    cast: list[Participant], live: pd.DataFrame, live_example: pd.Series
) -> None:
    for p in cast:
        predictions = p.predict(live, live_example)
        assert predictions.name == "prediction"
        assert predictions.index.equals(live.index), p.model_name
        assert predictions.notna().all() and predictions.between(0, 1).all(), p.model_name
        assert predictions.nunique() > len(live) // 2, p.model_name
        # what the tournament's own validator makes of the uploaded file
        parsed = parse_submission(submission_bytes(predictions), f"{p.model_name}.csv",
                                  round_number=1, live_ids=live.index)
        pd.testing.assert_series_equal(parsed, predictions, check_index_type=False)


def test_predictions_are_deterministic_per_seed(
    small_dataset: Path, cast: list[Participant], live: pd.DataFrame, live_example: pd.Series
) -> None:
    first = make_participants(small_dataset, seed=11)
    again = make_participants(small_dataset, seed=11)
    other = make_participants(small_dataset, seed=12)
    for a, b in zip(first, again, strict=True):
        assert a.staking == b.staking
        for _ in range(2):  # round after round, not just the first
            pd.testing.assert_series_equal(a.predict(live, live_example), b.predict(live, live_example))
    for kind in (StrategyKind.RANDOM, StrategyKind.META_COPY):
        assert not by_kind(first, kind).predict(live, live_example).equals(
            by_kind(other, kind).predict(live, live_example))
    assert [p.staking for p in first] != [p.staking for p in other]


def test_larger_casts_keep_the_first_participants(small_dataset: Path, cast: list[Participant]) -> None:
    bigger = make_participants(small_dataset, seed=SEED, n=12)
    assert len(bigger) == 12
    assert [(p.name, p.staking) for p in bigger[:len(cast)]] == [(p.name, p.staking) for p in cast]
    assert len({p.name for p in bigger}) == 12
    assert {m.kind for m in cast_members(6)} == set(StrategyKind)
    assert [m.account for m in cast_members(3)] == [m.account for m in DEFAULT_CAST[:3]]
    with pytest.raises(ConfigError, match="number of participants 0"):
        cast_members(0)


def test_example_beats_random_on_validation_eras(small_dataset: Path, cast: list[Participant]) -> None:
    validation = layout.read_split(small_dataset, "validation")
    example = pd.read_parquet(small_dataset / layout.VALIDATION_EXAMPLE_PREDS)[layout.PREDICTION]
    kinds = [StrategyKind.EXAMPLE, StrategyKind.RANDOM, StrategyKind.LINEAR, StrategyKind.NEUTRAL]
    predictions = pd.DataFrame({k.value: by_kind(cast, k).predict(validation, example) for k in kinds})
    scores = score_eras(predictions, validation["target"], validation[layout.ERA], metrics=["corr"])
    corr = scores.groupby("model")["value"].mean()
    assert corr["example"] > 0.01
    assert abs(corr["random"]) < 0.01
    assert corr["example"] > corr["random"] + 0.01
    assert corr["linear"] > corr["random"] + 0.005
    assert corr["neutral"] > corr["random"]


def test_meta_copy_is_a_noisy_consensus(cast: list[Participant], live: pd.DataFrame,
                                        live_example: pd.Series) -> None:
    copy = by_kind(cast, StrategyKind.META_COPY).predict(live, live_example)
    linear = by_kind(cast, StrategyKind.LINEAR).predict(live, live_example)
    example = live_example.reindex(live.index)
    assert 0.8 < copy.corr(example, method="spearman") < 0.999
    assert 0.5 < copy.corr(linear, method="spearman") < 0.999


def test_neutral_is_a_partly_neutralized_example(cast: list[Participant], live: pd.DataFrame,
                                                 live_example: pd.Series) -> None:
    neutral = by_kind(cast, StrategyKind.NEUTRAL)
    predictions = neutral.predict(live, live_example)
    example = live_example.reindex(live.index)
    assert 0.5 < predictions.corr(example, method="spearman") < 0.999
    features = live[list(neutral.strategy.features)].astype(float)
    assert features.corrwith(predictions).abs().max() < features.corrwith(example).abs().max()


def test_predict_names_missing_example_ids(cast: list[Participant], live: pd.DataFrame,
                                           live_example: pd.Series) -> None:
    short = live_example.drop(live.index[:3])
    with pytest.raises(DataError, match=f"lack 3 of {len(live)} ids.*first: '{live.index[0]}'"):
        by_kind(cast, StrategyKind.EXAMPLE).predict(live, short)
    with pytest.raises(DataError, match="at least 2"):
        by_kind(cast, StrategyKind.RANDOM).predict(live.iloc[:1], live_example)


def test_submission_bytes_is_an_id_prediction_csv() -> None:
    predictions = pd.Series([0.25, 1 / 3], index=pd.Index(["a1", "b2"], name="id"), name="prediction")
    data = submission_bytes(predictions)
    lines = data.decode().splitlines()
    assert lines[0] == "id,prediction"
    assert lines[1] == "a1,0.25"
    assert float(lines[2].split(",")[1]) == 1 / 3  # exact round trip


# --- weekdays ----------------------------------------------------------------------


def test_integration_test_model_submits_on_its_weekdays(cast: list[Participant]) -> None:
    robot = by_kind(cast, StrategyKind.INTEGRATION_TEST)
    assert INTEGRATION_TEST_WEEKDAYS == (1, 3, 5)
    assert [d for d in range(7) if robot.submits_on(d)] == [1, 3, 5]
    # the default weekly schedule opens on Saturday: the model is in every round
    assert all(robot.submits_on(d) for d in Schedule().open_weekdays)
    # under a daily schedule it skips some rounds, everybody else none
    assert not all(robot.submits_on(d) for d in Schedule.daily().open_weekdays)
    for p in cast:
        if p.kind is not StrategyKind.INTEGRATION_TEST:
            assert all(p.submits_on(d) for d in range(7))


def test_weekdays_are_configurable_and_checked() -> None:
    sunday_only = Strategy(StrategyKind.INTEGRATION_TEST, weekdays=(6,))
    assert [d for d in range(7) if sunday_only.submits_on(d)] == [6]
    with pytest.raises(ConfigError, match=r"^invalid_config: weekday 7 must be a weekday number"):
        sunday_only.submits_on(7)
    with pytest.raises(ConfigError, match="weekday numbers"):
        Strategy(StrategyKind.INTEGRATION_TEST, weekdays=(5, 9))
    with pytest.raises(ConfigError, match="needs the fitted linear model"):
        Strategy(StrategyKind.LINEAR)


# --- staking -----------------------------------------------------------------------


def D(text: str) -> Decimal:
    return Decimal(text)


def test_staking_rules_by_hand() -> None:
    compound = StakingPolicy(StakeRule.COMPOUND, D("1000"), D("300"), fraction=D("0.1"), threshold=0.01)
    # first round: bring the stake up to the initial stake, as far as the wallet allows
    assert compound.decide(D("1000"), D("0"), None) == StakeChange(StakeAction.INCREASE, D("300"))
    assert compound.decide(D("120.5"), D("0"), None) == StakeChange(StakeAction.INCREASE, D("120.5"))
    assert compound.decide(D("700"), D("300"), None) is None
    assert compound.decide(D("700"), D("300"), float("nan")) is None
    # a good round adds 10 % of the wallet, rounded down to 9 places
    assert compound.decide(D("1000.123456789"), D("300"), 0.02) == StakeChange(
        StakeAction.INCREASE, D("100.012345678"))
    assert compound.decide(D("1000"), D("300"), 0.005) is None  # inside the threshold
    assert compound.decide(D("1000"), D("300"), -0.05) is None  # compounders never withdraw
    assert compound.decide(D("0"), D("300"), 0.05) is None

    cautious = StakingPolicy(StakeRule.CAUTIOUS, D("100"), D("100"), fraction=D("0.25"))
    assert cautious.decide(D("0"), D("80"), -0.01) == StakeChange(StakeAction.DECREASE, D("20"))
    assert cautious.decide(D("0"), D("0.000000003"), -0.01) is None  # a quarter rounds to 0
    assert cautious.decide(D("50"), D("80"), 0.04) is None

    adaptive = StakingPolicy(StakeRule.ADAPTIVE, D("10"), D("5"), fraction=D("0.5"))
    assert adaptive.decide(D("5"), D("5"), 0.01).action is StakeAction.INCREASE
    assert adaptive.decide(D("5"), D("5"), -0.01).action is StakeAction.DECREASE

    hold = StakingPolicy(StakeRule.HOLD, D("10"), D("5"))
    assert hold.decide(D("10"), D("0"), None) == StakeChange(StakeAction.INCREASE, D("5"))
    assert hold.decide(D("10"), D("5"), 0.2) is None and hold.decide(D("10"), D("5"), -0.2) is None
    assert StakingPolicy(StakeRule.NEVER).decide(D("1e6"), D("0"), None) is None


def test_staking_inputs_are_checked() -> None:
    policy = StakingPolicy(StakeRule.COMPOUND, D("10"), D("5"))
    with pytest.raises(TypeError, match=r"^balance 10.0 is a float; .* never a binary float"):
        policy.decide(10.0, D("0"), None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^invalid_config: stake Decimal\('-1'\) must be a finite"):
        policy.decide(D("10"), D("-1"), None)
    with pytest.raises(TypeError, match=r"^last_corr '0.1' must be a number or None"):
        policy.decide(D("10"), D("1"), "0.1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="exceeds initial_deposit"):
        StakingPolicy(StakeRule.HOLD, D("10"), D("11"))
    with pytest.raises(ConfigError, match="more than 9 decimal places"):
        StakingPolicy(StakeRule.HOLD, D("10"), D("0.0000000001"))
    with pytest.raises(ConfigError, match="rule 'never'"):
        StakingPolicy(StakeRule.NEVER, D("10"), D("1"))
    with pytest.raises(ConfigError, match=r"stake change amount 1E-10 has more than 9 decimal places"):
        StakeChange(StakeAction.INCREASE, D("0.0000000001"))
    with pytest.raises(ConfigError, match=r"stake change amount Decimal\('0'\) must be a positive"):
        StakeChange(StakeAction.DECREASE, D("0"))


money = st.decimals(min_value=0, max_value=10**12, places=9, allow_nan=False, allow_infinity=False)
raw_amounts = st.decimals(min_value=0, max_value=10**12, places=13, allow_nan=False, allow_infinity=False)


@st.composite
def policies(draw: st.DrawFn) -> StakingPolicy:
    rule = draw(st.sampled_from(StakeRule))
    deposit = draw(money)
    stake = Decimal(0) if rule is StakeRule.NEVER else draw(money.filter(lambda s: s <= deposit))
    fraction = draw(st.decimals(min_value="0.000000001", max_value=1, places=9))
    threshold = draw(st.floats(min_value=0, max_value=0.1))
    return StakingPolicy(rule, deposit, stake, fraction, threshold)


@settings(max_examples=400, deadline=None)
@given(policy=policies(), balance=raw_amounts, stake=raw_amounts,
       last_corr=st.none() | st.floats(allow_infinity=False, allow_nan=True))
def test_stake_decisions_never_exceed_what_is_available(
    policy: StakingPolicy, balance: Decimal, stake: Decimal, last_corr: float | None
) -> None:
    change = policy.decide(balance, stake, last_corr)
    if change is None:
        return
    assert policy.rule is not StakeRule.NEVER
    assert isinstance(change.amount, Decimal) and change.amount > 0
    assert change.amount == change.amount.quantize(QUANTUM)
    assert change.amount.as_tuple().exponent == -9
    available = balance if change.action is StakeAction.INCREASE else stake
    assert change.amount <= available
    if change.action is StakeAction.DECREASE:
        assert policy.rule in (StakeRule.CAUTIOUS, StakeRule.ADAPTIVE)
        assert last_corr is not None and last_corr < 0


def test_cast_policies_are_consistent(cast: list[Participant]) -> None:
    for p in cast:
        s = p.staking
        assert s.initial_stake <= s.initial_deposit
        if s.rule is not StakeRule.NEVER:
            assert s.initial_stake > 0
            first = p.decide_stake(s.initial_deposit, Decimal(0), None)
            assert first == StakeChange(StakeAction.INCREASE, s.initial_stake)
        assert np.isfinite(s.threshold)

"""The rest of numerai-tools 0.7.2's scoring and signals names equal it within 1e-9
on random inputs with ties and NaNs, and never modify their inputs."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from numerai_tools import scoring as oracle
from numerai_tools import signals as oracle_signals

from crowdalpha import scoring
from crowdalpha.scoring.errors import ScoringInputError
from tests.helpers.inputs import unchanged
from tests.scoring.cases import make_case

TOL = 1e-9

CASES = [(1, 7, 1, "binned", 0.0), (3, 101, 3, "mixed", 0.1), (5, 1000, 4, "mixed", 0.05),
         (6, 5003, 2, "continuous", 0.02)]


@pytest.fixture(params=CASES, ids=lambda c: f"n{c[1]}-k{c[2]}-{c[3]}-nan{c[4]}")
def case(request: pytest.FixtureRequest) -> dict:
    seed, n, k, kind, nan_share = request.param
    return make_case(seed, n, k, kind, nan_share)


def sorted_inputs(case: dict) -> tuple[pd.DataFrame, pd.Series]:
    """Predictions (NaN kept) and targets on the same ids, sorted."""
    predictions = case["predictions"].sort_index()
    return predictions, case["targets"].reindex(predictions.index).fillna(0.5)


def aligned(case: dict) -> tuple[pd.Series, pd.Series]:
    """One complete prediction column and the target, same sorted ids, no NaN."""
    predictions, targets = sorted_inputs(case)
    column = predictions.iloc[:, -1].dropna()
    return targets.loc[column.index], column


def same(ours, theirs) -> None:
    if isinstance(theirs, pd.DataFrame | pd.Series):
        assert type(ours) is type(theirs)
        assert list(ours.index) == list(theirs.index)
        if isinstance(theirs, pd.DataFrame):
            assert list(ours.columns) == list(theirs.columns)
        else:
            assert ours.name == theirs.name
        ours, theirs = ours.to_numpy(dtype=float), theirs.to_numpy(dtype=float)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOL)


@pytest.mark.parametrize("method", ["average", "first", "min", "max", "dense"])
def test_rank_series(case: dict, method: str) -> None:
    predictions, _ = sorted_inputs(case)
    for column in predictions:
        same(unchanged(scoring.rank_series, predictions[column], method), oracle.rank_series(predictions[column], method))


def test_min_max_normalize(case: dict) -> None:
    predictions, _ = sorted_inputs(case)
    series = predictions.iloc[:, 0] * 3 - 1
    same(unchanged(scoring.min_max_normalize, series), oracle.min_max_normalize(series))


@pytest.mark.parametrize("name", ["variance_normalize", "weight_normalize", "standardize",
                                  "tie_kept_rank__gaussianize__pow_1_5"])
def test_frame_transforms(case: dict, name: str) -> None:
    predictions, _ = sorted_inputs(case)
    if name == "tie_kept_rank__gaussianize__pow_1_5":
        predictions = predictions.dropna()
    same(unchanged(getattr(scoring, name), predictions), getattr(oracle, name)(predictions))


def test_rank_gaussianize_neutralize_variance_normalize(case: dict) -> None:
    predictions, _ = sorted_inputs(case)
    predictions = predictions.dropna()
    if len(predictions) < 30:
        pytest.skip("fewer ids than features")
    features = case["features"].loc[predictions.index].astype(float)
    ours = unchanged(scoring.tie_kept_rank__gaussianize__neutralize__variance_normalize, predictions, features)
    same(ours, oracle.tie_kept_rank__gaussianize__neutralize__variance_normalize(predictions, features))


@pytest.mark.parametrize("name", ["correlation", "spearman_correlation", "pearson_correlation",
                                  "tie_broken_rank_correlation"])
def test_correlations(case: dict, name: str) -> None:
    target, predictions = aligned(case)
    predictions = predictions.rename("prediction")
    same(unchanged(getattr(scoring, name), target, predictions), getattr(oracle, name)(target, predictions))


def test_pearson_correlation_top_bottom(case: dict) -> None:
    target, predictions = aligned(case)
    top_bottom = max(1, len(predictions) // 8)
    same(scoring.pearson_correlation(target, predictions, top_bottom),
         oracle.pearson_correlation(target, predictions, top_bottom))


def test_validate_indices_accepts_what_numerai_tools_accepts(case: dict) -> None:
    target, predictions = aligned(case)
    assert scoring.validate_indices(target, predictions) is None
    oracle.validate_indices(target, predictions)


@pytest.mark.parametrize("bad", ["unsorted", "other_ids", "nan_prediction", "nan_target"])
def test_validate_indices_refuses_what_numerai_tools_refuses(bad: str) -> None:
    """numerai-tools asserts; ours raise a ScoringInputError (a ValueError) naming the problem."""
    ids = [f"id{i}" for i in range(6)]
    target = pd.Series([0.0, 0.25, 0.5, 0.75, 1.0, 0.5], index=ids)
    predictions = pd.Series([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], index=ids)
    if bad == "unsorted":
        target, predictions = target.iloc[::-1], predictions.iloc[::-1]
    elif bad == "other_ids":
        predictions.index = [*ids[:-1], "id9"]
    elif bad == "nan_prediction":
        predictions.iloc[2] = np.nan
    else:
        target.iloc[2] = np.nan
    with pytest.raises(AssertionError):
        oracle.validate_indices(target, predictions)
    with pytest.raises(ScoringInputError):
        scoring.validate_indices(target, predictions)


def test_contribution_scores(case: dict) -> None:
    predictions, targets = sorted_inputs(case)
    predictions = predictions.fillna(0.5)
    neutral = scoring.orthogonalize(predictions.to_numpy(), case["meta_model"].loc[predictions.index].to_numpy())
    same(unchanged(scoring.contribution_scores, neutral, targets, predictions),
         oracle.contribution_scores(neutral, targets, predictions))


@pytest.mark.parametrize("kind", ["integers", "floats_with_nan", "text"])
def test_one_hot_encode(kind: str) -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.random(50), "b": rng.integers(0, 4, 50), "c": rng.integers(-2, 3, 50)},
                         index=[f"id{i:02d}" for i in range(50)])
    if kind == "floats_with_nan":
        frame["b"] = frame["b"].astype(float)
        frame.loc[frame.index[::7], "b"] = np.nan
    elif kind == "text":
        frame["b"] = np.array(["x", "y", "zz", "w"])[frame["b"]]
    for dtype in (np.float64, np.int8):
        ours = unchanged(scoring.one_hot_encode, frame, ["b", "c"], dtype=dtype)
        theirs = oracle.one_hot_encode(frame, ["b", "c"], dtype=dtype)
        pd.testing.assert_frame_equal(ours, theirs)


def quietly(function, *args):
    """Call numerai-tools, whose signals code uses pandas' deprecated ``inplace=True``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", getattr(pd.errors, "Pandas4Warning", FutureWarning))
        return function(*copy.deepcopy(args))


def signals_case(seed: int, n: int = 400) -> tuple[pd.Series, pd.Series, pd.DataFrame, pd.DataFrame]:
    """Two eras' signals over overlapping tickers (ties in the first), and their neutralizers."""
    rng = np.random.default_rng(seed)
    tickers = np.array([f"T{i:04d}" for i in range(int(n * 1.1))])
    first, second = rng.choice(tickers, n, replace=False), rng.choice(tickers, n, replace=False)
    s1 = pd.Series(np.round(rng.random(n) * 8) / 8, index=pd.Index(first, name="ticker"), name="signal")
    s2 = pd.Series(rng.random(n), index=pd.Index(second, name="ticker"), name="signal")
    n1 = pd.DataFrame(rng.normal(size=(n, 3)), index=pd.Index(np.sort(first), name="ticker"))
    n2 = pd.DataFrame(rng.normal(size=(n, 3)), index=pd.Index(np.sort(second), name="ticker"))
    return s1, s2, n1, n2


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("top_bottom", [None, 50])
def test_churn(seed: int, top_bottom: int | None) -> None:
    s1, s2, _, _ = signals_case(seed)
    same(unchanged(scoring.churn, s1, s2, top_bottom), oracle_signals.churn(s1, s2, top_bottom))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_neutral_churn_and_turnover(seed: int) -> None:
    s1, s2, n1, n2 = signals_case(seed)
    same(unchanged(scoring.neutral_churn, s1, s2, n1, n2), oracle_signals.neutral_churn(s1, s2, n1, n2))
    same(unchanged(scoring.turnover, s1, s2), oracle_signals.turnover(s1, s2))


@pytest.mark.parametrize("churn", [0.0, 0.1, 0.25, 0.8, 2.0])
def test_neutral_churn_penalty(churn: float) -> None:
    for threshold, factor in ((0.1, 10.0), (0.3, 2.5), (0.0, 1e6)):
        same(scoring.neutral_churn_penalty(churn, threshold, factor),
             oracle_signals.neutral_churn_penalty(churn, threshold, factor))


@pytest.mark.parametrize("args", [(-0.1, 0.1, 10.0), (float("nan"), 0.1, 10.0), (0.5, 3.0, 10.0), (0.5, 0.1, 0.0)])
def test_neutral_churn_penalty_refuses_what_numerai_tools_refuses(args: tuple) -> None:
    with pytest.raises(AssertionError):
        oracle_signals.neutral_churn_penalty(*args)
    with pytest.raises(ScoringInputError):
        scoring.neutral_churn_penalty(*args)


@pytest.mark.parametrize("seed", [4, 5])
def test_calculate_churn_functions(seed: int) -> None:
    current, previous, n_current, n_previous = signals_case(seed)
    _, far, _, n_far = signals_case(seed + 100, n=150)  # too few shared ids: skipped by both
    w_current = pd.Series(1.0, index=n_current.index)
    prev_subs = {"2026-01-02": previous, "2025-12-26": far}
    prev_neutralizers = {"2026-01-02": n_previous, "2025-12-26": n_far}
    prev_weights = {"2026-01-02": pd.Series(1.0, index=n_previous.index),
                    "2025-12-26": pd.Series(1.0, index=n_far.index)}
    args = (current, n_current, w_current, prev_subs, prev_neutralizers, prev_weights)
    same(unchanged(scoring.calculate_mean_neutral_churn, *args),
         quietly(oracle_signals.calculate_mean_neutral_churn, *args))
    same(np.array(unchanged(scoring.calculate_max_churn_and_turnover, *args)),
         np.array(quietly(oracle_signals.calculate_max_churn_and_turnover, *args)))


def test_calculate_churn_functions_without_previous_submissions() -> None:
    current, _, n_current, _ = signals_case(9)
    w_current = pd.Series(1.0, index=n_current.index)
    assert scoring.calculate_mean_neutral_churn(current, n_current, w_current, {}, {}, {}) == 1.0
    assert scoring.calculate_max_churn_and_turnover(current, n_current, w_current, {}, {}, {}) == (1.0, 1.0)

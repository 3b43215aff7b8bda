"""The drop-in functions equal numerai-tools 0.7 within 1e-9 on random inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numerai_tools import scoring as oracle

from crowdalpha import scoring
from tests.scoring.cases import make_case

TOL = 1e-9

CASES = [
    # (seed, n, k, kind, nan_share, missing_share)
    (1, 7, 1, "binned", 0.0, 0.0),
    (2, 50, 1, "continuous", 0.0, 0.0),
    (3, 101, 3, "mixed", 0.1, 0.0),
    (4, 997, 5, "binned", 0.0, 0.1),
    (5, 1000, 4, "mixed", 0.05, 0.15),
    (6, 5003, 2, "continuous", 0.02, 0.05),
]


def assert_series_close(ours: pd.Series, theirs: pd.Series) -> None:
    assert list(ours.index) == list(theirs.index)
    np.testing.assert_allclose(ours.to_numpy(dtype=float), theirs.to_numpy(dtype=float), rtol=0, atol=TOL)


def assert_frame_close(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert list(ours.index) == list(theirs.index)
    assert list(ours.columns) == list(theirs.columns)
    np.testing.assert_allclose(ours.to_numpy(dtype=float), theirs.to_numpy(dtype=float), rtol=0, atol=TOL)


@pytest.fixture(params=CASES, ids=lambda c: f"n{c[1]}-k{c[2]}-{c[3]}-nan{c[4]}-miss{c[5]}")
def case(request: pytest.FixtureRequest) -> dict:
    return make_case(*request.param)


def complete(case: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions without NaN, sorted, and the matching features (FNC needs them aligned)."""
    predictions = case["predictions"].dropna().sort_index()
    return predictions, case["features"].loc[predictions.index].astype(float)


@pytest.mark.parametrize("target_pow15", [True, False])
def test_numerai_corr(case: dict, target_pow15: bool) -> None:
    ours = scoring.numerai_corr(case["predictions"], case["targets"], target_pow15=target_pow15)
    theirs = oracle.numerai_corr(case["predictions"], case["targets"], target_pow15=target_pow15)
    assert_series_close(ours, theirs)


def test_numerai_corr_top_bottom(case: dict) -> None:
    top_bottom = max(1, len(case["predictions"]) // 10)
    ours = scoring.numerai_corr(case["predictions"], case["targets"], top_bottom=top_bottom)
    theirs = oracle.numerai_corr(case["predictions"], case["targets"], top_bottom=top_bottom)
    assert_series_close(ours, theirs)


def test_numerai_corr_loose_filter(case: dict) -> None:
    ours = scoring.numerai_corr(case["predictions"], case["targets"], max_filtered_index_ratio=0.5)
    theirs = oracle.numerai_corr(case["predictions"], case["targets"], max_filtered_index_ratio=0.5)
    assert_series_close(ours, theirs)


@pytest.mark.parametrize("reference", ["meta_model", "benchmark"])
def test_correlation_contribution(case: dict, reference: str) -> None:
    args = (case["predictions"], case[reference], case["targets"])
    assert_series_close(scoring.correlation_contribution(*args), oracle.correlation_contribution(*args))


def test_correlation_contribution_top_bottom(case: dict) -> None:
    top_bottom = max(1, len(case["predictions"]) // 8)
    args = (case["predictions"], case["meta_model"], case["targets"])
    assert_series_close(scoring.correlation_contribution(*args, top_bottom=top_bottom),
                        oracle.correlation_contribution(*args, top_bottom=top_bottom))


def test_feature_neutral_corr(case: dict) -> None:
    predictions, features = complete(case)
    if len(predictions) <= features.shape[1] + 1:
        pytest.skip("fewer ids than features: every prediction is fully explained")
    args = (predictions, features, case["targets"])
    assert_series_close(scoring.feature_neutral_corr(*args), oracle.feature_neutral_corr(*args))


def test_neutral_correlation_and_contribution(case: dict) -> None:
    features = case["features"].astype(float)
    if len(case["predictions"]) <= features.shape[1] + 1:
        pytest.skip("fewer ids than features: residuals are rounding noise")
    args = (case["predictions"], features, case["targets"])
    assert_series_close(scoring.neutral_correlation(*args), oracle.neutral_correlation(*args))
    args4 = (case["predictions"], case["meta_model"], features, case["targets"])
    assert_series_close(scoring.neutral_contribution(*args4), oracle.neutral_contribution(*args4))


def test_ranks_gaussian_power(case: dict) -> None:
    predictions = case["predictions"].sort_index()
    assert_frame_close(scoring.tie_kept_rank(predictions), oracle.tie_kept_rank(predictions))
    assert_frame_close(scoring.tie_broken_rank(predictions), oracle.tie_broken_rank(predictions))
    for method in ("min", "max", "dense"):
        assert_frame_close(scoring.rank(predictions, method), oracle.rank(predictions, method))
    ranked = scoring.tie_kept_rank(predictions.dropna())
    assert_frame_close(scoring.gaussian(ranked), oracle.gaussian(ranked))
    gaussianized = scoring.gaussian(ranked)
    assert_frame_close(scoring.power(gaussianized, 1.5), oracle.power(gaussianized, 1.5))
    series = predictions.iloc[:, 0]
    assert_series_close(scoring.tie_kept_rank(series), oracle.tie_kept_rank(series))
    assert_series_close(scoring.center(series), oracle.center(series))


def test_neutralize_with_proportion(case: dict) -> None:
    predictions, features = complete(case)
    for proportion in (1.0, 0.5, 0.0):
        assert_frame_close(scoring.neutralize(predictions, features, proportion),
                           oracle.neutralize(predictions, features, proportion))


def test_orthogonalize_and_stake_weight(case: dict) -> None:
    predictions = case["predictions"].fillna(0.5)
    v, u = predictions.to_numpy(), case["meta_model"].to_numpy()
    np.testing.assert_allclose(scoring.orthogonalize(v, u), oracle.orthogonalize(v, u), atol=TOL, rtol=0)
    stakes = pd.Series(np.arange(1, predictions.shape[1] + 1, dtype=float), index=predictions.columns)
    assert_series_close(scoring.stake_weight(case["predictions"], stakes),
                        oracle.stake_weight(case["predictions"], stakes))


def test_filter_sort_index(case: dict) -> None:
    ours = scoring.filter_sort_index(case["targets"], case["predictions"])
    theirs = oracle.filter_sort_index(case["targets"], case["predictions"])
    assert_series_close(ours[0], theirs[0])
    assert_frame_close(ours[1], theirs[1])
    ours_many = scoring.filter_sort_index_many([case["targets"], case["predictions"], case["meta_model"]])
    theirs_many = oracle.filter_sort_index_many([case["targets"], case["predictions"], case["meta_model"]])
    assert_series_close(ours_many[0], theirs_many[0])
    assert_frame_close(ours_many[1], theirs_many[1])


def test_max_feature_correlation(case: dict) -> None:
    predictions, features = complete(case)
    column = predictions.iloc[:, -1]
    name, value = scoring.max_feature_correlation(column, features)
    oracle_name, oracle_value = oracle.max_feature_correlation(column, features)
    assert name == oracle_name
    assert abs(value - oracle_value) <= TOL


def test_signals_portfolio_scores(case: dict) -> None:
    predictions, features = complete(case)
    neutralizers = features / 10.0
    weights = pd.Series(np.linspace(0.5, 1.5, len(predictions)), index=predictions.index)
    targets = case["targets"]
    if targets.index.intersection(predictions.index).size < 0.8 * len(predictions):
        pytest.skip("signals scorers need the targets to cover the predictions")
    targets = targets.reindex(predictions.index).fillna(0.5)
    for flag in (False, True):
        assert_frame_close(
            scoring.generate_neutralized_weights(predictions, neutralizers, weights, flag),
            oracle.generate_neutralized_weights(predictions, neutralizers, weights, flag))
    assert_series_close(scoring.alpha(predictions, neutralizers, weights, targets),
                        oracle.alpha(predictions, neutralizers, weights, targets))
    stakes = pd.Series(np.arange(1, predictions.shape[1] + 1, dtype=float), index=predictions.columns)
    assert_series_close(
        scoring.meta_portfolio_contribution(predictions, stakes, neutralizers, weights, targets),
        oracle.meta_portfolio_contribution(predictions, stakes, neutralizers, weights, targets))


def test_sharpe_ratio() -> None:
    series = pd.Series([0.01, -0.02, 0.03, 0.015, 0.0])
    assert scoring.sharpe_ratio(series) == pytest.approx(oracle.sharpe_ratio(series), abs=TOL)


def test_scorers_leave_inputs_untouched(case: dict) -> None:
    before = {key: value.copy() for key, value in case.items()}
    predictions, features = complete(case)
    scoring.numerai_corr(case["predictions"], case["targets"])
    scoring.correlation_contribution(case["predictions"], case["meta_model"], case["targets"])
    if len(predictions) > features.shape[1] + 1:
        scoring.feature_neutral_corr(predictions, features, case["targets"])
    scoring.tie_kept_rank(case["predictions"].sort_index())
    scoring.score_eras(case["predictions"], case["targets"].reindex(case["predictions"].index),
                       meta_model=case["meta_model"], on_insufficient="nan")
    for key, value in before.items():
        pd.testing.assert_frame_equal(pd.DataFrame(case[key]), pd.DataFrame(value))

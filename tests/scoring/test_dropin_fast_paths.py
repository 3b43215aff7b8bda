"""The array paths of numerai_corr and correlation_contribution (no ``top_bottom``)
equal numerai-tools 0.7 within 1e-9 on each branch they take.

Branches: ids already sorted and complete (the frame's data is used as a view,
nothing copied) or unsorted with NaN rows (ids matched, then gathered); one
float64 block or mixed dtypes (converted); blocks without ties (one shared
row of gaussian ranks) or with ties; enough columns for the parallel blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numerai_tools import scoring as oracle

from crowdalpha import scoring
from crowdalpha.scoring import kernels
from crowdalpha.scoring.errors import InsufficientOverlapError
from tests.scoring.cases import binned

TOL = 1e-9


def wide_case(seed: int, sorted_ids: bool, with_nans: bool, with_ties: bool, mixed_dtypes: bool) -> dict:
    """1,003 ids x 300 columns (past the kernels' parallel threshold)."""
    rng = np.random.default_rng(seed)
    n, k = 1003, 300
    ids = np.array([f"id{v:06d}" for v in rng.permutation(n)])
    target = binned(rng, (n,))
    values = rng.random((n, k)) * 0.9 + 0.1 * target[:, None]
    if with_ties:
        values[:, ::7] = np.round(values[:, ::7] * 4) / 4
        values[:, 5] = 0.5  # a constant column: CORR NaN
    predictions = pd.DataFrame(values, index=ids, columns=[f"model_{j}" for j in range(k)])
    if mixed_dtypes:
        predictions["model_1"] = predictions["model_1"].astype(np.float32)
        predictions["model_2"] = (predictions["model_2"] * 10).round().astype(np.int64)
    if with_nans:
        predictions.iloc[rng.choice(n, 40, replace=False), 3] = np.nan
    targets = pd.Series(target, index=ids, name="target")
    meta = pd.Series(values.mean(axis=1), index=ids, name="meta_model")
    if with_nans:
        targets.iloc[rng.choice(n, 30, replace=False)] = np.nan
        meta.iloc[rng.choice(n, 20, replace=False)] = np.nan
    if sorted_ids:
        predictions, targets, meta = predictions.sort_index(), targets.sort_index(), meta.sort_index()
    return {"predictions": predictions, "targets": targets, "meta_model": meta}


BRANCHES = [
    # (sorted_ids, with_nans, with_ties, mixed_dtypes)
    (True, False, False, False),
    (True, False, True, False),
    (False, True, False, False),
    (False, True, True, True),
    (True, False, False, True),
]


@pytest.fixture(params=BRANCHES, ids=lambda b: "sorted{}-nans{}-ties{}-mixed{}".format(*b))
def case(request: pytest.FixtureRequest) -> dict:
    return wide_case(11, *request.param)


def assert_same_series(ours: pd.Series, theirs: pd.Series) -> None:
    pd.testing.assert_index_equal(ours.index, theirs.index)
    assert ours.dtype == theirs.dtype == np.float64
    assert ours.name == theirs.name
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=0, atol=TOL)


@pytest.mark.parametrize("target_pow15", [True, False])
def test_numerai_corr_array_path(case: dict, target_pow15: bool) -> None:
    ours = scoring.numerai_corr(case["predictions"], case["targets"], target_pow15=target_pow15)
    theirs = oracle.numerai_corr(case["predictions"], case["targets"], target_pow15=target_pow15)
    assert_same_series(ours, theirs)


def test_correlation_contribution_array_path(case: dict) -> None:
    ours = scoring.correlation_contribution(case["predictions"], case["meta_model"], case["targets"])
    theirs = oracle.correlation_contribution(case["predictions"], case["meta_model"], case["targets"])
    assert_same_series(ours, theirs)


def test_array_paths_leave_inputs_untouched(case: dict) -> None:
    before = {key: value.copy(deep=True) for key, value in case.items()}
    scoring.numerai_corr(case["predictions"], case["targets"])
    scoring.correlation_contribution(case["predictions"], case["meta_model"], case["targets"])
    pd.testing.assert_frame_equal(case["predictions"], before["predictions"])
    pd.testing.assert_series_equal(case["targets"], before["targets"])
    pd.testing.assert_series_equal(case["meta_model"], before["meta_model"])


def test_too_little_overlap_still_refused() -> None:
    case = wide_case(12, True, False, False, False)
    targets = case["targets"].copy()
    targets.iloc[: len(targets) // 2] = np.nan
    with pytest.raises(InsufficientOverlapError):
        scoring.numerai_corr(case["predictions"], targets)
    with pytest.raises(InsufficientOverlapError):
        scoring.correlation_contribution(case["predictions"], case["meta_model"], targets)


def features_for(predictions: pd.DataFrame, seed: int = 13) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.integers(0, 5, size=(len(predictions), 20)).astype(float), index=predictions.index,
                        columns=[f"feature_{i}" for i in range(20)])


@pytest.mark.parametrize("branch", [b for b in BRANCHES if b[0] and not b[1]],
                         ids=lambda b: f"ties{b[2]}-mixed{b[3]}")
def test_feature_neutral_corr_array_path(branch: tuple) -> None:
    case = wide_case(14, *branch)
    predictions = case["predictions"].drop(columns="model_5")  # constant when tied: see below
    features = features_for(predictions)
    ours = scoring.feature_neutral_corr(predictions, features, case["targets"])
    theirs = oracle.feature_neutral_corr(predictions, features, case["targets"])
    assert_same_series(ours, theirs)


def test_feature_neutral_corr_constant_column_refused_as_numerai_tools() -> None:
    """A constant column neutralizes to NaN; numerai_corr then drops every id."""
    case = wide_case(15, True, False, True, False)
    features = features_for(case["predictions"])
    with pytest.raises(AssertionError):
        oracle.feature_neutral_corr(case["predictions"], features, case["targets"])
    with pytest.raises(InsufficientOverlapError):
        scoring.feature_neutral_corr(case["predictions"], features, case["targets"])


@pytest.mark.parametrize("with_ties", [False, True], ids=lambda t: f"ties{t}")
def test_feature_neutral_corr_array_path_scores_only_ids_with_a_target(with_ties: bool) -> None:
    """Targets with NaN: neutralized over every id, ranked again over the ids
    with a target; features neither centered nor of full rank (a constant
    and a repeated column); the kernel path is the one taken."""
    case = wide_case(16, True, False, with_ties, False)
    predictions = case["predictions"].drop(columns="model_5")
    targets = case["targets"].copy()
    targets.iloc[np.random.default_rng(17).choice(len(targets), 60, replace=False)] = np.nan
    features = features_for(predictions)
    features["feature_constant"] = 3.0
    features["feature_again"] = features["feature_0"]
    before = (predictions.copy(), features.copy(), targets.copy())
    calls = []
    kernel = kernels.feature_neutral_corr_rows

    def counted(*args: object) -> object:
        calls.append(1)
        return kernel(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernels, "feature_neutral_corr_rows", counted)
        ours = scoring.feature_neutral_corr(predictions, features, targets)
    assert calls
    assert_same_series(ours, oracle.feature_neutral_corr(predictions, features, targets))
    for given, copy in zip((predictions, features, targets), before, strict=True):
        assert given.equals(copy)


def test_feature_neutral_corr_array_path_overlap_error_as_numerai_corr() -> None:
    case = wide_case(18, True, False, False, False)
    predictions = case["predictions"].drop(columns="model_5")
    targets = case["targets"].copy()
    targets.iloc[: len(targets) // 2] = np.nan
    features = features_for(predictions)
    with pytest.raises(AssertionError):
        oracle.feature_neutral_corr(predictions, features, targets)
    with pytest.raises(InsufficientOverlapError):
        scoring.feature_neutral_corr(predictions, features, targets)

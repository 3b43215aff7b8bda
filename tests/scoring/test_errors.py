"""Bad input gets a named error, never a wrong number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdalpha import scoring
from crowdalpha.scoring import errors
from tests.scoring.cases import make_case


@pytest.fixture
def case() -> dict:
    return make_case(7, 200, 2)


def test_errors_are_value_errors_with_codes() -> None:
    error = errors.InsufficientOverlapError("x")
    assert isinstance(error, ValueError)
    assert str(error) == "insufficient_overlap: x"


def test_empty_predictions(case: dict) -> None:
    with pytest.raises(errors.EmptyInputError, match="empty_input: predictions has no rows"):
        scoring.numerai_corr(case["predictions"].iloc[:0], case["targets"])


def test_insufficient_overlap_names_counts(case: dict) -> None:
    targets = case["targets"].iloc[:100]
    with pytest.raises(errors.InsufficientOverlapError, match=r"shares 100 of its 200 ids .*50\.0%.*80%"):
        scoring.numerai_corr(case["predictions"], targets)


def test_infinite_values_named(case: dict) -> None:
    predictions = case["predictions"].copy()
    predictions.iloc[3, 1] = np.inf
    with pytest.raises(errors.InfiniteValuesError, match="column 'model_1' has 1 infinite values"):
        scoring.numerai_corr(predictions, case["targets"])


def test_duplicate_ids(case: dict) -> None:
    predictions = pd.concat([case["predictions"], case["predictions"].iloc[:2]])
    with pytest.raises(errors.DuplicateIdsError, match="2 duplicated ids"):
        scoring.numerai_corr(predictions, case["targets"])


def test_non_numeric_column(case: dict) -> None:
    predictions = case["predictions"].assign(model_1="high")
    with pytest.raises(errors.NonNumericError, match="column 'model_1' has dtype"):
        scoring.correlation_contribution(predictions, case["meta_model"], case["targets"])


def test_unsorted_index_for_rank(case: dict) -> None:
    with pytest.raises(errors.UnsortedIndexError):
        scoring.tie_kept_rank(case["predictions"])


def test_nan_in_neutralizers(case: dict) -> None:
    predictions = case["predictions"].sort_index()
    features = case["features"].loc[predictions.index].astype(float)
    features.iloc[0, 2] = np.nan
    with pytest.raises(errors.MissingValuesError, match="features column 'feature_c' contains 1 NaN"):
        scoring.feature_neutral_corr(predictions, features, case["targets"])


def test_mismatched_lengths_in_neutralize(case: dict) -> None:
    predictions = case["predictions"].sort_index().fillna(0.5)
    features = case["features"].sort_index().astype(float).iloc[:-1]
    with pytest.raises(errors.LengthMismatchError, match="data has 200 rows but neutralizers has 199"):
        scoring.neutralize(predictions, features)


def test_constant_meta_model(case: dict) -> None:
    meta = case["meta_model"] * 0 + 0.5
    with pytest.raises(errors.DegenerateInputError, match="meta_model is constant"):
        scoring.correlation_contribution(case["predictions"], meta, case["targets"])


def test_top_bottom_too_large(case: dict) -> None:
    with pytest.raises(errors.DegenerateInputError, match="top_bottom=150"):
        scoring.numerai_corr(case["predictions"], case["targets"], top_bottom=150)


def test_power_rejects_nan() -> None:
    frame = pd.DataFrame({"a": [0.1, np.nan, 0.3]})
    with pytest.raises(errors.MissingValuesError):
        scoring.power(frame, 1.5)


def test_stake_weight_unknown_model(case: dict) -> None:
    with pytest.raises(errors.LengthMismatchError, match="first: 'ghost'"):
        scoring.stake_weight(case["predictions"], pd.Series({"ghost": 1.0}))


def test_filter_sort_index_many_needs_inputs() -> None:
    with pytest.raises(errors.EmptyInputError):
        scoring.filter_sort_index_many([])

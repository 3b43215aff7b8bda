"""Per-era, partial and group neutralization."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numerai_tools import scoring as oracle

from crowdalpha.scoring import errors, neutralize_by_groups, neutralize_per_era


@pytest.fixture
def data() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 600
    features = pd.DataFrame(rng.integers(0, 5, size=(n, 6)).astype(float),
                            index=[f"id{i:04d}" for i in range(n)], columns=list("abcdef"))
    predictions = pd.DataFrame({"p": features["a"] + rng.normal(size=n), "q": rng.random(n)}, index=features.index)
    return predictions, features, np.repeat(["0001", "0002", "0003"], n // 3)


def test_full_neutralization_removes_exposure_in_each_era(data) -> None:
    predictions, features, eras = data
    neutral = neutralize_per_era(predictions, features, eras)
    for era in np.unique(eras):
        rows = eras == era
        column = neutral.loc[rows, "p"]
        exposure = features[rows].apply(lambda f, c=column: np.corrcoef(f, c)[0, 1])
        assert exposure.abs().max() < 1e-10
        assert neutral.loc[rows, "p"].std(ddof=0) == pytest.approx(1.0)


def test_matches_numerai_tools_on_one_era(data) -> None:
    predictions, features, eras = data
    rows = eras == "0002"
    ours = neutralize_per_era(predictions[rows], features[rows], proportion=0.5)
    theirs = oracle.tie_kept_rank__gaussianize__neutralize__variance_normalize(predictions[rows], features[rows])
    half = oracle.variance_normalize(oracle.neutralize(oracle.gaussian(oracle.tie_kept_rank(predictions[rows])),
                                                       features[rows], 0.5))
    np.testing.assert_allclose(ours.to_numpy(), half.to_numpy(), atol=1e-12)
    full = neutralize_per_era(predictions[rows], features[rows])
    np.testing.assert_allclose(full.to_numpy(), theirs.to_numpy(), atol=1e-12)


def test_groups_in_turn(data) -> None:
    predictions, features, eras = data
    neutral = neutralize_by_groups(predictions, features, {"g1": ["a", "b"], "g2": ["c"]},
                                   proportion={"g1": 1.0, "g2": 1.0}, eras=eras)
    rows = eras == "0001"
    assert abs(np.corrcoef(features.loc[rows, "c"], neutral.loc[rows, "p"])[0, 1]) < 1e-10
    assert abs(np.corrcoef(features.loc[rows, "a"], neutral.loc[rows, "p"])[0, 1]) < 0.05
    untouched = neutralize_by_groups(predictions, features, {"g1": ["a"]}, proportion=0.0, eras=eras)
    assert abs(np.corrcoef(features.loc[rows, "a"], untouched.loc[rows, "p"])[0, 1]) > 0.5


def test_bad_groups_and_proportions(data) -> None:
    predictions, features, eras = data
    with pytest.raises(errors.LengthMismatchError, match="group 'g' names unknown feature 'zz'"):
        neutralize_by_groups(predictions, features, {"g": ["zz"]})
    with pytest.raises(errors.EmptyInputError, match="proportion must be within"):
        neutralize_per_era(predictions, features, eras, proportion=1.5)
    with pytest.raises(errors.EmptyInputError, match="no share for feature group 'g2'"):
        neutralize_by_groups(predictions, features, {"g1": ["a"], "g2": ["b"]}, proportion={"g1": 1.0})

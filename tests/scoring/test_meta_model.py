"""The meta-model against numerai-tools' gaussianize + stake_weight, and its NaN rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numerai_tools.scoring import gaussian, stake_weight, tie_kept_rank

from crowdalpha.scoring import ScoringInputError, stake_weighted_meta_model


@pytest.mark.parametrize("seed", range(5))
def test_equals_numerai_tools_on_complete_predictions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(7, 3000)), int(rng.integers(1, 8))
    values = rng.integers(0, 30, size=(n, k)) / 29  # ties
    stakes = rng.random(k) * 100
    stakes[0] = 0.0 if k > 1 else stakes[0]
    frame = pd.DataFrame(values, columns=[f"m{j}" for j in range(k)])
    staked = pd.Series(stakes, index=frame.columns)[stakes > 0]
    expected = stake_weight(gaussian(tie_kept_rank(frame[staked.index])), staked)
    got = stake_weighted_meta_model(values, stakes)
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=0, atol=1e-12)


def test_missing_ids_renormalize_the_weights_and_uncovered_ids_are_neutral() -> None:
    rng = np.random.default_rng(7)
    values = rng.random((200, 3))
    values[:40, 0] = np.nan
    values[:20, 1] = np.nan
    values[:10, 2] = np.nan
    stakes = np.array([1.0, 2.0, 3.0])
    got = stake_weighted_meta_model(values, stakes)
    frame = pd.DataFrame(values)
    g = gaussian(tie_kept_rank(frame))  # ranks each column over its own ids
    weights = frame.notna() * stakes
    expected = (g.fillna(0) * stakes).sum(axis=1) / weights.sum(axis=1)
    np.testing.assert_allclose(got[10:], expected.to_numpy()[10:], atol=1e-12)
    assert (got[:10] == 0).all()


def test_bad_stakes_are_refused() -> None:
    values = np.random.default_rng(0).random((10, 2))
    with pytest.raises(ScoringInputError, match="no model has a positive stake"):
        stake_weighted_meta_model(values, np.zeros(2))
    with pytest.raises(ScoringInputError, match="3 values but predictions have 2"):
        stake_weighted_meta_model(values, np.ones(3))
    with pytest.raises(ScoringInputError, match="non-negative"):
        stake_weighted_meta_model(values, np.array([1.0, -1.0]))

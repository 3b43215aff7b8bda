"""Per-era numeric steps: feature bins, target neutralization and bins."""

from __future__ import annotations

import numpy as np
import pytest

from crowdalpha.data.targets import (
    DEFAULT_TARGETS,
    MAIN_TARGET,
    bin_features,
    bin_target,
    make_targets,
    neutral_residuals,
    neutralizer_matrix,
)
from crowdalpha.errors import ConfigError


def test_bin_features_five_equal_bins_int8() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(1000, 7)).astype(np.float32)
    bins = bin_features(raw)
    assert bins.dtype == np.int8
    for j in range(7):
        assert np.bincount(bins[:, j], minlength=5).tolist() == [200] * 5
        # monotone in the raw value
        order = np.argsort(raw[:, j])
        assert (np.diff(bins[order, j]) >= 0).all()


def test_bin_features_ties_share_a_bin_and_nan_goes_to_the_middle() -> None:
    raw = np.array([[1.0], [1.0], [1.0], [1.0], [np.nan], [5.0], [6.0], [7.0], [8.0], [9.0]])
    bins = bin_features(raw)[:, 0]
    assert len(set(bins[:4].tolist())) == 1
    assert bins[4] == 2


def test_bin_features_does_not_modify_input() -> None:
    raw = np.random.default_rng(1).normal(size=(50, 3))
    copy = raw.copy()
    bin_features(raw)
    np.testing.assert_array_equal(raw, copy)


def test_bin_target_proportions_and_nan() -> None:
    values = np.random.default_rng(2).normal(size=2000)
    values[:10] = np.nan
    binned = bin_target(values)
    assert np.isnan(binned[:10]).all()
    shares = [np.mean(binned[10:] == v) for v in (0, 0.25, 0.5, 0.75, 1)]
    np.testing.assert_allclose(shares, [0.05, 0.2, 0.5, 0.2, 0.05], atol=0.002)


def test_neutral_residuals_are_orthogonal_to_exposures() -> None:
    rng = np.random.default_rng(3)
    exposures = rng.normal(size=(500, 4))
    values = exposures @ [1.0, -2.0, 0.5, 3.0] + rng.normal(size=500) + 7
    values[5] = np.nan
    residual = neutral_residuals(values, exposures)
    assert np.isnan(residual[5])
    ok = ~np.isnan(residual)
    design = np.hstack([exposures[ok], np.ones((ok.sum(), 1))])
    np.testing.assert_allclose(design.T @ residual[ok], 0, atol=1e-8)


def test_neutralizer_matrix_sets() -> None:
    numeric = {"beta": np.ones(6) + np.arange(6), "value": np.arange(6.0) ** 2}
    categorical = {"sector": np.array(list("aabbcc")), "country": np.array(list("xyxyxy"))}
    assert neutralizer_matrix(numeric, categorical, "full").shape == (6, 2 + 3 + 2)
    assert neutralizer_matrix(numeric, categorical, "sector").shape == (6, 1 + 3)
    assert neutralizer_matrix(numeric, categorical, "market").shape == (6, 1)
    with pytest.raises(ConfigError, match=r"^invalid_config: neutralization 'bogus' is not one of"):
        neutralizer_matrix(numeric, categorical, "bogus")


def test_make_targets_main_is_first_spec() -> None:
    rng = np.random.default_rng(4)
    n = 300
    returns = {20: rng.normal(size=n), 60: rng.normal(size=n)}
    targets = make_targets(returns, {"beta": rng.normal(1, 0.2, n)},
                           {"sector": rng.integers(0, 3, n).astype(str)})
    assert next(iter(targets)) == MAIN_TARGET
    assert set(targets) == {MAIN_TARGET, *(s.name for s in DEFAULT_TARGETS)}
    np.testing.assert_array_equal(targets[MAIN_TARGET], targets[DEFAULT_TARGETS[0].name])

"""Hand-checked answers for the array kernels."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays
from scipy.special import ndtri

from crowdalpha.scoring import kernels


def test_tie_kept_rank_by_hand() -> None:
    values = np.array([[0.5, 0.1, 0.5, 0.9]])
    # ranks 2.5, 1, 2.5, 4 -> (r - 0.5) / 4
    np.testing.assert_array_equal(kernels.tie_kept_rank_rows(values), [[0.5, 0.125, 0.5, 0.875]])


def test_gaussian_rank_matches_ndtri_of_rank() -> None:
    values = np.array([[3.0, 1.0, 2.0, 2.0, 5.0]])
    expected = ndtri(kernels.tie_kept_rank_rows(values))
    np.testing.assert_array_equal(kernels.gaussian_rank_rows(values), expected)


def test_nan_rows_ranked_among_valid_values() -> None:
    values = np.array([[np.nan, 2.0, 1.0], [1.0, 1.0, 1.0]])
    ranked = kernels.tie_kept_rank_rows(values)
    assert np.isnan(ranked[0, 0])
    np.testing.assert_array_equal(ranked[0, 1:], [0.75, 0.25])
    np.testing.assert_array_equal(ranked[1], [0.5, 0.5, 0.5])


def test_tie_broken_rank_by_position() -> None:
    np.testing.assert_array_equal(kernels.tie_broken_rank_rows(np.array([[1.0, 1.0, 0.0]])),
                                  [[0.5, 5 / 6, 1 / 6]])


def test_parallel_blocks_equal_pandas_bitwise() -> None:
    rng = np.random.default_rng(0)
    values = np.round(rng.random((300, 1000)) * 8) / 8
    values[5, 10] = np.nan
    expected = pd.DataFrame(values.T).rank().sub(0.5).div(pd.DataFrame(values.T).count()).to_numpy().T
    np.testing.assert_array_equal(kernels.tie_kept_rank_rows(values), expected)


def test_row_pearson_constant_row_is_nan() -> None:
    rows = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]])
    result = kernels.row_pearson(rows, np.array([1.0, 2.0, 4.0]))
    assert np.isnan(result[1])
    assert abs(result[0] - np.corrcoef([1, 2, 3], [1, 2, 4])[0, 1]) < 1e-15


def test_row_pearson_keeps_precision_with_offset() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.random(1000), rng.random(1000)
    shifted = kernels.row_pearson((x * 1e-7 + 0.5)[None, :], y)[0]
    assert abs(shifted - np.corrcoef(x, y)[0, 1]) < 1e-8


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 40)),
              elements=st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, np.nan, -3.5, 1e-300])))
def test_ranks_equal_pandas_on_any_small_array(values: np.ndarray) -> None:
    frame = pd.DataFrame(values.T)
    expected = ((frame.rank() - 0.5) / frame.count()).to_numpy().T
    np.testing.assert_array_equal(kernels.tie_kept_rank_rows(values), expected)
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(kernels.gaussian_rank_rows(values), ndtri(expected))

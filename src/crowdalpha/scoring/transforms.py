"""Named, pure transforms of prediction columns (numerai-tools 0.7 drop-ins).

Each function returns a new object and never modifies its input. Column-wise
work runs on the array kernels in :mod:`crowdalpha.scoring.kernels`.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar, cast

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve, lapack
from scipy.special import ndtri

from crowdalpha.scoring import kernels
from crowdalpha.scoring.errors import (
    DegenerateInputError,
    EmptyInputError,
    LengthMismatchError,
)
from crowdalpha.scoring.validation import (
    check_no_nans,
    check_overlap,
    check_same_index,
    check_scoring_input,
    check_sorted,
    check_unique_ids,
)

#: Share of ids that may be dropped when matching predictions to targets.
DEFAULT_MAX_FILTERED_INDEX_RATIO = 0.2

S1 = TypeVar("S1", pd.DataFrame, pd.Series)
S2 = TypeVar("S2", pd.DataFrame, pd.Series)
RankMethod = Literal["average", "min", "max", "first", "dense"]


def filter_sort_index(
    s1: S1, s2: S2, max_filtered_ratio: float = DEFAULT_MAX_FILTERED_INDEX_RATIO
) -> tuple[S1, S2]:
    """Keep the ids both inputs have without NaN (any column), sorted.

    Raises ``InsufficientOverlapError`` when either input loses more than
    ``max_filtered_ratio`` of its ids.
    """
    check_unique_ids(s1, "s1")
    check_unique_ids(s2, "s2")
    ids = s1.dropna().index.intersection(s2.dropna().index)
    check_overlap(len(ids), len(s1), max_filtered_ratio, "s1", "s2")
    check_overlap(len(ids), len(s2), max_filtered_ratio, "s2", "s1")
    return cast(S1, s1.loc[ids].sort_index()), cast(S2, s2.loc[ids].sort_index())


def valid_ids(index: pd.Index, values: np.ndarray) -> pd.Index:
    """Ids of the rows without NaN (in any column), as ``obj.dropna().index``,
    from the object's index and its values as float rows (shape (n,) or
    (k, n), one row per column)."""
    missing = np.isnan(np.atleast_2d(values)).any(axis=0)
    return index[~missing] if missing.any() else index


def filter_sort_ids(
    ids1: pd.Index, n1: int, ids2: pd.Index, n2: int, max_filtered_ratio: float = DEFAULT_MAX_FILTERED_INDEX_RATIO
) -> pd.Index:
    """The ids :func:`filter_sort_index` keeps, from each input's NaN-free ids
    and row count, sorted; no data is copied. Same overlap checks and errors."""
    ids = ids1.intersection(ids2)
    check_overlap(len(ids), n1, max_filtered_ratio, "s1", "s2")
    check_overlap(len(ids), n2, max_filtered_ratio, "s2", "s1")
    return ids if ids.is_monotonic_increasing else ids.sort_values()


def rows_at(index: pd.Index, values: np.ndarray, ids: pd.Index) -> np.ndarray:
    """The columns of ``values`` (shape (k, n), one column per id of ``index``)
    at ``ids``: a view when ``ids`` is ``index`` itself, otherwise a copy."""
    if ids.equals(index):
        return values
    return values[..., index.get_indexer(ids)]


def filter_sort_index_many(
    inputs: list[Any], max_filtered_ratio: float = DEFAULT_MAX_FILTERED_INDEX_RATIO
) -> list[Any]:
    """:func:`filter_sort_index` for any number of inputs."""
    if len(inputs) == 0:
        raise EmptyInputError("filter_sort_index_many needs at least one input")
    for i, item in enumerate(inputs):
        check_unique_ids(item, f"inputs[{i}]")
    ids = inputs[0].dropna().index
    for item in inputs[1:]:
        ids = ids.intersection(item.dropna().index)
    for i, item in enumerate(inputs):
        check_overlap(len(ids), len(item), max_filtered_ratio, f"inputs[{i}]", "the other inputs")
    return [item.loc[ids].sort_index() for item in inputs]


def filter_sort_top_bottom(s: pd.Series, top_bottom: int) -> tuple[pd.Series, pd.Series]:
    """The ``top_bottom`` highest and lowest values of ``s`` (ties by position), each sorted by id."""
    if top_bottom < 1 or 2 * top_bottom > len(s):
        raise DegenerateInputError(
            f"top_bottom={top_bottom} must be between 1 and half the number of ids ({len(s)})"
        )
    order = np.argsort(s.to_numpy(), kind="stable")
    return s.iloc[order[-top_bottom:]].sort_index(), s.iloc[order[:top_bottom]].sort_index()


def filter_sort_top_bottom_concat(s: pd.Series, top_bottom: int) -> pd.Series:
    """Top and bottom ``top_bottom`` values of ``s`` in one id-sorted series."""
    top, bottom = filter_sort_top_bottom(s, top_bottom)
    return pd.concat([top, bottom]).sort_index()


def _rank_values(values: np.ndarray, method: RankMethod) -> np.ndarray:
    """Percentile ranks of each column of a 2-D array, ``(rank - 0.5) / count``."""
    if method == "average":
        return kernels.tie_kept_rank_rows(values.T).T
    if method == "first":
        return kernels.tie_broken_rank_rows(values.T).T
    frame = pd.DataFrame(values)
    return ((frame.rank(method=method) - 0.5) / frame.count()).to_numpy()


def rank(s: S1, method: RankMethod = "average") -> S1:
    """Percentile rank each column (or the series), centred on 0.5; NaN stay NaN.

    ``method="average"`` keeps ties (tie-kept rank), ``"first"`` breaks them by
    position. The index must be sorted.
    """
    check_sorted(s, "input")
    if isinstance(s, pd.Series):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)[:, None]
        return pd.Series(_rank_values(values, method)[:, 0], index=s.index, name=s.name)
    values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(_rank_values(values, method), index=s.index, columns=s.columns)


def rank_series(s: pd.Series, method: RankMethod = "average") -> pd.Series:
    """Percentile rank of a series with a sorted index, centred on 0.5 (:func:`rank` for one series)."""
    return rank(s, method)


def tie_kept_rank(s: S1) -> S1:
    """Rank columns, keeping ties (average rank)."""
    return rank(s, "average")


def tie_broken_rank(df: pd.DataFrame) -> pd.DataFrame:
    """Rank columns, breaking ties by position."""
    return rank(df, "first")


def gaussian(df: pd.DataFrame) -> pd.DataFrame:
    """Normal quantile (inverse CDF) of each value: ranks in (0, 1) become N(0, 1) scores."""
    check_sorted(df, "input")
    values = ndtri(df.to_numpy(dtype=np.float64, na_value=np.nan))
    return pd.DataFrame(values, index=df.index, columns=df.columns)


def power(df: pd.DataFrame, p: float) -> pd.DataFrame:
    """Signed power ``sign(x) * |x| ** p`` of each column.

    Raises when the data has NaN, an unsorted index, or when a non-constant
    column ends up less than 90% correlated with its input.
    """
    check_no_nans(df, "input")
    check_sorted(df, "input")
    values = df.to_numpy(dtype=np.float64)
    result = kernels.signed_power(values, p)
    frame = pd.DataFrame(result, index=df.index, columns=df.columns)
    constant = result.std(axis=0) == 0
    correlations = np.array([
        np.nan if constant[j] else np.corrcoef(result[:, j], values[:, j])[0, 1]
        for j in range(values.shape[1])
    ])
    weak = ~constant & ~(correlations >= 0.9)
    if weak.any():
        column = df.columns[np.argmax(weak)]
        raise DegenerateInputError(
            f"power {p} of column {column!r} is only {correlations[np.argmax(weak)]:.3f} "
            "correlated with its input (needs >= 0.9)"
        )
    return frame


def min_max_normalize(s: pd.Series) -> pd.Series:
    """Shift and scale so the smallest value is 0 and the largest 1 (NaN stay NaN)."""
    low, high = s.min(), s.max()
    return (s - low) / (high - low)


def center(s: S1) -> S1:
    """Shift each column so its mean (ignoring NaN) is 0."""
    return cast(S1, s - s.mean())


def variance_normalize(df: pd.DataFrame) -> pd.DataFrame:
    """Scale each column to standard deviation 1 (ddof=0)."""
    return df / df.std(ddof=0)


def weight_normalize(s: S1) -> S1:
    """Scale each column so its absolute values sum to 1."""
    return cast(S1, s / s.abs().sum(axis=0))


def standardize(df: pd.DataFrame) -> pd.DataFrame:
    """Center, then scale to unit variance, each column."""
    return variance_normalize(center(df))


def orthogonalize(v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Remove from each column of ``v`` its projection on the vector ``u``."""
    return v - np.outer(u, (v.T @ u) / (u.T @ u))


def _well_conditioned_inverse(gram: np.ndarray, max_condition: float) -> np.ndarray | None:
    """Inverse of a symmetric positive definite Gram matrix through Cholesky,
    or None when it is singular or its estimated condition number exceeds
    ``max_condition`` (then the caller takes the eigendecomposition route)."""
    try:
        factor, lower = cho_factor(gram, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    reciprocal_condition, info = lapack.dpocon(factor, np.abs(gram).sum(axis=0).max(), uplo="L" if lower else "U")
    if info != 0 or reciprocal_condition * max_condition < 1:
        return None
    return cho_solve((factor, lower), np.eye(gram.shape[0]), check_finite=False)


class Neutralizer:
    """Least-squares projection onto a set of exposures plus an intercept.

    Factorizes the exposures once so any number of columns can be neutralized
    against them with two matrix products. The exposures are centered (the
    intercept takes the means) and scaled to unit norm, which leaves their
    span unchanged but makes the Gram matrix well conditioned; its
    eigendecomposition then gives the projection as accurately as an SVD at a
    fraction of the cost (Cholesky when well conditioned, otherwise an
    eigendecomposition). Directions with singular values below ``rcond``
    times the largest are dropped, as ``numpy.linalg.lstsq`` does; when the
    scaled exposures are still ill-conditioned (condition number above
    ``1 / sqrt(eps)``-ish, 1e3) an SVD basis is used instead.
    """

    #: Above this condition number the Gram route loses digits; use an SVD.
    MAX_GRAM_CONDITION = 1e3

    def __init__(self, exposures: np.ndarray, rcond: float = 1e-6) -> None:
        exposures = np.asarray(exposures)
        if exposures.ndim == 1:
            exposures = exposures[:, None]
        centered = np.subtract(exposures, exposures.mean(axis=0), dtype=np.float64)
        norms = np.sqrt(np.einsum("ij,ij->j", centered, centered))
        varying = norms > 0
        if varying.all():
            scaled = np.divide(centered, norms, out=centered)
        else:
            scaled = centered[:, varying] / norms[varying]
        self.basis: np.ndarray | None = None
        self.scaled = scaled
        self.inverse_gram = np.zeros((scaled.shape[1], scaled.shape[1]))
        if scaled.shape[1] == 0:
            return
        gram = kernels.gram(scaled)
        inverse = _well_conditioned_inverse(gram, self.MAX_GRAM_CONDITION**2)
        if inverse is not None:
            self.inverse_gram = inverse
            return
        eigenvalues, eigenvectors = np.linalg.eigh(gram)
        keep = eigenvalues > (rcond**2) * eigenvalues.max()
        condition = np.sqrt(eigenvalues.max() / eigenvalues[keep].min())
        if condition <= self.MAX_GRAM_CONDITION:
            kept = eigenvectors[:, keep]
            self.inverse_gram = (kept / eigenvalues[keep]) @ kept.T
        else:
            u, singular, _ = np.linalg.svd(scaled, full_matrices=False)
            self.basis = u[:, singular > rcond * singular.max()]

    def exposure_rows(self, rows: np.ndarray) -> np.ndarray:
        """The part of each row (shape (k, n): one vector per row) explained by
        the exposures and the intercept."""
        means = rows.mean(axis=1, keepdims=True)
        # (rows - means) @ B computed as rows @ B - means * colsum(B): no centered copy
        if self.basis is not None:
            fitted = (rows @ self.basis - means * self.basis.sum(axis=0)) @ self.basis.T
        else:
            loadings = rows @ self.scaled - means * self.scaled.sum(axis=0)
            fitted = (loadings @ self.inverse_gram) @ self.scaled.T
        fitted += means
        return fitted

    def residuals_rows(self, rows: np.ndarray, proportion: float = 1.0) -> np.ndarray:
        """Each row (shape (k, n)) minus ``proportion`` times its explained part."""
        fitted = self.exposure_rows(rows)
        if proportion != 1.0:
            fitted *= proportion
        np.subtract(rows, fitted, out=fitted)
        return fitted

    def residuals_up_to_shift(self, rows: np.ndarray) -> np.ndarray:
        """Full residuals of each row (shape (k, n)) up to a constant per row.

        The exposures are centered, so the intercept only moves each residual
        row by its mean; where only ranks matter (FNC) skipping it saves two
        passes over the data and leaves every rank unchanged.
        """
        if self.basis is not None:
            return self.residuals_rows(rows)
        fitted = ((rows @ self.scaled) @ self.inverse_gram) @ self.scaled.T
        return np.subtract(rows, fitted, out=fitted)

    def exposure(self, columns: np.ndarray) -> np.ndarray:
        """The part of each column (shape (n, k)) explained by the exposures and intercept."""
        return self.exposure_rows(columns.T).T

    def residuals(self, columns: np.ndarray, proportion: float = 1.0) -> np.ndarray:
        """Each column (shape (n, k)) minus ``proportion`` times its explained part."""
        return self.residuals_rows(columns.T, proportion).T


def neutralize(df: pd.DataFrame, neutralizers: pd.DataFrame, proportion: float = 1.0) -> pd.DataFrame:
    """Subtract ``proportion`` of each column's least-squares fit on the
    neutralizers (with an intercept). Constant columns become NaN."""
    check_no_nans(df, "data")
    check_no_nans(neutralizers, "neutralizers")
    check_same_index(df, neutralizers, "data", "neutralizers")
    values = df.to_numpy(dtype=np.float64)
    constant = values.std(axis=0) == 0
    neutral = np.full(values.shape, np.nan)
    if (~constant).any():
        model = Neutralizer(neutralizers.to_numpy(dtype=np.float64))
        neutral[:, ~constant] = model.residuals(values[:, ~constant], proportion)
    return pd.DataFrame(neutral, index=df.index, columns=df.columns)


def stake_weight(predictions: pd.DataFrame, stakes: pd.Series) -> pd.Series:
    """Stake-weighted mean of the staked prediction columns (the meta-model)."""
    missing = stakes.index.difference(predictions.columns)
    if len(missing):
        raise LengthMismatchError(f"stakes name {len(missing)} models without predictions, first: {missing[0]!r}")
    total = stakes.sum()
    if not np.isfinite(total) or total == 0:
        raise DegenerateInputError(f"stakes sum to {total}; need a positive total")
    return (predictions[stakes.index] * stakes).sum(axis=1) / total


def tie_kept_rank__gaussianize__pow_1_5(df: pd.DataFrame) -> pd.DataFrame:
    """Tie-kept rank, gaussianize, then signed power 1.5 of each column."""
    return power(gaussian(tie_kept_rank(df)), 1.5)


def tie_kept_rank__gaussianize__neutralize__variance_normalize(
    df: pd.DataFrame, neutralizers: pd.DataFrame
) -> pd.DataFrame:
    """Tie-kept rank, gaussianize, neutralize to ``neutralizers``, scale to std 1."""
    return variance_normalize(neutralize(gaussian(tie_kept_rank(df)), neutralizers))


def _one_hot_names(column: Any, categories: np.ndarray) -> list[str]:
    return [f"{column}_{category}" for category in categories]


def one_hot_encode(df: pd.DataFrame, columns: list[str], dtype: type = np.float64) -> pd.DataFrame:
    """Replace each of ``columns`` by one 0/1 column per distinct value, named ``{column}_{value}``.

    The new columns come after the others, values in sorted order (a NaN
    value last, as ``{column}_nan``), as scikit-learn's ``OneHotEncoder``
    names them.
    """
    result = df
    for column in columns:
        values = df[column].to_numpy()
        missing = pd.isna(values)
        categories = np.unique(values[~missing])
        indicators = values[:, None] == categories[None, :]
        if missing.any():
            categories = np.append(categories.astype(object), np.nan)
            indicators = np.hstack([indicators, missing[:, None]])
        encoded = pd.DataFrame(indicators.astype(dtype), index=df.index,
                               columns=_one_hot_names(column, categories))
        result = pd.concat([result.drop(columns=column), encoded], axis=1)
    return result


def as_frame(predictions: pd.DataFrame | pd.Series, name: str) -> pd.DataFrame:
    """Accept a single prediction series where a frame of columns is expected."""
    check_scoring_input(predictions, name)
    if isinstance(predictions, pd.Series):
        return predictions.to_frame(predictions.name if predictions.name is not None else 0)
    return predictions


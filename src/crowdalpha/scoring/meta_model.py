"""The meta-model: the stake-weighted consensus of the staked submissions.

Each submission is tie-kept ranked and gaussianized over the ids it covers,
then the meta-model of an id is the stake-weighted mean of the submissions
covering it (weights renormalized per id, since a submission may leave up to
a fifth of the ids out). An id that no staked submission covers gets 0, the
neutral value of a gaussianized column.
"""

from __future__ import annotations

import numpy as np

from crowdalpha.scoring import kernels
from crowdalpha.scoring.errors import DegenerateInputError, LengthMismatchError, MissingValuesError


def stake_weighted_meta_model(predictions: np.ndarray, stakes: np.ndarray) -> np.ndarray:
    """Meta-model of ``predictions`` (ids x models, NaN = id not predicted) weighted by ``stakes``.

    Models with zero stake take no part. Returns one value per id.
    """
    matrix = np.asarray(predictions, dtype=np.float64)
    weights = np.asarray(stakes, dtype=np.float64)
    if matrix.ndim != 2:
        raise LengthMismatchError(f"predictions must be ids x models, got {matrix.ndim} dimensions")
    if weights.shape != (matrix.shape[1],):
        raise LengthMismatchError(
            f"stakes have {weights.size} values but predictions have {matrix.shape[1]} models"
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise MissingValuesError("stakes must be finite and non-negative")
    staked = weights > 0
    if not staked.any():
        raise DegenerateInputError("no model has a positive stake; the meta-model is undefined")
    gaussianized = kernels.gaussian_rank_rows(matrix[:, staked].T)  # models x ids
    present = ~np.isnan(gaussianized)
    w = weights[staked][:, None]
    total = (w * present).sum(axis=0)
    weighted = (w * np.where(present, gaussianized, 0.0)).sum(axis=0)
    return np.divide(weighted, total, out=np.zeros_like(weighted), where=total > 0)


__all__ = ["stake_weighted_meta_model"]

"""Feature neutralization for participants: per era, partial, by feature group.

Neutralizing removes the part of a prediction a linear model of the features
explains; ``proportion`` < 1 removes only that share of it. Done per era,
because exposures that pay in one era burn in another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from crowdalpha.scoring.errors import (
    EmptyInputError,
    LengthMismatchError,
    MissingValuesError,
    NonNumericError,
)
from crowdalpha.scoring.kernels import gaussian_rank_rows
from crowdalpha.scoring.transforms import Neutralizer


def _check(predictions: pd.DataFrame, features: pd.DataFrame, proportion: float) -> None:
    if not 0.0 <= proportion <= 1.0:
        raise EmptyInputError(f"proportion must be within [0, 1], got {proportion}")
    if len(predictions) != len(features) or not predictions.index.equals(features.index):
        raise LengthMismatchError(
            f"predictions ({len(predictions)} rows) and features ({len(features)} rows) must share the same ids")
    for frame, name in ((predictions, "predictions"), (features, "features")):
        bad = [c for c, t in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
        if bad:
            raise NonNumericError(f"{name} column {bad[0]!r} has dtype {frame.dtypes[bad[0]]}, expected numbers")
        if frame.isna().to_numpy().any():
            column = frame.columns[frame.isna().any().to_numpy()][0]
            raise MissingValuesError(f"{name} column {column!r} contains NaN")


def neutralize_per_era(
    predictions: pd.DataFrame,
    features: pd.DataFrame,
    eras: pd.Series | np.ndarray | None = None,
    proportion: float = 1.0,
    gaussianize: bool = True,
) -> pd.DataFrame:
    """Neutralize each prediction column to ``features`` within each era.

    With ``gaussianize`` the columns are first tie-kept ranked and
    gaussianized per era (as FNC does); each result is scaled to std 1.
    """
    _check(predictions, features, proportion)
    era_values = np.zeros(len(predictions)) if eras is None else np.asarray(eras)
    if len(era_values) != len(predictions):
        raise LengthMismatchError(f"eras have {len(era_values)} rows but predictions have {len(predictions)}")
    out = np.empty(predictions.shape)
    values = predictions.to_numpy(dtype=np.float64)
    exposures = features.to_numpy(dtype=np.float64)
    for era in pd.unique(era_values):
        rows = np.flatnonzero(era_values == era)
        block = values[rows]
        if gaussianize:
            block = gaussian_rank_rows(block.T).T
        residual = Neutralizer(exposures[rows]).residuals(block, proportion)
        spread = residual.std(axis=0)
        out[rows] = residual / np.where(spread > 0, spread, np.nan)
    return pd.DataFrame(out, index=predictions.index, columns=predictions.columns)


def neutralize_by_groups(
    predictions: pd.DataFrame,
    features: pd.DataFrame,
    groups: Mapping[str, Sequence[str]],
    proportion: float | Mapping[str, float] = 1.0,
    eras: pd.Series | np.ndarray | None = None,
) -> pd.DataFrame:
    """Neutralize to each feature group in turn, each with its own proportion.

    ``groups`` maps a group name to its feature columns (as in features.json's
    feature sets); ``proportion`` is one share for all groups or one per group.
    """
    if not groups:
        raise EmptyInputError("groups is empty; name at least one feature group")
    result = predictions
    for name, columns in groups.items():
        missing = [c for c in columns if c not in features.columns]
        if missing:
            raise LengthMismatchError(f"feature group {name!r} names unknown feature {missing[0]!r}")
        if not columns:
            raise EmptyInputError(f"feature group {name!r} has no features")
        if isinstance(proportion, Mapping) and name not in proportion:
            raise EmptyInputError(f"proportion gives no share for feature group {name!r}")
        share = proportion[name] if isinstance(proportion, Mapping) else proportion
        result = neutralize_per_era(result, features[list(columns)], eras, share, gaussianize=result is predictions)
    return result

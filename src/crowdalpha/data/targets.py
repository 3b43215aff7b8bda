"""Per-era numeric steps of the dataset: feature bins, target neutralization and bins.

Pure functions on one era's arrays, shared by the dataset builder, the market
simulator's day-by-day targets and operator panels, so a target means the
same thing wherever it is computed. Ranks come from the scoring engine's
kernels (one implementation of tie-kept ranks in the project).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from crowdalpha.errors import ConfigError
from crowdalpha.scoring.kernels import tie_kept_rank_rows
from crowdalpha.scoring.transforms import Neutralizer

#: Number of equal-count feature bins per era (values 0..4).
FEATURE_BINS = 5
#: Bin value given to a missing raw feature: the middle bin.
MISSING_FEATURE_BIN = 2
#: Target bin edges on the per-era percentile rank: 5/20/50/20/5 %.
TARGET_BIN_EDGES = (0.05, 0.25, 0.75, 0.95)
#: The value of each target bin.
TARGET_BIN_VALUES = (0.0, 0.25, 0.5, 0.75, 1.0)

#: Neutralization sets a target can name: which risk exposures it removes.
NEUTRALIZATIONS = ("full", "sector", "market")


@dataclass(frozen=True)
class TargetSpec:
    """One target column: forward residual return over ``horizon`` days,
    neutral to the exposures of ``neutralization``, ranked and binned.

    ``full`` removes every risk exposure (market beta, sector, country,
    currency and style factors); ``sector`` removes market beta and sectors;
    ``market`` removes market beta only. All remove the era mean.
    """

    name: str
    horizon: int
    neutralization: str = "full"


#: The default targets; the first one is also published as the main ``target``.
DEFAULT_TARGETS: tuple[TargetSpec, ...] = (
    TargetSpec("target_ender_20", 20, "full"),
    TargetSpec("target_ender_60", 60, "full"),
    TargetSpec("target_jasper_20", 20, "sector"),
    TargetSpec("target_jasper_60", 60, "sector"),
    TargetSpec("target_cyrus_20", 20, "market"),
    TargetSpec("target_cyrus_60", 60, "market"),
)

#: Name of the main target column (a copy of the first target spec).
MAIN_TARGET = "target"


def bin_features(raw: np.ndarray) -> np.ndarray:
    """Five equal-count bins per column of one era's raw features ``(n, f)``.

    Tie-kept percentile rank of each column, ``floor(5 * pct)``, as int8;
    ties share a bin and a missing value goes to the middle bin.
    Works on column blocks so a wide era never needs a float64 copy of itself.
    """
    raw = np.asarray(raw)
    n, f = raw.shape
    out = np.empty((n, f), dtype=np.int8, order="F")
    block = 128
    for start in range(0, f, block):
        part = np.asarray(raw[:, start : start + block], dtype=np.float64).T
        pct = tie_kept_rank_rows(part)
        bins = np.floor(pct * FEATURE_BINS)
        np.clip(bins, 0, FEATURE_BINS - 1, out=bins)
        bins[np.isnan(bins)] = MISSING_FEATURE_BIN
        out[:, start : start + block] = bins.T.astype(np.int8)
    return out


def bin_target(values: np.ndarray) -> np.ndarray:
    """Rank one era's values and bin them 5/20/50/20/5 % into 0, .25, .5, .75, 1.

    NaN stays NaN; the others are ranked among themselves (ties kept).
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    valid = ~np.isnan(values)
    if not valid.any():
        return out
    pct = tie_kept_rank_rows(values[valid])
    codes = np.searchsorted(np.asarray(TARGET_BIN_EDGES), pct, side="right")
    out[valid] = np.asarray(TARGET_BIN_VALUES)[codes]
    return out


def neutral_residuals(values: np.ndarray, exposures: np.ndarray | None,
                      fits: dict[bytes, Neutralizer] | None = None) -> np.ndarray:
    """Least-squares residuals of ``values`` on ``exposures`` plus an intercept.

    Rows where ``values`` is NaN stay NaN and do not take part in the fit.
    ``fits`` caches the factorization per set of valid rows, so several
    return horizons of one era share it.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    valid = ~np.isnan(values)
    if valid.sum() < 2:
        return out
    if exposures is None or exposures.shape[1] == 0:
        out[valid] = values[valid] - values[valid].mean()
        return out
    key = np.packbits(valid).tobytes()
    fit = None if fits is None else fits.get(key)
    if fit is None:
        fit = Neutralizer(np.asarray(exposures, dtype=np.float64)[valid])
        if fits is not None:
            fits[key] = fit
    out[valid] = fit.residuals(values[valid][:, None])[:, 0]
    return out


def dummies(labels: np.ndarray) -> np.ndarray:
    """One-hot columns (float64) of a categorical vector; one column per level."""
    _, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    out = np.zeros((len(codes), int(codes.max()) + 1 if len(codes) else 0))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def neutralizer_matrix(numeric: Mapping[str, np.ndarray], categorical: Mapping[str, np.ndarray],
                       neutralization: str) -> np.ndarray:
    """The exposures one neutralization removes, as an ``(n, k)`` float64 matrix.

    ``numeric`` holds the ``risk_*`` exposures by name (without the prefix),
    ``categorical`` the ``sector``/``country``/``currency`` labels.
    """
    if neutralization not in NEUTRALIZATIONS:
        raise ConfigError(f"neutralization {neutralization!r} is not one of {NEUTRALIZATIONS}")
    columns: list[np.ndarray] = []
    n = _common_length(numeric, categorical)
    if neutralization == "full":
        columns += [np.asarray(v, dtype=np.float64)[:, None] for v in numeric.values()]
        columns += [dummies(v) for v in categorical.values()]
    else:
        if "beta" in numeric:
            columns.append(np.asarray(numeric["beta"], dtype=np.float64)[:, None])
        if neutralization == "sector" and "sector" in categorical:
            columns.append(dummies(categorical["sector"]))
    if not columns:
        return np.empty((n, 0))
    return np.hstack(columns)


def _common_length(*mappings: Mapping[str, np.ndarray]) -> int:
    for mapping in mappings:
        for v in mapping.values():
            return len(v)
    return 0


def make_targets(forward_returns: Mapping[int, np.ndarray], numeric: Mapping[str, np.ndarray],
                 categorical: Mapping[str, np.ndarray],
                 specs: Sequence[TargetSpec] = DEFAULT_TARGETS) -> dict[str, np.ndarray]:
    """Every target of one era from its forward returns by horizon and its exposures.

    1. residuals of the horizon's forward return on the spec's exposures
    2. tie-kept percentile rank per era
    3. bins 5/20/50/20/5 % -> 0, .25, .5, .75, 1

    The first spec is also returned as the main target ``target``.
    """
    matrices: dict[str, np.ndarray] = {}
    fits: dict[str, dict[bytes, Neutralizer]] = {}
    out: dict[str, np.ndarray] = {}
    for spec in specs:
        if spec.neutralization not in matrices:
            matrices[spec.neutralization] = neutralizer_matrix(numeric, categorical,
                                                               spec.neutralization)
            fits[spec.neutralization] = {}
        residual = neutral_residuals(forward_returns[spec.horizon], matrices[spec.neutralization],
                                     fits[spec.neutralization])
        out[spec.name] = bin_target(residual)
    result = {MAIN_TARGET: out[specs[0].name]}
    result.update(out)
    return result


__all__ = [
    "DEFAULT_TARGETS",
    "FEATURE_BINS",
    "MAIN_TARGET",
    "MISSING_FEATURE_BIN",
    "NEUTRALIZATIONS",
    "TARGET_BIN_EDGES",
    "TARGET_BIN_VALUES",
    "TargetSpec",
    "bin_features",
    "bin_target",
    "dummies",
    "make_targets",
    "neutral_residuals",
    "neutralizer_matrix",
]

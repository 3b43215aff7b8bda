"""The batch engine: many prediction columns over many eras in one call.

This is the fast path the server, diagnostics and simulations use. Per era it
prepares everything shared by all models once (the centered and powered
target, the gaussianized meta-model and benchmark, the factorized features)
and then scores the models in blocks: each column is ranked and gaussianized
once and the result feeds CORR, MMC, BMC and FNC.

Each (model, era) score equals the drop-in function called on that model's
column for that era's rows (``numerai_corr``, ``correlation_contribution``
with the meta-model or the benchmark, ``feature_neutral_corr``,
``max_feature_correlation``), wherever the drop-in returns a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from crowdalpha.scoring import kernels
from crowdalpha.scoring.errors import (
    EmptyInputError,
    InsufficientOverlapError,
    LengthMismatchError,
    MissingValuesError,
    NonNumericError,
)
from crowdalpha.scoring.transforms import DEFAULT_MAX_FILTERED_INDEX_RATIO, Neutralizer

#: Every metric the batch engine computes, in output order.
METRICS = ("corr", "mmc", "bmc", "fnc", "fe_max", "fe_rms")
#: Models scored together in one block (bounds the working memory per era).
MODEL_BLOCK = 256

Metric = Literal["corr", "mmc", "bmc", "fnc", "fe_max", "fe_rms"]


@dataclass(frozen=True)
class _Inputs:
    predictions: np.ndarray  # (n, k), any layout
    models: list[str]
    targets: np.ndarray  # (n,)
    eras: np.ndarray  # (n,) era labels
    meta_model: np.ndarray | None
    benchmark: np.ndarray | None
    features: np.ndarray | None  # (n, f)


@dataclass
class _EraContext:
    """What all models of one era share, computed once."""

    target_centered: np.ndarray  # target minus the era mean
    target_corr: np.ndarray  # centered target, 1.5-powered when asked
    target_contribution: np.ndarray  # (x4 when in [0,1]) then centered
    meta: np.ndarray | None  # gaussianized meta-model
    bench: np.ndarray | None  # gaussianized benchmark
    neutralizer: Neutralizer | None
    features_std: np.ndarray | None  # standardized features (n, f), 0 for constant ones
    constant_features: np.ndarray | None  # (f,) True where a feature does not vary


def score_eras(
    predictions: Any,
    targets: Any,
    eras: Any = None,
    meta_model: Any = None,
    benchmark: Any = None,
    features: Any = None,
    metrics: Iterable[Metric] | None = None,
    *,
    models: Sequence[str] | None = None,
    max_filtered_index_ratio: float = DEFAULT_MAX_FILTERED_INDEX_RATIO,
    target_pow15: bool = True,
    on_insufficient: Literal["raise", "nan"] = "raise",
) -> pd.DataFrame:
    """Score every prediction column in every era.

    ``predictions`` is a pandas or polars frame (one column per model) or a 2-D
    numpy array (rows = ids); ``targets``, ``eras``, ``meta_model`` and
    ``benchmark`` are row-aligned vectors, ``features`` a row-aligned frame or
    array. ``eras=None`` scores all rows as one era labelled ``"all"``.

    Rows whose target is NaN are left out. A model's NaN predictions leave
    those ids out of its scores; a model must still cover at least
    ``1 - max_filtered_index_ratio`` of the era's scored ids, otherwise the
    engine raises ``InsufficientOverlapError`` (or gives NaN scores with
    ``on_insufficient="nan"``). FNC and feature exposure use all of an era's
    ids the model predicts, as the drop-in functions do.

    Returns a tidy frame with columns ``model``, ``era``, ``metric``, ``value``.
    By default every metric whose inputs were given is computed.
    """
    data = _collect_inputs(predictions, targets, eras, meta_model, benchmark, features, models)
    wanted = _resolve_metrics(metrics, data)
    codes, era_labels = pd.factorize(data.eras, sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(era_labels)))])
    k = len(data.models)
    results = np.full((len(era_labels), len(wanted), k), np.nan)
    # our worker threads parallelize over models; a second layer of BLAS
    # threads would only compete with them for the same cores
    with kernels.single_threaded_blas():
        for e, label in enumerate(era_labels):
            rows = np.sort(order[bounds[e] : bounds[e + 1]])
            results[e] = _score_era(data, rows, str(label), wanted, max_filtered_index_ratio,
                                    target_pow15, on_insufficient)
    return _tidy(results, [str(x) for x in era_labels], wanted, data.models)


def _tidy(results: np.ndarray, eras: list[str], wanted: list[str], models: list[str]) -> pd.DataFrame:
    n_eras, n_metrics, k = results.shape
    return pd.DataFrame({
        "model": np.tile(np.asarray(models, dtype=object), n_eras * n_metrics),
        "era": np.repeat(np.asarray(eras, dtype=object), n_metrics * k),
        "metric": np.tile(np.repeat(np.asarray(wanted, dtype=object), k), n_eras),
        "value": results.reshape(-1),
    })


def _resolve_metrics(metrics: Iterable[str] | None, data: _Inputs) -> list[str]:
    needs = {"mmc": ("meta_model", data.meta_model), "bmc": ("benchmark", data.benchmark),
             "fnc": ("features", data.features), "fe_max": ("features", data.features),
             "fe_rms": ("features", data.features)}
    if metrics is None:
        return [m for m in METRICS if m == "corr" or needs[m][1] is not None]
    wanted = list(dict.fromkeys(metrics))
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        raise NonNumericError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    for m in wanted:
        if m in needs and needs[m][1] is None:
            raise EmptyInputError(f"metric {m!r} needs {needs[m][0]}, which was not given")
    if not wanted:
        raise EmptyInputError("metrics is empty; ask for at least one of " + ", ".join(METRICS))
    return [m for m in METRICS if m in wanted]


# --------------------------------------------------------------------------- inputs

def _to_matrix(obj: Any, name: str) -> tuple[np.ndarray, list[str]]:
    """A 2-D float view/copy of a pandas/polars frame or array, with column names."""
    if isinstance(obj, pd.Series):
        obj = obj.to_frame()
    if isinstance(obj, pd.DataFrame):
        bad = [c for c, t in obj.dtypes.items()
               if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t)]
        if bad:
            raise NonNumericError(f"{name} column {bad[0]!r} has dtype {obj.dtypes[bad[0]]}, expected numbers")
        names = [str(c) for c in obj.columns]
        if all(isinstance(t, np.dtype) for t in obj.dtypes):
            return obj.to_numpy(), names  # a view when the frame is one block: no copy
        return obj.to_numpy(dtype=np.float64, na_value=np.nan), names
    if _is_polars_frame(obj):
        bad = [c for c, t in obj.schema.items() if not t.is_numeric()]
        if bad:
            raise NonNumericError(f"{name} column {bad[0]!r} has dtype {obj.schema[bad[0]]}, expected numbers")
        return obj.to_numpy(), [str(c) for c in obj.columns]
    array = np.asarray(obj)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise LengthMismatchError(f"{name} must be 2-D (ids x columns), got {array.ndim} dimensions")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_):
        raise NonNumericError(f"{name} has dtype {array.dtype}, expected numbers")
    return array, [str(i) for i in range(array.shape[1])]


def _is_polars_frame(obj: Any) -> bool:
    return type(obj).__module__.startswith("polars") and hasattr(obj, "schema")


def _to_vector(obj: Any, name: str, n: int, numeric: bool = True) -> np.ndarray | None:
    if obj is None:
        return None
    if isinstance(obj, pd.DataFrame) or _is_polars_frame(obj):
        if obj.shape[1] != 1:
            raise LengthMismatchError(f"{name} must be one column, got {obj.shape[1]}")
        obj = obj.to_numpy()[:, 0] if _is_polars_frame(obj) else obj.iloc[:, 0]
    if isinstance(obj, pd.Series):
        if numeric and not (pd.api.types.is_numeric_dtype(obj.dtype) and not pd.api.types.is_bool_dtype(obj.dtype)):
            raise NonNumericError(f"{name} has dtype {obj.dtype}, expected numbers")
        array = obj.to_numpy(dtype=np.float64, na_value=np.nan) if numeric else obj.to_numpy()
    elif type(obj).__module__.startswith("polars"):
        array = obj.to_numpy()
    else:
        array = np.asarray(obj)
    if array.ndim != 1:
        raise LengthMismatchError(f"{name} must be 1-D, got shape {array.shape}")
    if len(array) != n:
        raise LengthMismatchError(f"{name} has {len(array)} rows but predictions have {n}")
    if numeric:
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_):
            raise NonNumericError(f"{name} has dtype {array.dtype}, expected numbers")
        array = array.astype(np.float64, copy=False)
        if np.isinf(array).any():
            raise MissingValuesError(f"{name} has {int(np.isinf(array).sum())} infinite values, "
                                     f"first at row {int(np.argmax(np.isinf(array)))}")
    return array


def _collect_inputs(predictions: Any, targets: Any, eras: Any, meta_model: Any, benchmark: Any,
                    features: Any, models: Sequence[str] | None) -> _Inputs:
    matrix, names = _to_matrix(predictions, "predictions")
    n, k = matrix.shape
    if n == 0 or k == 0:
        raise EmptyInputError(f"predictions have {n} rows and {k} columns")
    if models is not None:
        if len(models) != k:
            raise LengthMismatchError(f"models names {len(models)} columns but predictions have {k}")
        names = [str(m) for m in models]
    if len(set(names)) != len(names):
        dupes = sorted({m for m in names if names.count(m) > 1})
        raise LengthMismatchError(f"predictions have duplicated model columns: {dupes[:3]}")
    infinite = np.isinf(matrix)
    if infinite.any():
        row, col = np.argwhere(infinite)[0]
        raise MissingValuesError(f"predictions column {names[col]!r} has infinite values, first at row {row}")
    target = _to_vector(targets, "targets", n)
    if np.isnan(target).all():
        raise MissingValuesError("targets are all NaN")
    era_vector = np.full(n, "all", dtype=object) if eras is None else _to_vector(eras, "eras", n, numeric=False)
    if pd.isna(pd.Series(era_vector)).any():
        raise MissingValuesError("eras contain missing labels")
    feature_matrix = None
    if features is not None:
        feature_matrix, feature_names = _to_matrix(features, "features")
        if feature_matrix.shape[0] != n:
            raise LengthMismatchError(f"features have {feature_matrix.shape[0]} rows but predictions have {n}")
        bad = ~np.isfinite(feature_matrix)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise MissingValuesError(f"features column {feature_names[col]!r} has {int(bad.sum())} "
                                     f"NaN or infinite values, first at row {row}")
    return _Inputs(matrix, names, target, era_vector,
                   _to_vector(meta_model, "meta_model", n), _to_vector(benchmark, "benchmark", n),
                   feature_matrix)


# --------------------------------------------------------------------------- one era

def _prepare_era(data: _Inputs, rows: np.ndarray, scored: np.ndarray, wanted: list[str],
                 target_pow15: bool, era: str) -> _EraContext:
    """What every model of the era shares: targets, reference ranks, feature factorization."""
    target = data.targets[rows]
    target_centered = target - np.nanmean(target)
    t = target_centered[scored]
    target_corr = kernels.signed_power(t, 1.5) if target_pow15 else t
    contribution = data.targets[rows][scored]
    if ((contribution >= 0) & (contribution <= 1)).all():
        contribution = contribution * 4
    contribution = contribution - contribution.mean()

    def reference(values: np.ndarray | None, name: str, metric: str) -> np.ndarray | None:
        if values is None or metric not in wanted:
            return None
        part = values[rows][scored]
        if np.isnan(part).any():
            raise MissingValuesError(f"{name} has {int(np.isnan(part).sum())} NaN values in era {era!r} "
                                     "where the target is known")
        return kernels.gaussian_rank_rows(part)

    era_features = None if data.features is None else _take_rows(data.features, rows)
    return _EraContext(target_centered, target_corr, contribution,
                       reference(data.meta_model, "meta_model", "mmc"),
                       reference(data.benchmark, "benchmark", "bmc"),
                       *_feature_context(era_features, wanted))


def _feature_context(features: np.ndarray | None, wanted: list[str],
                     ) -> tuple[Neutralizer | None, np.ndarray | None, np.ndarray | None]:
    """The era's feature factorization (FNC) and standardized features (exposure)."""
    if features is None:
        return None, None, None
    neutralizer = Neutralizer(features) if "fnc" in wanted else None
    if not {"fe_max", "fe_rms"} & set(wanted):
        return neutralizer, None, None
    standardized, constant = _standardize_rows(features.T)
    return neutralizer, standardized.T, constant


def _standardize_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows scaled to mean 0 and unit root-mean-square (constant rows: 0), and
    which rows were constant."""
    centered = values - values.mean(axis=1, keepdims=True)
    scale = np.sqrt((centered**2).mean(axis=1, keepdims=True))
    constant = scale[:, 0] == 0
    return centered / np.where(constant[:, None], 1.0, scale), constant


def _score_era(data: _Inputs, rows: np.ndarray, era: str, wanted: list[str], ratio: float,
               target_pow15: bool, on_insufficient: str) -> np.ndarray:
    """Scores (metric x model) of one era."""
    scored = ~np.isnan(data.targets[rows])
    if not scored.any():
        raise MissingValuesError(f"era {era!r} has no known targets")
    context = _prepare_era(data, rows, scored, wanted, target_pow15, era)
    k = len(data.models)
    out = np.full((len(wanted), k), np.nan)
    for start in range(0, k, MODEL_BLOCK):
        _score_models(data, rows, start, scored, context, wanted, era, ratio, target_pow15,
                      on_insufficient, out)
    return out


def _take_rows(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``matrix[rows]`` for sorted row indices, as a view (no copy) when they are one run."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return matrix[rows[0] : rows[-1] + 1]
    return matrix[rows]


def _score_models(data: _Inputs, rows: np.ndarray, start: int, scored: np.ndarray, context: _EraContext,
                  wanted: list[str], era: str, ratio: float, target_pow15: bool, on_insufficient: str,
                  out: np.ndarray) -> None:
    """Score models ``start .. start + MODEL_BLOCK`` of one era into ``out``."""
    block = np.ascontiguousarray(_take_rows(data.predictions, rows)[:, start : start + MODEL_BLOCK].T,
                                 dtype=np.float64)
    incomplete = np.isnan(block).any(axis=1)
    if not incomplete.any():
        out[:, start : start + block.shape[0]] = _score_block(block, scored, context, wanted)
        return
    complete = np.flatnonzero(~incomplete)
    if len(complete):
        out[:, start + complete] = _score_block(block[complete], scored, context, wanted)
    for j in np.flatnonzero(incomplete):
        out[:, start + j] = _score_incomplete(block[j], scored, context, data, rows, wanted,
                                              data.models[start + j], era, ratio,
                                              target_pow15, on_insufficient)


def _score_block(block: np.ndarray, scored: np.ndarray, ctx: _EraContext, wanted: list[str],
                 ) -> np.ndarray:
    """All metrics for complete rows of predictions ``block`` (k, n_era).

    Each row block runs start to finish in one worker while it is in cache:
    rank-gaussianize once; CORR, MMC and BMC from those ranks; FNC neutralizes
    the same ranks (when every id is scored) and re-ranks; exposures last.
    """
    k, n = block.shape
    out = np.full((len(wanted), k), np.nan)
    all_scored = bool(scored.all())
    target_centered = ctx.target_corr - ctx.target_corr.mean()
    references = [(wanted.index(name), ref) for name, ref in (("mmc", ctx.meta), ("bmc", ctx.bench))
                  if name in wanted]
    want_ranks = bool({"corr", "mmc", "bmc"} & set(wanted))

    def work(rows: slice) -> None:
        part = block[rows]
        gauss_all = None
        if want_ranks:
            order, gauss_sorted = kernels.sorted_gaussian_ranks(part if all_scored else part[:, scored])
            if "corr" in wanted:
                out[wanted.index("corr"), rows] = kernels.sorted_corr(gauss_sorted, order, target_centered)
            if references:
                g_dot_target = np.einsum("ij,ij->i", gauss_sorted, ctx.target_contribution[order])
                for i, reference in references:
                    g_dot_reference = np.einsum("ij,ij->i", gauss_sorted, reference[order])
                    out[i, rows] = kernels.contribution(g_dot_target, g_dot_reference, reference,
                                                        ctx.target_contribution, order.shape[1])
            if "fnc" in wanted and all_scored:
                gauss_all = np.empty(part.shape)
                np.put_along_axis(gauss_all, order, gauss_sorted, axis=1)
        if "fnc" in wanted:
            if gauss_all is None:
                gauss_all = kernels.rank_complete_block(part)
            # a fully explained prediction leaves a constant residual: all ties, CORR NaN
            order, regauss, _ = kernels.neutral_sorted_ranks(gauss_all, ctx.neutralizer.residuals_up_to_shift,
                                                             None if all_scored else scored)
            out[wanted.index("fnc"), rows] = kernels.sorted_corr(regauss, order, target_centered)
        if "fe_max" in wanted or "fe_rms" in wanted:
            exposures = _feature_exposures(part, ctx)
            for metric in ("fe_max", "fe_rms"):
                if metric in wanted:
                    out[wanted.index(metric), rows] = _exposure_summary(exposures, metric)

    kernels.for_row_blocks(work, k, n)
    return out


def _feature_exposures(block: np.ndarray, ctx: _EraContext) -> np.ndarray:
    """Pearson correlation of each prediction row with each feature: (k, f);
    NaN for constant predictions or features."""
    standardized, constant = _standardize_rows(block)
    exposures = standardized @ ctx.features_std / block.shape[1]
    exposures[constant] = np.nan
    exposures[:, ctx.constant_features] = np.nan
    return exposures


def _exposure_summary(exposures: np.ndarray, metric: str) -> np.ndarray:
    magnitude = np.abs(exposures)
    valid = ~np.isnan(magnitude)
    count = valid.sum(axis=1)
    filled = np.where(valid, magnitude, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "fe_max":
            result = np.where(count > 0, filled.max(axis=1), np.nan)
        else:
            result = np.sqrt((filled**2).sum(axis=1) / count)
    return np.where(count > 0, result, np.nan)


def _score_incomplete(values: np.ndarray, scored: np.ndarray, ctx: _EraContext, data: _Inputs,
                      rows: np.ndarray, wanted: list[str], model: str, era: str, ratio: float,
                      target_pow15: bool, on_insufficient: str) -> np.ndarray:
    """Scores of one model that lacks some ids: everything is recomputed on the
    ids it does predict, as the drop-in functions would."""
    present = ~np.isnan(values)
    covered = present & scored
    n_scored = int(scored.sum())
    if covered.sum() / n_scored < 1 - ratio or not covered.any():
        if on_insufficient == "nan":
            return np.full(len(wanted), np.nan)
        raise InsufficientOverlapError(
            f"model {model!r} predicts {int(covered.sum())} of the {n_scored} scored ids of era {era!r} "
            f"({covered.sum() / n_scored:.1%}), need at least {1 - ratio:.0%}")
    sub_scored = covered[present]  # which of the model's ids have targets
    t_centered = ctx.target_centered[covered]
    contribution = data.targets[rows][covered]
    if ((contribution >= 0) & (contribution <= 1)).all():
        contribution = contribution * 4
    contribution = contribution - contribution.mean()

    def reference(source: np.ndarray | None) -> np.ndarray | None:
        return None if source is None else kernels.gaussian_rank_rows(source[rows][covered])

    features = None if data.features is None else data.features[rows][present].astype(np.float64)
    neutralizer, features_std, constant_features = _feature_context(features, wanted)
    sub_context = _EraContext(
        target_centered=t_centered,
        target_corr=kernels.signed_power(t_centered, 1.5) if target_pow15 else t_centered,
        target_contribution=contribution,
        meta=reference(data.meta_model) if "mmc" in wanted else None,
        bench=reference(data.benchmark) if "bmc" in wanted else None,
        neutralizer=neutralizer,
        features_std=features_std,
        constant_features=constant_features,
    )
    return _score_block(values[present][None, :], sub_scored, sub_context, wanted)[:, 0]


__all__ = ["METRICS", "score_eras"]


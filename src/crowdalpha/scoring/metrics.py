"""Tournament metrics on pandas inputs (numerai-tools 0.7 drop-ins).

Each scorer's docstring lists its steps in order. All return a Series indexed
by the prediction columns and never modify their inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crowdalpha.scoring import kernels
from crowdalpha.scoring.errors import DegenerateInputError, LengthMismatchError, ScoringInputError
from crowdalpha.scoring.transforms import (
    DEFAULT_MAX_FILTERED_INDEX_RATIO,
    Neutralizer,
    as_frame,
    center,
    filter_sort_ids,
    filter_sort_index,
    filter_sort_index_many,
    filter_sort_top_bottom_concat,
    gaussian,
    neutralize,
    orthogonalize,
    power,
    rows_at,
    tie_broken_rank,
    tie_kept_rank,
    tie_kept_rank__gaussianize__neutralize__variance_normalize,
    tie_kept_rank__gaussianize__pow_1_5,
    valid_ids,
    weight_normalize,
)
from crowdalpha.scoring.validation import (
    check_no_nans,
    check_same_index,
    check_scoring_input,
    check_sorted,
)


def validate_indices(live_targets: pd.Series, predictions: pd.Series) -> None:
    """Targets and predictions have the same ids, sorted, and no NaN."""
    check_sorted(live_targets, "live_targets")
    check_sorted(predictions, "predictions")
    check_same_index(live_targets, predictions, "live_targets", "predictions")
    check_no_nans(predictions, "predictions")
    check_no_nans(live_targets, "live_targets")


def _pearson(target: pd.Series, predictions: pd.Series) -> float:
    return float(kernels.row_pearson(predictions.to_numpy(dtype=np.float64)[None, :],
                                     target.to_numpy(dtype=np.float64))[0])


def correlation(live_targets: pd.Series, predictions: pd.Series) -> float:
    """Pearson correlation of targets and predictions with the same sorted ids, no NaN."""
    validate_indices(live_targets, predictions)
    return _pearson(live_targets, predictions)


def tie_broken_rank_correlation(target: pd.Series, predictions: pd.Series) -> float:
    """Pearson correlation of the target with the predictions' tie-broken percentile ranks.

    1. rank the predictions, ties broken by position
    2. :func:`correlation` with the target
    """
    return correlation(target, tie_broken_rank(predictions.to_frame()).iloc[:, 0])


def spearman_correlation(target: pd.Series, predictions: pd.Series) -> float:
    """Spearman rank correlation: Pearson correlation of the tie-kept ranks of both."""
    validate_indices(target, predictions)
    return _pearson(tie_kept_rank(target), tie_kept_rank(predictions))


def pearson_correlation(target: pd.Series, predictions: pd.Series, top_bottom: int | None = None) -> float:
    """Pearson correlation of aligned, sorted, NaN-free series; optionally only
    over the ``top_bottom`` highest and lowest predictions."""
    if top_bottom is not None and top_bottom > 0:
        predictions = filter_sort_top_bottom_concat(predictions, top_bottom)
        target, predictions = filter_sort_index(target, predictions, 1 - top_bottom / len(target))
    check_sorted(target, "target")
    check_same_index(target, predictions, "target", "predictions")
    check_no_nans(target, "target")
    check_no_nans(predictions, "predictions")
    return _pearson(target, predictions)


def _columnwise_pearson(target: pd.Series, predictions: pd.DataFrame, top_bottom: int | None) -> pd.Series:
    if top_bottom is not None and top_bottom > 0:
        return predictions.apply(lambda column: pearson_correlation(target, column, top_bottom))
    check_same_index(target, predictions, "targets", "predictions")
    scores = kernels.row_pearson(predictions.to_numpy(dtype=np.float64).T, target.to_numpy(dtype=np.float64))
    return pd.Series(scores, index=predictions.columns)


def sharpe_ratio(s: pd.Series) -> float:
    """Mean over standard deviation (ddof=0) of a per-era score series."""
    values = np.asarray(s, dtype=np.float64)
    return float(np.mean(values) / np.std(values))


def _column_rows(frame: pd.DataFrame) -> np.ndarray:
    """A frame's values as one float row per column (shape (k, n)): a view of
    the frame's data when it is one float64 block."""
    if set(frame.dtypes) == {np.dtype(np.float64)}:
        return frame.to_numpy().T
    return frame.to_numpy(dtype=np.float64, na_value=np.nan).T


def _series_values(s: pd.Series) -> np.ndarray:
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def _check_power_correlation(power_corr: np.ndarray, columns: pd.Index) -> None:
    """numerai-tools' check that each column's 1.5 power is >= 90 % correlated
    with its gaussianized ranks (NaN, a constant column, passes)."""
    weak = ~np.isnan(power_corr) & ~(power_corr >= 0.9)
    if weak.any():
        raise DegenerateInputError(
            f"power 1.5 of column {columns[np.argmax(weak)]!r} is only "
            f"{power_corr[np.argmax(weak)]:.3f} correlated with its input (needs >= 0.9)"
        )


def _numerai_corr_rows(rows: np.ndarray, index: pd.Index, columns: pd.Index, centered_targets: pd.Series,
                       max_filtered_index_ratio: float, target_pow15: bool) -> pd.Series:
    """:func:`numerai_corr` without ``top_bottom``, on arrays: predictions as
    float rows (one per column, over ``index``); the ids are matched without
    copying them, and every column is ranked in one kernel call
    (:func:`kernels.numerai_corr_rows`)."""
    target_values = _series_values(centered_targets)
    ids = filter_sort_ids(valid_ids(centered_targets.index, target_values), len(centered_targets),
                          valid_ids(index, rows), len(index), max_filtered_index_ratio)
    target = rows_at(centered_targets.index, target_values, ids)
    if target_pow15:
        target = power(pd.Series(target, index=ids, name=centered_targets.name).to_frame(), 1.5).to_numpy()[:, 0]
    corr, power_corr = kernels.numerai_corr_rows(rows_at(index, rows, ids), target - target.mean())
    _check_power_correlation(power_corr, columns)
    return pd.Series(corr, index=columns)


def _feature_neutral_corr_rows(rows: np.ndarray, index: pd.Index, columns: pd.Index, features: pd.DataFrame,
                               centered_targets: pd.Series) -> pd.Series | None:
    """:func:`feature_neutral_corr` without ``top_bottom`` on complete float
    rows (one per column, over ``index``, sorted and equal to the features'
    ids), every column in one kernel call (:func:`kernels.feature_neutral_corr_rows`).

    The ids are matched with the target as :func:`numerai_corr` does, first.
    None where that raises or a column is constant before or after
    neutralizing: the frame path then gives numerai-tools' outcome.
    """
    target_values = _series_values(centered_targets)
    try:
        ids = filter_sort_ids(valid_ids(centered_targets.index, target_values), len(centered_targets),
                              index, len(index), DEFAULT_MAX_FILTERED_INDEX_RATIO)
        target = rows_at(centered_targets.index, target_values, ids)
        target = power(pd.Series(target, index=ids, name=centered_targets.name).to_frame(), 1.5).to_numpy()[:, 0]
    except ScoringInputError:
        return None
    scored = None if ids.equals(index) else index.get_indexer(ids)
    with kernels.single_threaded_blas():  # the Gram matrix is summed in worker threads too
        neutralizer = Neutralizer(features.to_numpy(dtype=np.float64))
        corr, power_corr, constant = kernels.feature_neutral_corr_rows(
            rows, neutralizer.residuals_up_to_shift, target - target.mean(), scored)
    if constant.any():
        return None
    _check_power_correlation(power_corr, columns)
    return pd.Series(corr, index=columns)


def _contribution_rows(predictions: pd.DataFrame, meta_model: pd.Series, live_targets: pd.Series) -> pd.Series:
    """:func:`correlation_contribution` without ``top_bottom``, on arrays: the
    ids are matched in numerai-tools' order (same checks) without copying the
    frame, and every column is ranked in one kernel call."""
    rows = _column_rows(predictions)
    meta_values = _series_values(meta_model)
    target_values = _series_values(live_targets)
    # numerai-tools matches meta-model/predictions, targets/predictions, then targets/meta-model
    matched = filter_sort_ids(valid_ids(meta_model.index, meta_values), len(meta_model),
                              valid_ids(predictions.index, rows), len(predictions))
    ids = filter_sort_ids(valid_ids(live_targets.index, target_values), len(live_targets), matched, len(matched))
    ids = filter_sort_ids(ids, len(ids), matched, len(matched))
    meta = kernels.gaussian_rank_rows(rows_at(meta_model.index, meta_values, ids))
    _require_variation(meta, "meta_model")
    target = rows_at(live_targets.index, target_values, ids)
    if ((target >= 0) & (target <= 1)).all():
        target = target * 4
    target = target - target.mean()
    scores = kernels.contribution_rows(rows_at(predictions.index, rows, ids), meta, target)
    return pd.Series(scores, index=predictions.columns)


def numerai_corr(
    predictions: pd.DataFrame,
    targets: pd.Series,
    max_filtered_index_ratio: float = DEFAULT_MAX_FILTERED_INDEX_RATIO,
    top_bottom: int | None = None,
    target_pow15: bool = True,
) -> pd.Series:
    """Numerai's correlation (CORR) of each prediction column with the target.

    1. center the target on 0
    2. keep the ids both have (no NaN), sorted
    3. tie-kept rank, gaussianize and raise each prediction to the 1.5 power
    4. raise the target to the 1.5 power (unless ``target_pow15`` is False)
    5. Pearson correlation of each prediction with the target
    """
    predictions = as_frame(predictions, "predictions")
    check_scoring_input(targets, "targets")
    targets = center(targets)
    if top_bottom is None or top_bottom <= 0:
        return _numerai_corr_rows(_column_rows(predictions), predictions.index, predictions.columns, targets,
                                  max_filtered_index_ratio, target_pow15)
    targets, predictions = filter_sort_index(targets, predictions, max_filtered_index_ratio)
    predictions = tie_kept_rank__gaussianize__pow_1_5(predictions)
    if target_pow15:
        targets = power(targets.to_frame(), 1.5).iloc[:, 0]
    return _columnwise_pearson(targets, predictions, top_bottom)


def contribution_scores(
    neutral_preds: np.ndarray,
    live_targets: pd.Series,
    predictions: pd.DataFrame,
    top_bottom: int | None = None,
) -> pd.Series:
    """Covariance of each orthogonalized prediction with the centered target.

    A target within [0, 1] is first scaled by 4 (bins -2..2).
    """
    if ((live_targets >= 0) & (live_targets <= 1)).all():
        live_targets = live_targets * 4
    live_targets = center(live_targets)
    if top_bottom is not None and top_bottom > 0:
        neutral = pd.DataFrame(neutral_preds, index=predictions.index, columns=predictions.columns)
        scores = []
        for column in neutral.columns:
            extremes = filter_sort_top_bottom_concat(neutral[column], top_bottom)
            target_part = live_targets.loc[extremes.index]
            scores.append(float(target_part.to_numpy() @ extremes.to_numpy()) / (2 * top_bottom))
        return pd.Series(scores, index=predictions.columns)
    target_values = live_targets.to_numpy(dtype=np.float64)
    return pd.Series((target_values @ neutral_preds) / len(target_values), index=predictions.columns)


def correlation_contribution(
    predictions: pd.DataFrame,
    meta_model: pd.Series,
    live_targets: pd.Series,
    top_bottom: int | None = None,
) -> pd.Series:
    """Meta-model contribution (MMC) of each prediction column.

    1. match ids of meta-model, predictions and targets (each step may drop
       at most 20% of an input's ids)
    2. tie-kept rank and gaussianize predictions and the meta-model
    3. orthogonalize each prediction to the meta-model
    4. covariance with the (x4 when in [0, 1]) centered target
    """
    predictions = as_frame(predictions, "predictions")
    check_scoring_input(meta_model, "meta_model")
    check_scoring_input(live_targets, "live_targets")
    if top_bottom is None or top_bottom <= 0:
        return _contribution_rows(predictions, meta_model, live_targets)
    meta_model, predictions = filter_sort_index(meta_model, predictions)
    live_targets, predictions = filter_sort_index(live_targets, predictions)
    live_targets, meta_model = filter_sort_index(live_targets, meta_model)
    p = gaussian(tie_kept_rank(predictions)).to_numpy()
    m = gaussian(tie_kept_rank(meta_model.to_frame())).iloc[:, 0].to_numpy()
    _require_variation(m, "meta_model")
    neutral_preds = orthogonalize(p, m)
    return contribution_scores(neutral_preds, live_targets, predictions, top_bottom)


def _require_variation(values: np.ndarray, name: str) -> None:
    if np.all(values == values[0]):
        raise DegenerateInputError(f"{name} is constant; nothing to orthogonalize against")


def neutral_contribution(
    predictions: pd.DataFrame,
    meta_model: pd.Series,
    neutralizers: pd.DataFrame,
    live_targets: pd.Series,
    top_bottom: int | None = None,
) -> pd.Series:
    """Contribution to a neutralized meta-model.

    1. match ids of targets, predictions, meta-model and neutralizers
    2. tie-kept rank and gaussianize predictions and the meta-model
    3. neutralize both to the neutralizers
    4. orthogonalize each prediction to the neutralized meta-model
    5. covariance with the (x4 when in [0, 1]) centered target
    """
    predictions = as_frame(predictions, "predictions")
    for obj, name in ((meta_model, "meta_model"), (neutralizers, "neutralizers"), (live_targets, "live_targets")):
        check_scoring_input(obj, name)
    live_targets, predictions, meta_model, neutralizers = filter_sort_index_many(
        [live_targets, predictions, meta_model, neutralizers]
    )
    p = neutralize(gaussian(tie_kept_rank(predictions)), neutralizers).to_numpy()
    m = neutralize(gaussian(tie_kept_rank(meta_model.to_frame())), neutralizers).iloc[:, 0].to_numpy()
    neutral_preds = orthogonalize(p, m)
    return contribution_scores(neutral_preds, live_targets, predictions, top_bottom)


def neutral_correlation(
    predictions: pd.DataFrame,
    neutralizers: pd.DataFrame,
    targets: pd.Series,
    max_filtered_index_ratio: float = DEFAULT_MAX_FILTERED_INDEX_RATIO,
    top_bottom: int | None = None,
) -> pd.Series:
    """Correlation of neutralized predictions with the target (no 1.5 powers).

    1. center the target on 0
    2. match ids of targets, predictions and neutralizers
    3. tie-kept rank and gaussianize the predictions
    4. neutralize them to the neutralizers
    5. Pearson correlation with the target
    """
    predictions = as_frame(predictions, "predictions")
    check_scoring_input(neutralizers, "neutralizers")
    check_scoring_input(targets, "targets")
    targets = center(targets)
    targets, predictions, neutralizers = filter_sort_index_many(
        [targets, predictions, neutralizers], max_filtered_index_ratio
    )
    predictions = neutralize(gaussian(tie_kept_rank(predictions)), neutralizers)
    return _columnwise_pearson(targets, predictions, top_bottom)


def feature_neutral_corr(
    predictions: pd.DataFrame,
    features: pd.DataFrame,
    targets: pd.Series,
    top_bottom: int | None = None,
) -> pd.Series:
    """Feature-neutral correlation (FNC).

    1. tie-kept rank and gaussianize the predictions
    2. neutralize them to the features (least squares with an intercept)
    3. scale each to standard deviation 1
    4. :func:`numerai_corr` of the result with the target
    """
    predictions = as_frame(predictions, "predictions")
    check_scoring_input(features, "features", allow_nan=False)
    check_scoring_input(targets, "targets")
    if (top_bottom is None or top_bottom <= 0) and predictions.index.is_monotonic_increasing \
            and predictions.index.equals(features.index):
        rows = _column_rows(predictions)
        scores = None if rows.shape[1] == 0 or np.isnan(rows).any() else _feature_neutral_corr_rows(
            rows, predictions.index, predictions.columns, features, center(targets))
        if scores is not None:
            return scores
    neutral_preds = tie_kept_rank__gaussianize__neutralize__variance_normalize(predictions, features)
    return numerai_corr(neutral_preds, targets, top_bottom=top_bottom)


def max_feature_correlation(
    s: pd.Series, features: pd.DataFrame, top_bottom: int | None = None
) -> tuple[str, float]:
    """The feature most correlated (in absolute Pearson terms) with ``s``, and that |corr|."""
    check_scoring_input(s, "s", allow_nan=False)
    check_scoring_input(features, "features", allow_nan=False)
    if top_bottom is not None and top_bottom > 0:
        correlations = features.apply(lambda f: pearson_correlation(f, s, top_bottom))
    else:
        check_sorted(features, "features")
        check_same_index(features, s, "features", "s")
        correlations = pd.Series(
            kernels.row_pearson(features.to_numpy(dtype=np.float64).T, s.to_numpy(dtype=np.float64)),
            index=features.columns,
        )
    correlations = correlations.abs()
    if correlations.isna().all():
        raise DegenerateInputError("no feature varies together with s (all correlations undefined)")
    best = correlations.idxmax()
    return str(best), float(correlations[best])


def generate_neutralized_weights(
    predictions: pd.DataFrame,
    neutralizers: pd.DataFrame,
    sample_weights: pd.Series,
    center_and_normalize: bool = False,
) -> pd.DataFrame:
    """Portfolio weights from predictions, neutral to the given exposures.

    1. tie-kept rank, gaussianize and raise each prediction to the 1.5 power
    2. match ids of predictions, neutralizers and sample weights
    3. subtract the neutralizers' weighted exposure: ``(s - N N^T (w s)) w``
    4. optionally center and scale each column to absolute sum 1
    """
    predictions = as_frame(predictions, "predictions")
    check_scoring_input(predictions, "predictions", allow_nan=False)
    check_scoring_input(neutralizers, "neutralizers", allow_nan=False)
    check_scoring_input(sample_weights, "sample_weights", allow_nan=False)
    ranked = tie_kept_rank__gaussianize__pow_1_5(predictions)
    ranked, neutralizers, sample_weights = filter_sort_index_many([ranked, neutralizers, sample_weights])
    s = ranked.to_numpy(dtype=np.float64)
    n = neutralizers.to_numpy(dtype=np.float64)
    w = sample_weights.to_numpy(dtype=np.float64)[:, None]
    weights = (s - n @ (n.T @ (w * s))) * w
    result = pd.DataFrame(weights, index=ranked.index, columns=ranked.columns)
    if center_and_normalize:
        result = weight_normalize(center(result))
    return result


def alpha(
    predictions: pd.DataFrame,
    neutralizers: pd.DataFrame,
    sample_weights: pd.Series,
    targets: pd.Series,
) -> pd.Series:
    """Return of the neutralized portfolio each prediction column implies.

    1. center the target; match ids of predictions and targets
    2. neutralized weights (:func:`generate_neutralized_weights`)
    3. weights times targets, averaged over ids
    """
    predictions = as_frame(predictions, "predictions")
    check_scoring_input(targets, "targets")
    targets = center(targets)
    predictions, targets = filter_sort_index(predictions, targets)
    weights = generate_neutralized_weights(predictions, neutralizers, sample_weights)
    check_same_index(weights, targets, "weights", "targets")
    return pd.Series(weights.to_numpy().T @ targets.to_numpy(dtype=np.float64), index=weights.columns) / len(targets)


def meta_portfolio_contribution(
    predictions: pd.DataFrame,
    stakes: pd.Series,
    neutralizers: pd.DataFrame,
    sample_weights: pd.Series,
    targets: pd.Series,
) -> pd.Series:
    """Gradient of the stake-weighted portfolio's return with respect to each stake.

    1. match ids of predictions and targets; center the target
    2. normalize stakes to sum to 1
    3. neutralized weights W of each signal, centered over ids
    4. portfolio v = W s, and its norm
    5. residualize W against v; gradient = W_r^T t / |v|, divided by 50
    """
    predictions = as_frame(predictions, "predictions")
    check_scoring_input(stakes, "stakes")
    check_scoring_input(targets, "targets")
    predictions, targets = filter_sort_index(predictions, targets)
    targets = center(targets)
    stake_weights = weight_normalize(stakes.fillna(0))
    if not np.isclose(stake_weights.sum(), 1):
        raise DegenerateInputError(f"stakes must have a positive total, got {stakes.sum()}")
    missing = stakes.index.difference(predictions.columns)
    if len(missing):
        raise LengthMismatchError(f"stakes name {len(missing)} models without predictions, first: {missing[0]!r}")
    weights = generate_neutralized_weights(predictions, neutralizers, sample_weights)
    check_same_index(weights, targets, "weights", "targets")
    w = weights[stakes.index].to_numpy(dtype=np.float64)
    s = stake_weights.to_numpy(dtype=np.float64)
    t = targets.to_numpy(dtype=np.float64)
    w_centered = w - w.mean(axis=0, keepdims=True)
    v = w_centered @ s
    v = v - v.mean()
    l2_norm = np.sqrt(np.sum(v**2))
    residualized = orthogonalize(w_centered, v)
    return pd.Series((residualized.T @ t) / l2_norm / 50, index=stakes.index)


__all__ = [
    "alpha",
    "contribution_scores",
    "correlation_contribution",
    "feature_neutral_corr",
    "generate_neutralized_weights",
    "max_feature_correlation",
    "meta_portfolio_contribution",
    "neutral_contribution",
    "neutral_correlation",
    "numerai_corr",
    "pearson_correlation",
    "sharpe_ratio",
]


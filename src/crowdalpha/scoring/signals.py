"""Churn and turnover between submissions (numerai-tools 0.7 ``signals`` drop-ins).

Same names, arguments and results as ``numerai_tools.signals``. A refusal
raises a ``ScoringInputError``; the two ``calculate_*`` functions skip a
previous submission for the same reasons numerai-tools' do (too few shared
ids; for the mean neutral churn also a constant series).
"""

from __future__ import annotations

from math import exp, isfinite
from statistics import fmean

import numpy as np
import pandas as pd

from crowdalpha.scoring.errors import (
    DegenerateInputError,
    InsufficientOverlapError,
    ScoringInputError,
)
from crowdalpha.scoring.metrics import generate_neutralized_weights, spearman_correlation
from crowdalpha.scoring.submissions import clean_submission, validate_submission_signals
from crowdalpha.scoring.transforms import (
    filter_sort_index,
    filter_sort_top_bottom,
    gaussian,
    neutralize,
    tie_kept_rank,
)


def churn(s1: pd.Series, s2: pd.Series, top_bottom: int | None = None) -> float:
    """How much two signals differ: ``1 - Spearman`` over their shared ids.

    With ``top_bottom``: 1 minus the mean share of the ``top_bottom`` highest
    and lowest ids the two signals have in common.
    """
    if top_bottom is not None and top_bottom > 0:
        top1, bottom1 = filter_sort_top_bottom(s1, top_bottom)
        top2, bottom2 = filter_sort_top_bottom(s2, top_bottom)
        kept_top = len(top1.index.intersection(top2.index)) / top_bottom
        kept_bottom = len(bottom1.index.intersection(bottom2.index)) / top_bottom
        return 1 - (kept_top + kept_bottom) / 2
    s1, s2 = filter_sort_index(s1, s2)
    for name, series in (("s1", s1), ("s2", s2)):
        if not series.std() > 0:
            raise DegenerateInputError(f"{name} has standard deviation {series.std()!r}; churn needs a varying signal")
    return 1 - spearman_correlation(s1, s2)


def _neutral_signal(signal: pd.Series, neutralizers: pd.DataFrame) -> pd.Series:
    """Tie-kept rank, gaussianize and neutralize a signal over the ids it shares with ``neutralizers``."""
    signal, neutralizers = filter_sort_index(signal, neutralizers)
    return neutralize(gaussian(tie_kept_rank(signal.to_frame())), neutralizers).iloc[:, 0]


def neutral_churn(
    s1: pd.Series, s2: pd.Series, neutralizers1: pd.DataFrame, neutralizers2: pd.DataFrame
) -> float:
    """:func:`churn` of the two signals, each first neutralized to its era's neutralizers.

    1. tie-kept rank, gaussianize, neutralize each signal
    2. ``1 - Spearman`` of the two residuals
    """
    return churn(_neutral_signal(s1, neutralizers1), _neutral_signal(s2, neutralizers2))


def neutral_churn_penalty(neutral_churn: float, threshold: float = 0.1, scaling_factor: float = 10.0) -> float:
    """The share of a positive payout kept: 1 up to ``threshold``, then
    ``2 / (1 + exp(scaling_factor * (neutral_churn - threshold)))``."""
    if not (isfinite(neutral_churn) and 0 <= neutral_churn <= 2):
        raise DegenerateInputError(f"neutral_churn={neutral_churn!r} must be finite and within [0, 2]")
    if not (isfinite(threshold) and 0 <= threshold <= 2):
        raise DegenerateInputError(f"threshold={threshold!r} must be finite and within [0, 2]")
    if not (isfinite(scaling_factor) and scaling_factor > 0):
        raise DegenerateInputError(f"scaling_factor={scaling_factor!r} must be finite and positive")
    if neutral_churn <= threshold:
        return 1.0
    decay = exp(-scaling_factor * (neutral_churn - threshold))  # no overflow for large factors
    return 2 * decay / (1 + decay)


def turnover(s1: pd.Series, s2: pd.Series) -> float:
    """Half the total absolute change between two weight vectors over their shared ids."""
    s1, s2 = filter_sort_index(s1, s2)
    return float(np.abs(s1.to_numpy(dtype=np.float64) - s2.to_numpy(dtype=np.float64)).sum() / 2)


def _clean_signal(
    submission: pd.Series, sample_weight: pd.Series, dst_id_col: str | None = None,
    dst_signal_col: str | None = None,
) -> tuple[str, str, pd.Series]:
    """Validate a Signals submission against the era's universe, then rank it and fill the rest with 0.5."""
    universe = sample_weight.index.to_frame()
    ticker_col, signal_col, _, live, _ = validate_submission_signals(universe=universe,
                                                                    submission=submission.reset_index())
    cleaned = clean_submission(universe=universe, submission=live, src_id_col=ticker_col,
                               src_signal_col=signal_col, dst_id_col=dst_id_col,
                               dst_signal_col=dst_signal_col, rank_and_fill=True)
    return ticker_col, signal_col, cleaned


def calculate_mean_neutral_churn(
    curr_sub: pd.Series,
    curr_neutralizer: pd.DataFrame,
    curr_sample_weight: pd.Series,
    prev_subs: dict[str, pd.Series],
    prev_neutralizers: dict[str, pd.DataFrame],
    prev_sample_weights: dict[str, pd.Series],
) -> float:
    """Mean neutral churn of the current submission against each previous one (1.0 when none compares).

    Each submission is validated and cleaned against its era's universe
    (ranked, 0.5 where missing), then neutralized to its era's neutralizers.
    """
    ticker_col, signal_col, current = _clean_signal(curr_sub, curr_sample_weight)
    neutral_current = _neutral_signal(current, curr_neutralizer)
    if not neutral_current.std() > 0:
        raise DegenerateInputError("curr_sub has standard deviation 0 after neutralization")
    churns = []
    for datestamp, previous in prev_subs.items():
        _, _, cleaned = _clean_signal(previous, prev_sample_weights[datestamp], ticker_col, signal_col)
        neutral_previous = _neutral_signal(cleaned, prev_neutralizers[datestamp])
        try:
            churns.append(churn(neutral_current, neutral_previous))
        except ScoringInputError:
            continue
    return fmean(churns) if churns else 1.0


def calculate_max_churn_and_turnover(
    curr_sub: pd.Series,
    curr_neutralizer: pd.DataFrame,
    curr_sample_weight: pd.Series,
    prev_subs: dict[str, pd.Series],
    prev_neutralizers: dict[str, pd.DataFrame],
    prev_sample_weights: dict[str, pd.Series],
) -> tuple[float, float]:
    """The largest churn and the largest turnover of the current submission against the previous ones.

    1. validate and clean each submission against its era's universe
    2. churn of the cleaned submissions; turnover of their neutralized,
       centered, normalized weights (``generate_neutralized_weights``)
    3. a previous submission sharing too few ids is skipped; 1.0 when none is left
    """
    ticker_col, signal_col, current = _clean_signal(curr_sub, curr_sample_weight)
    weights = generate_neutralized_weights(current.to_frame(), curr_neutralizer, curr_sample_weight,
                                           center_and_normalize=True)[current.name]
    churns, turnovers = [], []
    for datestamp, previous in prev_subs.items():
        weight = prev_sample_weights[datestamp]
        _, _, cleaned = _clean_signal(previous, weight, ticker_col, signal_col)
        previous_weights = generate_neutralized_weights(cleaned.to_frame(), prev_neutralizers[datestamp], weight,
                                                        center_and_normalize=True)[cleaned.name]
        try:
            churn_value = abs(churn(current, cleaned))
            turnover_value = abs(turnover(weights, previous_weights))
        except InsufficientOverlapError:
            continue
        churns.append(churn_value)
        turnovers.append(turnover_value)
    return (max(churns) if churns else 1.0), (max(turnovers) if turnovers else 1.0)

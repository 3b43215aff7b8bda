"""The scoring engine: one implementation of every tournament metric.

A drop-in for numerai-tools 0.7 (same names, arguments, pandas in and out)
plus a batch engine that scores many models over many eras in one call.
This package imports nothing else of crowdalpha's.
"""

from crowdalpha.scoring.batch import METRICS, score_eras
from crowdalpha.scoring.errors import ScoringInputError
from crowdalpha.scoring.meta_model import stake_weighted_meta_model
from crowdalpha.scoring.metrics import (
    alpha,
    correlation_contribution,
    feature_neutral_corr,
    generate_neutralized_weights,
    max_feature_correlation,
    meta_portfolio_contribution,
    neutral_contribution,
    neutral_correlation,
    numerai_corr,
    sharpe_ratio,
)
from crowdalpha.scoring.neutralization import neutralize_by_groups, neutralize_per_era
from crowdalpha.scoring.summary import summarize, summarize_scores
from crowdalpha.scoring.transforms import (
    DEFAULT_MAX_FILTERED_INDEX_RATIO,
    center,
    filter_sort_index,
    filter_sort_index_many,
    gaussian,
    neutralize,
    orthogonalize,
    power,
    rank,
    stake_weight,
    tie_broken_rank,
    tie_kept_rank,
)

__all__ = [
    "DEFAULT_MAX_FILTERED_INDEX_RATIO",
    "METRICS",
    "ScoringInputError",
    "alpha",
    "center",
    "correlation_contribution",
    "feature_neutral_corr",
    "filter_sort_index",
    "filter_sort_index_many",
    "gaussian",
    "generate_neutralized_weights",
    "max_feature_correlation",
    "meta_portfolio_contribution",
    "neutral_contribution",
    "neutral_correlation",
    "neutralize",
    "neutralize_by_groups",
    "neutralize_per_era",
    "numerai_corr",
    "orthogonalize",
    "power",
    "rank",
    "score_eras",
    "sharpe_ratio",
    "stake_weight",
    "stake_weighted_meta_model",
    "summarize",
    "summarize_scores",
    "tie_broken_rank",
    "tie_kept_rank",
]

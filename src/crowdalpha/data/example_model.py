"""The example model: Numerai's example LightGBM, scaled down for speed.

Numerai's example model is a LightGBM regressor (2,000 trees, learning rate
0.01, depth 5, 31 leaves, 10 % of the features per tree) trained on the main
target. Here the same shape with fewer, larger steps, so the ``small`` preset
trains in seconds. Inputs are int8 feature bins; predictions are ranked per era.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from crowdalpha.scoring.kernels import tie_kept_rank_rows

#: Numerai's example parameters with 10x fewer trees and a 5x learning rate.
EXAMPLE_PARAMS: dict[str, Any] = {
    "objective": "regression",
    "num_boost_round": 200,
    "learning_rate": 0.05,
    "max_depth": 5,
    "num_leaves": 31,
    "colsample_bytree": 0.1,
    "min_data_in_leaf": 100,
}


def default_threads() -> int:
    """LightGBM threads: all cores but one (at most 8). OpenMP threads spin at
    barriers, so on a small shared machine leaving a core free avoids stalls."""
    return max(1, min(8, (os.cpu_count() or 1) - 1))


def _lgb_params(params: Mapping[str, Any], seed: int) -> tuple[dict[str, Any], int]:
    merged = {**EXAMPLE_PARAMS, **params}
    rounds = int(merged.pop("num_boost_round"))
    merged.update({
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbosity": -1,
        "num_threads": merged.get("num_threads", default_threads()),
    })
    return merged, rounds


def train_example_model(features: np.ndarray | Sequence[np.ndarray], target: np.ndarray,
                        params: Mapping[str, Any] | None = None, seed: int = 0) -> lgb.Booster:
    """Train the example LightGBM on feature bins ``(n, f)`` (or a list of era
    blocks) and a target vector; rows with a NaN target are skipped."""
    blocks = [features] if isinstance(features, np.ndarray) else list(features)
    target = np.asarray(target, dtype=np.float64)
    keep = ~np.isnan(target)
    if not keep.all():
        offsets = np.cumsum([0] + [len(b) for b in blocks])
        blocks = [b[keep[offsets[i]:offsets[i + 1]]] for i, b in enumerate(blocks)]
        target = target[keep]
    data = [np.asarray(b, dtype=np.float32) for b in blocks]
    lgb_params, rounds = _lgb_params(params or {}, seed)
    dataset = lgb.Dataset(data if len(data) > 1 else data[0], label=target,
                          params={"verbosity": -1, "max_bin": 7}, free_raw_data=True)
    dataset.construct()  # LightGBM now holds its own binned copy: drop the float32 one
    del data, blocks
    return lgb.train(lgb_params, dataset, num_boost_round=rounds)


def predict_ranked(model: lgb.Booster, features: np.ndarray) -> np.ndarray:
    """One era's predictions, as tie-kept percentile ranks in (0, 1)."""
    return rank_predictions(model.predict(np.asarray(features, dtype=np.float32)))


def rank_predictions(raw: np.ndarray) -> np.ndarray:
    """Tie-kept percentile ranks ``(rank - 0.5) / n`` of one era's raw scores."""
    return tie_kept_rank_rows(np.asarray(raw, dtype=np.float64))


def save_model(model: lgb.Booster, path: Path) -> None:
    """Save a booster as LightGBM's text format."""
    model.save_model(str(path))


def load_model(path: Path) -> lgb.Booster:
    """Load a booster saved by :func:`save_model`."""
    return lgb.Booster(model_file=str(path))


__all__ = ["EXAMPLE_PARAMS", "load_model", "predict_ranked", "rank_predictions", "save_model",
           "train_example_model"]

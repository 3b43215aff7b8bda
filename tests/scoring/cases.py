"""Random tournament-shaped inputs for scoring tests (ties, NaNs, unsorted ids)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random hex ids in random (unsorted) order."""
    return np.array([f"n{v:012x}" for v in rng.choice(16**10, size=n, replace=False)])


def binned(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values in {0, .25, .5, .75, 1} with Numerai's 5/20/50/20/5 % mix: many ties."""
    return rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=shape, p=[0.05, 0.2, 0.5, 0.2, 0.05])


def make_case(seed: int, n: int, k: int, kind: str = "mixed", nan_share: float = 0.0,
              missing_share: float = 0.0) -> dict:
    """Predictions (unsorted ids), a binned target, meta-model and benchmark.

    ``kind``: 'binned', 'continuous' or 'mixed' prediction columns.
    ``nan_share``: share of NaN predictions in the first column.
    ``missing_share``: share of ids the targets lack (and vice versa extra ids).
    """
    rng = np.random.default_rng(seed)
    ids = make_ids(rng, n)
    target = binned(rng, (n,))
    signal = target + rng.normal(0, 2, size=(k, n))
    columns = {}
    for j in range(k):
        if kind == "binned" or (kind == "mixed" and j % 2 == 0):
            columns[f"model_{j}"] = np.digitize(signal[j], np.quantile(signal[j], [0.05, 0.25, 0.75, 0.95])) / 4
        else:
            columns[f"model_{j}"] = 1 / (1 + np.exp(-signal[j]))
    predictions = pd.DataFrame(columns, index=ids)
    if nan_share:
        predictions.iloc[rng.choice(n, int(n * nan_share), replace=False), 0] = np.nan
    targets = pd.Series(target, index=ids, name="target")
    if missing_share:
        drop = int(n * missing_share)
        targets = targets.iloc[drop:]
        extra = make_ids(rng, drop)
        targets = pd.concat([targets, pd.Series(binned(rng, (drop,)), index=extra, name="target")])
        targets = targets.sample(frac=1.0, random_state=seed)
    meta = pd.Series(rng.random(n) * 0.5 + 0.5 * target, index=ids, name="meta_model")
    benchmark = pd.Series(np.round(rng.random(n) * 4) / 4, index=ids, name="benchmark")
    features = pd.DataFrame(rng.integers(0, 5, size=(n, 12)).astype(np.int8), index=ids,
                            columns=[f"feature_{c}" for c in "abcdefghijkl"])
    return {"predictions": predictions, "targets": targets, "meta_model": meta,
            "benchmark": benchmark, "features": features}


"""Summaries of a per-era score series (CORR, MMC, ... one value per era).

Definitions, for a series s_1..s_T in era order:

- ``mean``: arithmetic mean of s.
- ``std``: population standard deviation (ddof=0).
- ``sharpe``: mean / std.
- ``max_drawdown``: the deepest fall of the cumulative sum below its running
  peak, the peak starting at 0 before the first era; reported as a number
  <= 0 (``min_t (C_t - max(0, C_1..C_t))`` with ``C_t = s_1 + ... + s_t``).
- ``autocorrelation``: lag-1 Pearson autocorrelation, corr(s_1..s_{T-1}, s_2..s_T).
- ``smart_sharpe``: Sharpe divided by the autocorrelation penalty
  ``sqrt(1 + 2 * sum_{i=1}^{T-1} (T - i)/T * |rho|^i)`` (Lo 2002, with |rho| the
  lag-1 autocorrelation): autocorrelated scores carry less independent evidence.
- ``compound_return``: ``prod(1 + clip(multiplier * s_t, -clip, clip)) - 1``,
  the growth of a stake paid ``multiplier`` times each era's score and
  capped like payouts (defaults: multiplier 1, clip 0.05).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crowdalpha.scoring.errors import EmptyInputError, MissingValuesError


def _as_series(scores: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise EmptyInputError(f"scores must be one series, got shape {values.shape}")
    if len(values) == 0:
        raise EmptyInputError("scores are empty")
    if not np.isfinite(values).all():
        raise MissingValuesError(f"scores contain {int((~np.isfinite(values)).sum())} NaN or infinite values")
    return values


def mean(scores: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Arithmetic mean of the per-era scores."""
    return float(_as_series(scores).mean())


def std(scores: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Population standard deviation (ddof=0) of the per-era scores."""
    return float(_as_series(scores).std())


def sharpe(scores: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Mean over standard deviation (ddof=0); NaN for a constant series."""
    values = _as_series(scores)
    spread = values.std()
    return float(values.mean() / spread) if spread > 0 else float("nan")


def max_drawdown(scores: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Deepest fall (<= 0) of the cumulative sum below its running peak, peak starting at 0."""
    cumulative = np.cumsum(_as_series(scores))
    peak = np.maximum.accumulate(np.maximum(cumulative, 0.0))
    return float(min(0.0, (cumulative - peak).min()))


def autocorrelation(scores: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Lag-1 Pearson autocorrelation; NaN with fewer than 3 eras or a constant series."""
    values = _as_series(scores)
    if len(values) < 3:
        return float("nan")
    head, tail = values[:-1], values[1:]
    if head.std() == 0 or tail.std() == 0:
        return float("nan")
    return float(np.corrcoef(head, tail)[0, 1])


def autocorrelation_penalty(scores: Sequence[float] | np.ndarray | pd.Series) -> float:
    """``sqrt(1 + 2 * sum_{i<T} (T - i)/T * |rho|^i)``; 1 when rho is undefined."""
    values = _as_series(scores)
    rho = autocorrelation(values)
    if np.isnan(rho):
        return 1.0
    n = len(values)
    lags = np.arange(1, n)
    return float(np.sqrt(1 + 2 * np.sum((n - lags) / n * np.abs(rho) ** lags)))


def smart_sharpe(scores: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Sharpe adjusted for lag-1 autocorrelation (see the module docstring)."""
    return sharpe(scores) / autocorrelation_penalty(scores)


def compound_return(scores: Sequence[float] | np.ndarray | pd.Series, multiplier: float = 1.0,
                    clip: float = 0.05) -> float:
    """Growth of a stake paid ``clip(multiplier * score, -clip, clip)`` each era, reinvested."""
    values = _as_series(scores)
    per_era = np.clip(multiplier * values, -clip, clip)
    return float(np.prod(1 + per_era) - 1)


def summarize(scores: Sequence[float] | np.ndarray | pd.Series) -> dict[str, float]:
    """All summaries of one per-era series, keyed by name."""
    values = _as_series(scores)
    return {
        "mean": mean(values),
        "std": std(values),
        "sharpe": sharpe(values),
        "max_drawdown": max_drawdown(values),
        "autocorrelation": autocorrelation(values),
        "smart_sharpe": smart_sharpe(values),
        "compound_return": compound_return(values),
        "eras": float(len(values)),
    }


def summarize_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Summaries per (model, metric) of a tidy score table from ``score_eras``.

    Eras are taken in sorted order; eras with NaN scores are left out.
    """
    required = {"model", "era", "metric", "value"}
    missing = required - set(scores.columns)
    if missing:
        raise EmptyInputError(f"score table lacks columns {sorted(missing)}")
    rows = []
    for (model, metric), group in scores.dropna(subset=["value"]).groupby(["model", "metric"], sort=True):
        series = group.sort_values("era")["value"].to_numpy()
        rows.append({"model": model, "metric": metric, **summarize(series)})
    return pd.DataFrame(rows)

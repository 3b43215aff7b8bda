"""Per-era summaries against answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crowdalpha.scoring import errors, summarize, summarize_scores, summary


def test_mean_std_sharpe_by_hand() -> None:
    scores = [0.02, -0.01, 0.03, 0.0]
    assert summary.mean(scores) == pytest.approx(0.01)
    assert summary.std(scores) == pytest.approx(math.sqrt((0.01**2 + 0.02**2 + 0.02**2 + 0.01**2) / 4))
    assert summary.sharpe(scores) == pytest.approx(0.01 / summary.std(scores))


def test_max_drawdown_counts_from_zero() -> None:
    # cumulative: -0.01, 0.02, 0.0, -0.03, 0.01 -> peak 0.02 then low -0.03: drawdown -0.05
    assert summary.max_drawdown([-0.01, 0.03, -0.02, -0.03, 0.04]) == pytest.approx(-0.05)
    # first era negative: the starting peak 0 counts
    assert summary.max_drawdown([-0.02, 0.01]) == pytest.approx(-0.02)
    assert summary.max_drawdown([0.01, 0.02]) == 0.0


def test_autocorrelation_and_smart_sharpe() -> None:
    scores = np.array([0.01, 0.02, 0.03, 0.02, 0.01, 0.0, -0.01, 0.0])
    rho = np.corrcoef(scores[:-1], scores[1:])[0, 1]
    assert summary.autocorrelation(scores) == pytest.approx(rho)
    n = len(scores)
    penalty = math.sqrt(1 + 2 * sum((n - i) / n * abs(rho) ** i for i in range(1, n)))
    assert summary.smart_sharpe(scores) == pytest.approx(summary.sharpe(scores) / penalty)
    assert summary.smart_sharpe(scores) < summary.sharpe(scores)


def test_compound_return_clips_like_payouts() -> None:
    assert summary.compound_return([0.1, -0.02]) == pytest.approx(1.05 * 0.98 - 1)
    assert summary.compound_return([0.01], multiplier=2.0) == pytest.approx(0.02)


def test_short_or_constant_series() -> None:
    assert math.isnan(summary.autocorrelation([0.1, 0.2]))
    assert math.isnan(summary.sharpe([0.01, 0.01, 0.01]))
    with pytest.raises(errors.EmptyInputError):
        summary.mean([])
    with pytest.raises(errors.MissingValuesError):
        summary.sharpe([0.01, float("nan")])


def test_summarize_scores_table() -> None:
    table = pd.DataFrame({
        "model": ["a", "a", "a", "b", "b", "b"],
        "era": ["0003", "0001", "0002", "0001", "0002", "0003"],
        "metric": ["corr"] * 6,
        "value": [0.03, 0.01, 0.02, 0.0, np.nan, 0.02],
    })
    result = summarize_scores(table).set_index("model")
    assert result.loc["a", "mean"] == pytest.approx(0.02)
    assert result.loc["a", "max_drawdown"] == 0.0
    assert result.loc["b", "eras"] == 2
    assert summarize([0.01, 0.02])["eras"] == 2

"""The validation demo: simulated participants scored on a freshly built dataset.

Until the live tournament runs (rounds, stakes, the API), the main job shows
the whole data and scoring path end to end: simulate a market, build a
dataset version, let a few kinds of simulated participants predict the
validation eras, score them all with the batch engine against the dataset's
meta-model and benchmark, and rank them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crowdalpha.data import build_dataset, layout
from crowdalpha.scoring import score_eras, summarize_scores
from crowdalpha.sim.participants import Strategy, StrategyKind, fit_linear

#: Columns of the leaderboard, in order: (metric, summary) -> heading.
LEADERBOARD_COLUMNS = {
    ("corr", "mean"): "CORR",
    ("corr", "sharpe"): "Sharpe",
    ("corr", "max_drawdown"): "max DD",
    ("mmc", "mean"): "MMC",
    ("bmc", "mean"): "BMC",
    ("fnc", "mean"): "FNC",
    ("fe_max", "mean"): "FE max",
}


@dataclass(frozen=True)
class DemoResult:
    """What the demo built and how the simulated participants scored."""

    version_dir: Path
    eras: int
    rows: int
    scores: pd.DataFrame  # tidy: model, era, metric, value
    leaderboard: pd.DataFrame  # one row per model, LEADERBOARD_COLUMNS headings


def ensure_dataset(datasets: Path, preset: str, seed: int,
                   progress: Callable[[int, int], None] | None = None) -> Path:
    """The newest dataset version in ``datasets``, building one if there is none."""
    if layout.versions(datasets):
        return layout.latest_version(datasets)
    datasets.mkdir(parents=True, exist_ok=True)
    return build_dataset(datasets, preset=preset, seed=seed, progress=progress)


def participant_predictions(version_dir: Path, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Validation predictions of the simulated participants, the validation
    frame, and the feature set they use.

    The strategies are the season's (:mod:`crowdalpha.sim.participants`); on
    validation eras the historical meta-model is public, so ``meta_copy`` copies it.
    """
    linear = fit_linear(version_dir)
    validation = layout.read_split(version_dir, "validation")
    example = pd.read_parquet(version_dir / layout.VALIDATION_EXAMPLE_PREDS)[layout.PREDICTION]
    meta = pd.read_parquet(version_dir / layout.META_MODEL)[layout.META_MODEL_COLUMN]
    rng = np.random.default_rng(seed)
    strategies = {
        "example_lgbm": Strategy(StrategyKind.EXAMPLE),
        "ridge_linear": Strategy(StrategyKind.LINEAR, linear=linear),
        "meta_copy": Strategy(StrategyKind.META_COPY, linear=linear),
        "random": Strategy(StrategyKind.RANDOM),
        "example_half_neutral": Strategy(StrategyKind.NEUTRAL, features=linear.features),
    }
    predictions = pd.DataFrame({name: strategy.predict(validation, example, rng, meta=meta)
                                for name, strategy in strategies.items()}, index=validation.index)
    return predictions, validation, list(linear.features)


def run_validation_demo(home: Path, preset: str = "small", seed: int = 0,
                        progress: Callable[[int, int], None] | None = None) -> DemoResult:
    """Build (or reuse) a dataset under ``home/datasets`` and score the simulated participants."""
    version_dir = ensure_dataset(Path(home) / "datasets", preset, seed, progress)
    predictions, validation, features = participant_predictions(version_dir, seed)
    meta = pd.read_parquet(version_dir / layout.META_MODEL)[layout.META_MODEL_COLUMN]
    benchmarks = pd.read_parquet(version_dir / layout.VALIDATION_BENCHMARK_MODELS)
    benchmark = benchmarks.drop(columns=[layout.ERA]).iloc[:, 0]
    scores = score_eras(
        predictions, validation["target"], validation[layout.ERA],
        meta_model=meta.reindex(validation.index), benchmark=benchmark.reindex(validation.index),
        features=validation[features],
    )
    return DemoResult(version_dir, int(validation[layout.ERA].nunique()), len(validation), scores,
                      leaderboard(scores))


def leaderboard(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per model with the headline summaries, best mean CORR first."""
    summary = summarize_scores(scores).set_index(["model", "metric"])
    table = pd.DataFrame({
        heading: summary[stat].xs(metric, level="metric")
        for (metric, stat), heading in LEADERBOARD_COLUMNS.items()
        if metric in summary.index.get_level_values("metric")
    })
    return table.sort_values("CORR", ascending=False)

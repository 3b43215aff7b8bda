"""The dataset builder on the ``small`` preset: layout, schema, calibration, appends."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdalpha.data import (
    append_live_era,
    layout,
    live_targets,
    scenario_dataset,
    train_example_model,
)
from crowdalpha.data.example_model import load_model, predict_ranked
from crowdalpha.scoring.batch import score_eras


def _corr_by_era(predictions: pd.Series, frame: pd.DataFrame, target: str = "target") -> pd.Series:
    """Per-era CORR from the scoring engine."""
    scores = score_eras(predictions.loc[frame.index].to_frame("model"), frame[target], frame["era"],
                        metrics=["corr"])
    return scores.set_index("era")["value"]


@pytest.fixture(scope="module")
def validation(small_dataset: Path) -> pd.DataFrame:
    return layout.read_split(small_dataset, "validation")


@pytest.fixture(scope="module")
def features_json(small_dataset: Path) -> dict:
    return layout.read_features_json(small_dataset)


def test_version_folder_holds_exactly_the_public_files(small_dataset: Path) -> None:
    assert small_dataset.name == "v1"
    public = sorted(p.name for p in small_dataset.iterdir() if p.name != layout.OPERATOR_DIR)
    assert public == sorted(layout.PUBLIC_FILES)
    assert [p.name for p in small_dataset.parent.iterdir()] == ["v1"]  # no temporary folder left


def test_progress_is_reported_to_the_end(small_build: tuple[Path, list[tuple[int, int]]]) -> None:
    calls = small_build[1]
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert calls[-1][0] == calls[-1][1]
    assert len({t for _, t in calls}) == 1


def test_split_schema(small_dataset: Path, validation: pd.DataFrame, features_json: dict) -> None:
    features = features_json["feature_sets"]["all"]
    targets = features_json["targets"]
    live = layout.read_split(small_dataset, "live")
    for split, frame in (("validation", validation), ("live", live)):
        assert frame.index.name == "id"
        assert list(frame.columns) == ["era", "data_type", *features, *targets]
        assert (frame["data_type"] == split).all()
        assert (frame[features].dtypes == np.int8).all()
        assert frame[features].min().min() == 0
        assert frame[features].max().max() == 4
    assert validation["era"].str.fullmatch(r"\d{4}").all()
    assert live["era"].nunique() == 1
    assert live["era"].iloc[0] > validation["era"].max()
    assert live[targets].isna().all().all()
    assert validation["target"].notna().all()
    assert set(np.unique(validation["target"])) == {0.0, 0.25, 0.5, 0.75, 1.0}
    np.testing.assert_array_equal(validation["target"], validation[targets[1]])


def test_features_binned_per_era_and_ids_random_per_era(validation: pd.DataFrame,
                                                        features_json: dict) -> None:
    one = features_json["feature_sets"]["all"][0]
    for _, era in list(validation.groupby("era"))[:3]:
        counts = np.bincount(era[one], minlength=5)
        assert counts.max() - counts.min() <= 5
        shares = era["target"].value_counts(normalize=True).sort_index().to_numpy()
        np.testing.assert_allclose(shares, [0.05, 0.2, 0.5, 0.2, 0.05], atol=0.002)
    assert validation.index.is_unique
    assert validation.shape[0] > 50_000


def test_features_json_sets(features_json: dict) -> None:
    sets = features_json["feature_sets"]
    everything = sets["all"]
    assert len(everything) == 120
    assert set(sets["small"]) < set(sets["medium"]) < set(everything)
    groups = [k for k in sets if k not in ("small", "medium", "all")]
    assert len(groups) == 6
    assert sorted(f for g in groups for f in sets[g]) == sorted(everything)
    assert not any("alpha" in name or "risky" in name for name in everything)  # obfuscated
    assert features_json["targets"][0] == "target"
    assert {"target_ender_20", "target_ender_60"} <= set(features_json["targets"])


def test_prediction_files_cover_their_eras(small_dataset: Path, validation: pd.DataFrame) -> None:
    example = pd.read_parquet(small_dataset / layout.VALIDATION_EXAMPLE_PREDS)
    assert example.index.equals(validation.index)
    assert example["prediction"].between(0, 1).all()
    live = layout.read_split(small_dataset, "live")
    live_preds = pd.read_parquet(small_dataset / layout.LIVE_EXAMPLE_PREDS)
    assert live_preds.index.equals(live.index)
    bench = pd.read_parquet(small_dataset / layout.VALIDATION_BENCHMARK_MODELS)
    assert bench.index.equals(validation.index)
    assert bench.shape[1] >= 3
    meta = pd.read_parquet(small_dataset / layout.META_MODEL)
    assert meta.index.equals(validation.index)
    assert list(meta.columns) == ["era", "data_type", "numerai_meta_model"]
    assert (meta["era"] == validation["era"]).all()


def test_calibration_example_model(small_dataset: Path, validation: pd.DataFrame) -> None:
    """Numerai-like: small, noisy, autocorrelated per-era scores."""
    example = pd.read_parquet(small_dataset / layout.VALIDATION_EXAMPLE_PREDS)["prediction"]
    corr = _corr_by_era(example, validation)
    sharpe = corr.mean() / corr.std(ddof=0)
    assert 0.01 < corr.mean() < 0.05
    assert 0.7 < sharpe < 2.5
    assert corr.autocorr(1) > 0.2
    assert (corr < 0).any()  # burns happen


def test_calibration_shuffled_targets_score_zero(small_dataset: Path,
                                                validation: pd.DataFrame,
                                                features_json: dict) -> None:
    features = features_json["feature_sets"]["all"]
    train = layout.read_split(small_dataset, "train", ["era", *features, "target"])
    rng = np.random.default_rng(0)
    shuffled = train.groupby("era")["target"].transform(lambda t: rng.permutation(t.to_numpy()))
    model = train_example_model(train[features].to_numpy(), shuffled.to_numpy(), seed=0)
    predictions = pd.concat([pd.Series(predict_ranked(model, era[features].to_numpy()), index=era.index)
                             for _, era in validation.groupby("era")])
    corr = _corr_by_era(predictions, validation)
    # Overlapping 20-day targets: about 4 consecutive eras share their noise.
    noise = corr.std(ddof=0) / np.sqrt(len(corr) / 4)
    assert abs(corr.mean()) < 2.5 * noise


def test_risky_features_hurt_in_crash_eras(small_dataset: Path, validation: pd.DataFrame,
                                           features_json: dict) -> None:
    """A bet on the risky group, signed as it paid on validation, pays in calm
    scenario eras and loses in crash eras; so does the example model, less."""
    state = layout.read_state(small_dataset)
    risky = [g for g, info in state["groups"].items() if info["kind"] == "risky"]
    assert risky
    columns = features_json["feature_sets"][risky[0]]
    payoff = score_eras(validation[columns], validation["target"], validation["era"],
                        metrics=["corr"]).groupby("model")["value"].mean()
    signs = np.sign(payoff[columns].to_numpy())
    model = load_model(small_dataset / layout.OPERATOR_DIR / layout.EXAMPLE_MODEL)
    features = features_json["feature_sets"]["all"]
    results = {}
    for kind in ("crash", "calm"):
        eras = scenario_dataset(small_dataset, kind, n=6, seed=0)
        bet = (eras[columns] * signs).sum(axis=1)
        example = pd.concat([pd.Series(predict_ranked(model, e[features].to_numpy()), index=e.index)
                             for _, e in eras.groupby("era")])
        results[kind] = (_corr_by_era(bet, eras).mean(), _corr_by_era(example, eras).mean())
    assert results["crash"][0] < 0 < results["calm"][0]
    assert results["crash"][1] < results["calm"][1]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_append_live_era_keeps_history(small_dataset: Path, tmp_path: Path) -> None:
    version = tmp_path / "v1"
    shutil.copytree(small_dataset, version)
    before = {name: _digest(version / name) for name in (layout.TRAIN, layout.VALIDATION)}
    old_live = layout.read_split(version, "live")
    new_live = append_live_era(version)
    assert {name: _digest(version / name) for name in before} == before
    assert int(new_live["era"].iloc[0]) == int(old_live["era"].iloc[0]) + 1
    assert new_live.index.intersection(old_live.index).empty
    stored = layout.read_split(version, "live")
    pd.testing.assert_frame_equal(stored, new_live)
    preds = pd.read_parquet(version / layout.LIVE_EXAMPLE_PREDS)
    assert preds.index.equals(stored.index)
    state = json.loads((version / layout.OPERATOR_DIR / layout.STATE).read_text())
    assert state["live_era"] == int(new_live["era"].iloc[0])
    # The tournament then resolves it day by day.
    day3 = live_targets(version, new_live["era"].iloc[0], day=3)
    assert day3.index.equals(stored.index)
    assert day3["target"].notna().all()


@pytest.mark.slow
def test_live_targets_match_published_targets(small_dataset: Path, validation: pd.DataFrame) -> None:
    last = validation["era"].max()
    published = validation.loc[validation["era"] == last, ["target", "target_ender_60"]]
    resolved = live_targets(small_dataset, last)
    assert resolved.index.equals(published.index)
    np.testing.assert_array_equal(resolved["target"].to_numpy(),
                                  published["target"].to_numpy(dtype=np.float64))

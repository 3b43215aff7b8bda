"""The batch engine gives the drop-in numbers, for every input form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from numerai_tools import scoring as oracle

from crowdalpha.scoring import batch, errors, score_eras
from tests.scoring.cases import binned

TOL = 1e-9


def era_panel(seed: int = 0, eras: int = 4, per_era: int = 400, k: int = 6) -> dict:
    """Row-aligned predictions, targets, meta-model, benchmark and int8 features over eras."""
    rng = np.random.default_rng(seed)
    n = eras * per_era
    target = binned(rng, (n,))
    target[rng.choice(n, 5, replace=False)] = np.nan  # delisted stocks
    signal = np.nan_to_num(target, nan=0.5) + rng.normal(0, 1.5, size=(k, n))
    columns = {f"m{j}": (np.round(1 / (1 + np.exp(-signal[j])) * 4) / 4 if j % 2 else
                         1 / (1 + np.exp(-signal[j]))) for j in range(k)}
    predictions = pd.DataFrame(columns, index=[f"id{i:05d}" for i in range(n)])
    predictions.iloc[rng.choice(per_era, per_era // 20, replace=False), 1] = np.nan
    features = pd.DataFrame(rng.integers(0, 5, size=(n, 15)).astype(np.int8), index=predictions.index,
                            columns=[f"f{i}" for i in range(15)])
    features.iloc[per_era : 2 * per_era, 4] = 2  # constant within era 2
    return {
        "predictions": predictions,
        "targets": pd.Series(target, index=predictions.index, name="target"),
        "eras": pd.Series(np.repeat([f"{e + 1:04d}" for e in range(eras)], per_era), index=predictions.index),
        "meta_model": pd.Series(rng.random(n), index=predictions.index),
        "benchmark": pd.Series(np.round(rng.random(n) * 4) / 4, index=predictions.index),
        "features": features,
    }


def oracle_scores(panel: dict) -> dict[tuple[str, str, str], float]:
    """Every (model, era, metric) from numerai-tools, one column and one era at a time."""
    out = {}
    for era in panel["eras"].unique():
        rows = panel["eras"] == era
        targets = panel["targets"][rows]
        features = panel["features"][rows].astype(float)
        for model in panel["predictions"].columns:
            column = panel["predictions"].loc[rows, [model]]
            present = column.dropna()
            out[model, era, "corr"] = oracle.numerai_corr(column, targets)[model]
            out[model, era, "mmc"] = oracle.correlation_contribution(column, panel["meta_model"][rows], targets)[model]
            out[model, era, "bmc"] = oracle.correlation_contribution(column, panel["benchmark"][rows], targets)[model]
            out[model, era, "fnc"] = oracle.feature_neutral_corr(present, features.loc[present.index], targets)[model]
            varying = features.loc[present.index].loc[:, lambda f: f.std() > 0]
            exposure = varying.apply(lambda f, p=present[model]: np.corrcoef(f, p)[0, 1]).abs()
            out[model, era, "fe_max"] = exposure.max()
            out[model, era, "fe_rms"] = float(np.sqrt((exposure**2).mean()))
            assert oracle.max_feature_correlation(present[model], varying)[1] == pytest.approx(exposure.max())
    return out


@pytest.fixture(scope="module")
def panel() -> dict:
    return era_panel()


def test_all_metrics_equal_numerai_tools(panel: dict) -> None:
    scores = score_eras(panel["predictions"], panel["targets"], panel["eras"], meta_model=panel["meta_model"],
                        benchmark=panel["benchmark"], features=panel["features"])
    expected = oracle_scores(panel)
    assert list(scores.columns) == ["model", "era", "metric", "value"]
    assert len(scores) == len(expected)
    for row in scores.itertuples():
        assert abs(row.value - expected[row.model, row.era, row.metric]) <= TOL, row


def test_polars_and_numpy_inputs_agree(panel: dict) -> None:
    reference = score_eras(panel["predictions"], panel["targets"], panel["eras"], meta_model=panel["meta_model"],
                           features=panel["features"])
    as_polars = score_eras(pl.from_pandas(panel["predictions"].reset_index(drop=True)),
                           pl.Series(panel["targets"].to_numpy()), pl.Series(panel["eras"].to_numpy()),
                           meta_model=panel["meta_model"].to_numpy(),
                           features=pl.from_pandas(panel["features"].reset_index(drop=True)))
    as_numpy = score_eras(panel["predictions"].to_numpy(), panel["targets"].to_numpy(), panel["eras"].to_numpy(),
                          meta_model=panel["meta_model"].to_numpy(), features=panel["features"].to_numpy(),
                          models=list(panel["predictions"].columns))
    pd.testing.assert_frame_equal(reference, as_polars)
    pd.testing.assert_frame_equal(reference, as_numpy)


def test_blocks_of_models_give_the_same_scores(panel: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = {"meta_model": panel["meta_model"], "features": panel["features"]}
    whole = score_eras(panel["predictions"], panel["targets"], panel["eras"], **kwargs)
    monkeypatch.setattr(batch, "MODEL_BLOCK", 4)
    blocked = score_eras(panel["predictions"], panel["targets"], panel["eras"], **kwargs)
    pd.testing.assert_frame_equal(whole, blocked)


def test_default_metrics_follow_inputs(panel: dict) -> None:
    only_corr = score_eras(panel["predictions"], panel["targets"], panel["eras"])
    assert set(only_corr["metric"]) == {"corr"}
    assert set(only_corr["era"]) == {"0001", "0002", "0003", "0004"}
    single = score_eras(panel["predictions"], panel["targets"], metrics=["corr"])
    assert set(single["era"]) == {"all"}


def test_metric_without_its_input_is_an_error(panel: dict) -> None:
    with pytest.raises(errors.EmptyInputError, match="metric 'mmc' needs meta_model"):
        score_eras(panel["predictions"], panel["targets"], panel["eras"], metrics=["mmc"])
    with pytest.raises(errors.NonNumericError, match="unknown metric 'sharpe'"):
        score_eras(panel["predictions"], panel["targets"], panel["eras"], metrics=["sharpe"])


def test_insufficient_coverage_raises_or_gives_nan(panel: dict) -> None:
    predictions = panel["predictions"].copy()
    predictions.iloc[:300, 2] = np.nan
    with pytest.raises(errors.InsufficientOverlapError, match=r"model 'm2' predicts .* era '0001'"):
        score_eras(predictions, panel["targets"], panel["eras"])
    scores = score_eras(predictions, panel["targets"], panel["eras"], on_insufficient="nan")
    values = scores.set_index(["model", "era"])["value"]
    assert np.isnan(values["m2", "0001"])
    assert np.isfinite(values["m2", "0002"])


@pytest.mark.parametrize("mutate, error, message", [
    (lambda p: p.update(targets=p["targets"].iloc[:-1]), errors.LengthMismatchError, "targets has 1599 rows"),
    (lambda p: p["predictions"].iloc.__setitem__((0, 0), np.inf), errors.MissingValuesError, "infinite"),
    (lambda p: p.update(predictions=p["predictions"].assign(m3="x")), errors.NonNumericError, "'m3'"),
    (lambda p: p["features"].iloc.__setitem__((0, 0), 7) or p.update(
        features=p["features"].astype(float).assign(f0=np.nan)), errors.MissingValuesError, "'f0'"),
    (lambda p: p.update(predictions=p["predictions"].iloc[:0], targets=p["targets"].iloc[:0],
                        eras=p["eras"].iloc[:0]), errors.EmptyInputError, "0 rows"),
])
def test_bad_input(mutate, error, message) -> None:
    panel = era_panel(k=4)
    mutate(panel)
    with pytest.raises(error, match=message):
        score_eras(panel["predictions"], panel["targets"], panel["eras"], features=panel["features"])


def test_nan_meta_model_where_targets_known(panel: dict) -> None:
    meta = panel["meta_model"].copy()
    meta.iloc[10] = np.nan
    with pytest.raises(errors.MissingValuesError, match="meta_model has 1 NaN values in era '0001'"):
        score_eras(panel["predictions"], panel["targets"], panel["eras"], meta_model=meta)


def test_constant_prediction_scores_nan(panel: dict) -> None:
    predictions = panel["predictions"].assign(flat=0.5)
    scores = score_eras(predictions, panel["targets"], panel["eras"], meta_model=panel["meta_model"])
    flat = scores[scores["model"] == "flat"]
    assert flat.loc[flat["metric"] == "corr", "value"].isna().all()
    assert (flat.loc[flat["metric"] == "mmc", "value"].abs() < 1e-12).all()

"""Validation diagnostics: engine scores equal numerai-tools, numerapi gets every field it asks for."""

from __future__ import annotations

import inspect
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numerai_tools import scoring as oracle
from numerapi.base_api import Api

from crowdalpha.data import layout
from crowdalpha.errors import DataError
from crowdalpha.toolkit import diagnostics
from crowdalpha.toolkit.diagnostics import Diagnostics, read_predictions, validation_diagnostics

TOL = 1e-9
#: Fields the API server adds itself.
SERVER_FIELDS = {"status", "message", "trainedOnVal", "updatedAt"}


@pytest.fixture(scope="module")
def validation(small_dataset: Path) -> pd.DataFrame:
    return layout.read_split(small_dataset, "validation")


@pytest.fixture(scope="module")
def example(small_dataset: Path) -> pd.Series:
    return pd.read_parquet(small_dataset / layout.VALIDATION_EXAMPLE_PREDS)[layout.PREDICTION]


@pytest.fixture(scope="module")
def predictions(example: pd.Series, validation: pd.DataFrame) -> pd.Series:
    """The example predictions plus noise, with 10 % of the ids of the first three eras left out."""
    rng = np.random.default_rng(1)
    noisy = (example + rng.normal(0, 0.05, len(example))).rename(layout.PREDICTION)
    first = validation.index[validation[layout.ERA].isin(sorted(validation[layout.ERA].unique())[:3])]
    return noisy.drop(rng.choice(first, len(first) // 10, replace=False))


@pytest.fixture(scope="module")
def result(small_dataset: Path, predictions: pd.Series) -> Diagnostics:
    return validation_diagnostics(small_dataset, predictions)


def numerapi_query_fields() -> tuple[set[str], set[str]]:
    """Top-level and ``perEraDiagnostics`` fields of numerapi's diagnostics query."""
    source = inspect.getsource(Api.diagnostics)
    body = re.search(r"diagnostics\(id: \$id\s+modelId: \$modelId\)\s*\{(.*)\}\s*\}\s*\"\"\"",
                     source, re.S)
    assert body is not None, "numerapi's diagnostics query changed shape"
    top: set[str] = set()
    per_era: set[str] = set()
    depth = 0
    for token in re.findall(r"[A-Za-z_]\w*|[{}]", body.group(1)):
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        else:
            (per_era if depth else top).add(token)
    return top, per_era


def test_per_era_scores_equal_numerai_tools(result: Diagnostics, small_dataset: Path,
                                            validation: pd.DataFrame, example: pd.Series,
                                            predictions: pd.Series) -> None:
    """The three eras with missing ids and every fourth other era, metric by metric.

    Targets go to numerai-tools as float64: the dataset stores them as float32,
    and numerai-tools would center them in float32 (off by up to ~1e-9), while
    the engine works in float64.
    """
    features = layout.read_features_json(small_dataset)["feature_sets"]["medium"]
    meta = pd.read_parquet(small_dataset / layout.META_MODEL)[layout.META_MODEL_COLUMN]
    benchmarks = pd.read_parquet(small_dataset / layout.VALIDATION_BENCHMARK_MODELS)
    benchmark = benchmarks[next(c for c in benchmarks.columns if c != layout.ERA)]
    eras = sorted(validation[layout.ERA].unique())
    assert list(result.per_era.index) == eras
    groups = validation.groupby(layout.ERA).groups
    for era in [*eras[:3], *eras[3::4]]:
        row = result.per_era.loc[era]
        ids = pd.Index(groups[era]).sort_values()
        target = validation.loc[ids, "target"].astype(np.float64)
        present = predictions.reindex(ids).dropna()
        frame = present.to_frame("model")
        era_features = validation.loc[present.index, features].astype(np.float64)
        expected = {
            "corr": oracle.numerai_corr(frame, target)["model"],
            "mmc": oracle.correlation_contribution(frame, meta[ids], target)["model"],
            "bmc": oracle.correlation_contribution(frame, benchmark[ids], target)["model"],
            "fnc": oracle.feature_neutral_corr(frame, era_features, target)["model"],
            "fe_max": oracle.max_feature_correlation(present, era_features)[1],
            "ric": oracle.spearman_correlation(target[present.index], present),
            "example_preds_corr": oracle.numerai_corr(example[ids].to_frame(), target)[layout.PREDICTION],
            "corr_with_example_preds": oracle.pearson_correlation(example[present.index], present),
        }
        expected["corr_plus_mmc"] = expected["corr"] + expected["mmc"]
        assert row["coverage"] == len(present) / len(ids)
        for name, value in expected.items():
            assert abs(row[name] - value) <= TOL, (era, name, row[name], value)


def test_summary_is_the_pandas_computation_of_the_per_era_frame(result: Diagnostics) -> None:
    per_era, summary = result.per_era, result.summary
    for name in diagnostics.SERIES:
        series = per_era[name]
        assert summary[f"{name}_mean"] == pytest.approx(series.mean(), abs=TOL)
        assert summary[f"{name}_std"] == pytest.approx(series.std(ddof=0), abs=TOL)
        assert summary[f"{name}_sharpe"] == pytest.approx(series.mean() / series.std(ddof=0), abs=TOL)
        assert summary[f"{name}_autocorrelation"] == pytest.approx(series.autocorr(), abs=TOL)
        cumulative = series.cumsum()
        drawdown = (cumulative - cumulative.clip(lower=0).cummax()).min()
        assert summary[f"{name}_max_drawdown"] == pytest.approx(min(drawdown, 0.0), abs=TOL)
        assert summary[f"{name}_eras"] == len(per_era)
    assert summary["eras_accepted"] == len(per_era) == 80
    assert summary["eras_rejected"] == 0
    assert summary["corr_plus_mmc_sharpe_diff"] == pytest.approx(
        summary["corr_plus_mmc_sharpe"] - summary["corr_sharpe"])
    growth = np.prod(1 + per_era["corr"].clip(-0.05, 0.05))
    assert summary["apy"] == pytest.approx(100 * (growth ** (52 / len(per_era)) - 1))


def test_as_numerapi_answers_every_field_numerapi_asks_for(result: Diagnostics) -> None:
    top, per_era_fields = numerapi_query_fields()
    answer = result.as_numerapi()
    assert "perEraDiagnostics" in top and "validationCorrMean" in top and "era" in per_era_fields
    assert set(answer) == top - SERVER_FIELDS
    assert all(set(era) == per_era_fields for era in answer["perEraDiagnostics"])
    assert json.loads(json.dumps(answer, allow_nan=False)) == answer
    assert answer["erasAcceptedCount"] == 80
    assert answer["perEraDiagnostics"][0]["era"] == result.per_era.index[0]
    assert answer["validationCorrMean"] == result.summary["corr_mean"]
    assert answer["validationCorrV4Mean"] == answer["validationCorrMean"]
    assert answer["validationFncV4Mean"] == answer["validationFeatureNeutralCorrMean"]
    assert answer["validationCorrMeanRating"] is None and answer["validationAlphaMean"] is None
    first = answer["perEraDiagnostics"][0]
    assert type(first["validationCorr"]) is float and first["validationChurn"] is None


def test_low_coverage_eras_are_not_accepted(small_dataset: Path, validation: pd.DataFrame,
                                            example: pd.Series) -> None:
    eras = sorted(validation[layout.ERA].unique())
    rng = np.random.default_rng(2)
    dropped = []
    for era, share in [*((e, 0.3) for e in eras[10:15]), *((e, 0.15) for e in eras[20:23])]:
        ids = validation.index[validation[layout.ERA] == era]
        dropped.extend(rng.choice(ids, int(share * len(ids)), replace=False))
    result = validation_diagnostics(small_dataset, example.drop(dropped))
    assert result.summary["eras_accepted"] == result.as_numerapi()["erasAcceptedCount"] == 75
    assert result.summary["eras_rejected"] == 5
    assert result.summary["corr_eras"] == 75
    assert not set(eras[10:15]) & set(result.per_era.index)
    assert set(eras[20:23]) <= set(result.per_era.index)
    assert (result.per_era.loc[eras[20:23], "coverage"].round(2) == 0.85).all()


def test_no_accepted_era_is_an_error(small_dataset: Path, example: pd.Series) -> None:
    with pytest.raises(DataError, match="no validation era is covered at 80%"):
        validation_diagnostics(small_dataset, example.iloc[::2])


def test_mmc_only_in_eras_the_meta_model_covers(small_dataset: Path, tmp_path: Path,
                                                predictions: pd.Series, result: Diagnostics) -> None:
    for name in (layout.VALIDATION, layout.FEATURES_JSON, layout.VALIDATION_EXAMPLE_PREDS,
                 layout.VALIDATION_BENCHMARK_MODELS):
        shutil.copy(small_dataset / name, tmp_path / name)
    meta = pd.read_parquet(small_dataset / layout.META_MODEL)
    late = sorted(meta[layout.ERA].unique())[40:]
    meta[meta[layout.ERA].isin(late)].to_parquet(tmp_path / layout.META_MODEL)
    partial = validation_diagnostics(tmp_path, predictions)
    assert partial.per_era["mmc"].notna().sum() == 40
    assert partial.per_era.loc[late, "mmc"].tolist() == pytest.approx(result.per_era.loc[late, "mmc"].tolist(),
                                                                       abs=TOL)
    assert partial.summary["mmc_eras"] == partial.summary["corr_plus_mmc_eras"] == 40
    assert partial.summary["corr_eras"] == 80
    answer = partial.as_numerapi()
    assert answer["perEraDiagnostics"][0]["validationMmc"] is None
    assert answer["validationMmcMean"] == pytest.approx(partial.per_era["mmc"].mean())
    json.dumps(answer, allow_nan=False)


def test_ids_not_in_validation_are_an_error(small_dataset: Path, example: pd.Series) -> None:
    strangers = pd.Series([0.5, 0.5, 0.5, 0.5], index=["nope1", "nope2", "nope3", "nope4"])
    with pytest.raises(DataError, match=r"4 ids are not validation ids, first: 'nope1', 'nope2', 'nope3'$"):
        validation_diagnostics(small_dataset, pd.concat([example, strangers]))


def test_nan_predictions_are_an_error_naming_the_id(small_dataset: Path, example: pd.Series) -> None:
    broken = example.copy()
    broken.iloc[[7, 9]] = np.nan
    with pytest.raises(DataError, match=f"2 predictions are NaN or infinite, first at id '{example.index[7]}'"):
        validation_diagnostics(small_dataset, broken)


def test_duplicated_ids_and_unknown_feature_sets_are_errors(small_dataset: Path, example: pd.Series) -> None:
    with pytest.raises(DataError, match="1 ids are predicted more than once"):
        validation_diagnostics(small_dataset, pd.concat([example, example.iloc[:1]]))
    with pytest.raises(DataError, match=r"feature set 'huge' is not in .*features\.json; choose from small"):
        validation_diagnostics(small_dataset, example, feature_set="huge")


def test_inputs_are_not_modified(small_dataset: Path, predictions: pd.Series) -> None:
    before = predictions.copy()
    validation_diagnostics(small_dataset, predictions, feature_set="small")
    pd.testing.assert_series_equal(predictions, before)


@pytest.mark.parametrize("kind", ["csv", "parquet", "parquet_indexed"])
def test_read_predictions_round_trip(kind: str) -> None:
    expected = pd.Series([0.25, 0.5, 1.0], index=pd.Index(["a", "007", "c"], name="id"), name="prediction")
    buffer = io.BytesIO()
    if kind == "csv":
        expected.reset_index().to_csv(buffer, index=False)
    else:
        (expected.to_frame() if kind == "parquet_indexed" else expected.reset_index()).to_parquet(buffer)
    read = read_predictions(buffer.getvalue(), f"preds.{kind.split('_')[0]}")
    pd.testing.assert_series_equal(read, expected, check_index_type=False)
    assert read.index.tolist() == ["a", "007", "c"]


@pytest.mark.parametrize(("content", "message"), [
    (b"id,score\na,0.5\n", "'preds.csv' has no 'prediction' column; columns: ['id', 'score']"),
    (b"ident,prediction\na,0.5\n", "'preds.csv' has no 'id' column"),
    (b"id,prediction\na,0.5\nb,high\n", "'preds.csv' column 'prediction' has 1 values that are not numbers, "
                                        "first 'high' at row 1 (id 'b')"),
    (b"id,prediction\na,0.5\nb,\n", "'preds.csv' column 'prediction' has 1 NaN or infinite values, "
                                    "first at row 1 (id 'b')"),
    (b"id,prediction\na,0.5\n,0.2\n", "'preds.csv' has 1 empty ids, first at row 1"),
    (b"", "'preds.csv' is empty"),
])
def test_read_predictions_names_what_is_wrong(content: bytes, message: str) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        read_predictions(content, "preds.csv")


def test_read_predictions_rejects_other_formats() -> None:
    with pytest.raises(DataError, match=r"'preds\.txt' is not a \.csv or \.parquet file"):
        read_predictions(b"id prediction", "preds.txt")
    with pytest.raises(DataError, match=r"'preds\.parquet' cannot be read as parquet"):
        read_predictions(b"id,prediction\na,0.5\n", "preds.parquet")


def test_all_lists_the_public_names() -> None:
    assert [n for n in diagnostics.__all__ if not hasattr(diagnostics, n)] == []
    defined_here = {n for n, obj in vars(diagnostics).items()
                    if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                    and obj.__module__ == diagnostics.__name__}
    assert defined_here <= set(diagnostics.__all__)

"""Validation diagnostics: how one model's validation predictions score, era by era.

What numerapi's ``upload_diagnostics`` + ``diagnostics`` show, computed by the
scoring engine (``score_eras`` and ``scoring.summary``), never by a second
implementation of a metric. An era is scored ("accepted") only if the
predictions cover at least ``MIN_COVERAGE`` of its validation ids.

Per era (``Diagnostics.per_era``, one row per accepted era)::

    coverage                 share of the era's validation ids predicted
    corr                     numerai CORR with the main target
    mmc                      contribution to the meta-model (eras it covers, else NaN)
    bmc                      contribution to the top (first) benchmark model
    fnc                      CORR after neutralizing to the feature set
    fe_max                   max |Pearson corr| of the predictions with a feature of the set
    ric                      Spearman rank correlation with the main target
    corr_plus_mmc            corr + mmc
    example_preds_corr       CORR of the example predictions (all of the era's ids)
    corr_with_example_preds  Pearson correlation of the predictions with the example predictions

``Diagnostics.summary`` holds ``<series>_<stat>`` for every series above but
``coverage`` (stats from ``scoring.summary.summarize``: mean, std (ddof=0),
sharpe, max_drawdown, autocorrelation, smart_sharpe, compound_return, eras;
NaN eras left out), plus ``eras_accepted``, ``eras_rejected``, ``apy`` and
``corr_plus_mmc_sharpe_diff``.

Mapping to numerapi's fields (``Diagnostics.as_numerapi``):

- Our engine has one version of each metric: ``CorrV4`` is ``Corr``;
  ``FncV4`` and ``FeatureNeutralCorrV3`` are ``FeatureNeutralCorr``.
- ``validationFeatureCorrMax`` is the mean of the per-era ``fe_max``;
  ``validationMaxDrawdown``, ``validationAutocorr`` and
  ``validationAdjustedSharpe`` (smart Sharpe) are those of CORR.
- ``validationCorrPlusMmcSharpeDiff``: Sharpe of corr+mmc minus Sharpe of CORR
  (as in Numerai's example scripts that introduced it).
- ``*CorrWExamplePreds``: correlation with the example predictions is a
  property of the predictions, not of a metric, so every metric we compute
  (Corr, CorrV4, FncV4, Ric) carries the same per-era mean.
- ``validationApy``: annualized growth in percent of a stake paid each era's
  CORR, capped at +-5 % (``compound_return``), reinvested, at ``ERAS_PER_YEAR``
  weekly eras a year. Eras overlap, so it is an illustration, not a forecast.
- ``None``: every ``*Rating`` (Numerai rates a model against its other users'
  models), ``validationAlpha*`` and ``validationIcV2*`` (Numerai-internal
  portfolio and target definitions), ``validationChurn`` (needs earlier
  submissions). None of these has a defined meaning here.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from crowdalpha.data import layout
from crowdalpha.data.targets import MAIN_TARGET
from crowdalpha.errors import DataError
from crowdalpha.scoring import score_eras, summarize

#: An era is scored only if the predictions cover this share of its validation ids.
MIN_COVERAGE = 0.8
#: Eras a year (weekly eras), for ``validationApy``.
ERAS_PER_YEAR = 52
#: Accepted names of the prediction column in a file, in order of preference.
PREDICTION_COLUMNS = (layout.PREDICTION, "probability")
#: The per-era series that get summaries, in ``per_era`` column order.
SERIES = ("corr", "mmc", "bmc", "fnc", "fe_max", "ric", "corr_plus_mmc",
          "example_preds_corr", "corr_with_example_preds")
#: Statistics of each series, as ``scoring.summary.summarize`` names them.
STATS = ("mean", "std", "sharpe", "max_drawdown", "autocorrelation", "smart_sharpe",
         "compound_return", "eras")

_MODEL = "model"
_EXAMPLE = "example_preds"
_SHOWN_IDS = 3

# numerapi per-era field -> per_era column (None: no meaning here)
_PER_ERA_FIELDS: dict[str, str | None] = {
    "examplePredsCorr": "example_preds_corr",
    "validationAlpha": None,
    "validationBmc": "bmc",
    "validationChurn": None,
    "validationCorr": "corr",
    "validationCorrV4": "corr",
    "validationFeatureCorrMax": "fe_max",
    "validationFeatureNeutralCorr": "fnc",
    "validationFeatureNeutralCorrV3": "fnc",
    "validationMmc": "mmc",
    "validationFncV4": "fnc",
    "validationIcV2": None,
    "validationRic": "ric",
}

# numerapi top-level field -> summary key (None: no meaning here)
_SUMMARY_FIELDS: dict[str, str | None] = {
    "erasAcceptedCount": "eras_accepted",
    "examplePredsCorrMean": "example_preds_corr_mean",
    "validationCorrMean": "corr_mean",
    "validationCorrStd": "corr_std",
    "validationCorrSharpe": "corr_sharpe",
    "validationCorrMaxDrawdown": "corr_max_drawdown",
    "validationCorrCorrWExamplePreds": "corr_with_example_preds_mean",
    "validationCorrPlusMmcMean": "corr_plus_mmc_mean",
    "validationCorrPlusMmcStd": "corr_plus_mmc_std",
    "validationCorrPlusMmcSharpe": "corr_plus_mmc_sharpe",
    "validationCorrPlusMmcSharpeDiff": "corr_plus_mmc_sharpe_diff",
    "validationMmcMean": "mmc_mean",
    "validationMmcStd": "mmc_std",
    "validationMmcSharpe": "mmc_sharpe",
    "validationBmcMean": "bmc_mean",
    "validationFeatureNeutralCorrMean": "fnc_mean",
    "validationFeatureNeutralCorrV3Mean": "fnc_mean",
    "validationFeatureCorrMax": "fe_max_mean",
    "validationMaxDrawdown": "corr_max_drawdown",
    "validationAdjustedSharpe": "corr_smart_sharpe",
    "validationAutocorr": "corr_autocorrelation",
    "validationApy": "apy",
    "validationCorrV4Mean": "corr_mean",
    "validationCorrV4Std": "corr_std",
    "validationCorrV4Sharpe": "corr_sharpe",
    "validationCorrV4MaxDrawdown": "corr_max_drawdown",
    "validationCorrV4CorrWExamplePreds": "corr_with_example_preds_mean",
    "validationFncV4Mean": "fnc_mean",
    "validationFncV4Std": "fnc_std",
    "validationFncV4Sharpe": "fnc_sharpe",
    "validationFncV4MaxDrawdown": "fnc_max_drawdown",
    "validationFncV4CorrWExamplePreds": "corr_with_example_preds_mean",
    "validationRicMean": "ric_mean",
    "validationRicStd": "ric_std",
    "validationRicSharpe": "ric_sharpe",
    "validationRicMaxDrawdown": "ric_max_drawdown",
    "validationRicCorrWExamplePreds": "corr_with_example_preds_mean",
    **dict.fromkeys([
        "validationCorrMeanRating", "validationCorrStdRating", "validationCorrSharpeRating",
        "validationCorrPlusMmcMeanRating", "validationCorrPlusMmcStdRating",
        "validationCorrPlusMmcSharpeRating", "validationCorrPlusMmcSharpeDiffRating",
        "validationMmcMeanRating", "validationMmcStdRating", "validationMmcSharpeRating",
        "validationFeatureNeutralCorrMeanRating", "validationFeatureNeutralCorrV3MeanRating",
        "validationFeatureCorrMaxRating", "validationMaxDrawdownRating",
        *(f"validation{metric}{stat}" for metric in ("Alpha", "IcV2")
          for stat in ("Mean", "Std", "Sharpe", "MaxDrawdown", "CorrWExamplePreds")),
    ]),
}


def _plain(value: Any) -> float | int | None:
    """A JSON-ready number: ``None`` for missing or NaN, ints stay ints."""
    if value is None:
        return None
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    number = float(value)
    return None if math.isnan(number) else number


@dataclass(frozen=True)
class Diagnostics:
    """Scores of one model's validation predictions: per accepted era, and summarized."""

    per_era: pd.DataFrame  # index: era label; columns: coverage, then SERIES
    summary: dict[str, float | int | None]

    def as_numerapi(self) -> dict[str, Any]:
        """The fields numerapi's ``diagnostics`` query asks for, JSON-ready (NaN -> None).

        The server adds ``status``, ``message``, ``trainedOnVal`` and ``updatedAt``.
        """
        result: dict[str, Any] = {field: None if key is None else self.summary[key]
                                  for field, key in _SUMMARY_FIELDS.items()}
        result["perEraDiagnostics"] = [
            {"era": str(era),
             **{field: None if column is None else _plain(row[column])
                for field, column in _PER_ERA_FIELDS.items()}}
            for era, row in self.per_era.iterrows()
        ]
        return result


# --------------------------------------------------------------------------- reading

def read_predictions(data: bytes, filename: str) -> pd.Series:
    """Predictions from a CSV or parquet file with an ``id`` and a ``prediction``
    (or ``probability``) column, as a float series indexed by id.

    ``DataError`` names the file, and the column, row or id at fault.
    """
    frame = _read_frame(data, filename)
    columns = [str(c) for c in frame.columns]
    if layout.ID not in columns:
        raise DataError(f"'{filename}' has no '{layout.ID}' column; columns: {columns}")
    column = next((c for c in PREDICTION_COLUMNS if c in columns), None)
    if column is None:
        raise DataError(f"'{filename}' has no '{layout.PREDICTION}' column; columns: {columns}")
    ids = frame[layout.ID]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna())[0])
        raise DataError(f"'{filename}' has {int(ids.isna().sum())} empty ids, first at row {row}")
    ids = ids.astype(str)
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce") if raw.dtype != bool else raw.astype(float)
    bad = values.isna() & raw.notna()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"'{filename}' column '{column}' has {int(bad.sum())} values that are not "
                        f"numbers, first {str(raw.iloc[row])!r} at row {row} (id {ids.iloc[row]!r})")
    values = values.astype(np.float64)
    missing = ~np.isfinite(values.to_numpy())
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(f"'{filename}' column '{column}' has {int(missing.sum())} NaN or infinite "
                        f"values, first at row {row} (id {ids.iloc[row]!r})")
    return pd.Series(values.to_numpy(), index=pd.Index(ids.to_numpy(), name=layout.ID),
                     name=layout.PREDICTION)


def _read_frame(data: bytes, filename: str) -> pd.DataFrame:
    """The file's table, ``id`` as a column; parquet by suffix or magic bytes, else CSV."""
    name = filename.lower()
    is_parquet = name.endswith(".parquet") or (not name.endswith(".csv") and data[:4] == b"PAR1")
    if not is_parquet and not name.endswith(".csv"):
        raise DataError(f"'{filename}' is not a .csv or .parquet file")
    if not data:
        raise DataError(f"'{filename}' is empty")
    try:
        if is_parquet:
            frame = pd.read_parquet(io.BytesIO(data))
            if layout.ID not in frame.columns and frame.index.name == layout.ID:
                frame = frame.reset_index()
        else:
            frame = pd.read_csv(io.BytesIO(data), dtype={layout.ID: str})
    except Exception as exc:  # any parser failure is the file's fault
        kind = "parquet" if is_parquet else "CSV"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"'{filename}' cannot be read as {kind} ({reason})") from None
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- scoring

def validation_diagnostics(version_dir: Path, predictions: pd.Series, *,
                           feature_set: str = "medium") -> Diagnostics:
    """Diagnostics of ``predictions`` (indexed by validation id) on a dataset version.

    1. check the ids (all known, none twice) and values (numbers, no NaN)
    2. accept the eras whose ids are covered at ``MIN_COVERAGE`` or more
    3. score CORR, FNC and feature exposure of the model, and CORR of the
       example predictions, with one ``score_eras`` call over the accepted eras;
       MMC and BMC with one call each, over the eras their reference covers
    4. Ric and the correlation with the example predictions, per era
    5. summarize every per-era series
    """
    version_dir = Path(version_dir)
    features = _feature_names(version_dir, feature_set)
    validation = layout.read_split(version_dir, "validation",
                                   columns=[layout.ERA, MAIN_TARGET, *features])
    model = _aligned_predictions(predictions, validation.index)
    validation[layout.ERA] = eras = validation[layout.ERA].astype(str)
    coverage = model.notna().groupby(eras).mean()
    is_accepted = coverage >= MIN_COVERAGE
    accepted = coverage.index[is_accepted]
    if accepted.empty:
        raise DataError(f"no validation era is covered at {MIN_COVERAGE:.0%} or more; the predictions "
                        f"cover at most {coverage.max():.1%} of an era's ids")
    rows = eras.map(is_accepted).to_numpy(dtype=bool)
    example = _reference(version_dir / layout.VALIDATION_EXAMPLE_PREDS, layout.PREDICTION,
                         validation.index)
    columns = pd.DataFrame({_MODEL: model, _EXAMPLE: example})
    scores = _score(columns, validation, rows, ["corr", "fnc", "fe_max"], features=features)
    model_scores = scores[_MODEL]
    meta = _reference(version_dir / layout.META_MODEL, layout.META_MODEL_COLUMN, validation.index)
    benchmark_file = version_dir / layout.VALIDATION_BENCHMARK_MODELS
    benchmark = _reference(benchmark_file, _top_benchmark(benchmark_file), validation.index)
    per_era = pd.DataFrame({
        "coverage": coverage[accepted],
        "corr": model_scores["corr"],
        "mmc": _contribution(columns[[_MODEL]], validation, rows, meta, "mmc"),
        "bmc": _contribution(columns[[_MODEL]], validation, rows, benchmark, "bmc"),
        "fnc": model_scores["fnc"],
        "fe_max": model_scores["fe_max"],
    }, index=pd.Index(accepted, name=layout.ERA))
    predicted = rows & model.notna().to_numpy()
    per_era["ric"] = _per_era_pearson(_per_era_rank(model[predicted], eras[predicted]),
                                      _per_era_rank(validation[MAIN_TARGET][predicted], eras[predicted]),
                                      eras[predicted])
    per_era["corr_plus_mmc"] = per_era["corr"] + per_era["mmc"]
    per_era["example_preds_corr"] = scores[_EXAMPLE]["corr"]
    per_era["corr_with_example_preds"] = _per_era_pearson(model[rows], example[rows], eras[rows])
    return Diagnostics(per_era, _summary(per_era, int((~is_accepted).sum())))


def _feature_names(version_dir: Path, feature_set: str) -> list[str]:
    sets = layout.read_features_json(version_dir)["feature_sets"]
    if feature_set not in sets:
        raise DataError(f"feature set {feature_set!r} is not in {version_dir / layout.FEATURES_JSON}; "
                        f"choose from {', '.join(sets)}")
    return list(sets[feature_set])


def _aligned_predictions(predictions: pd.Series, validation_ids: pd.Index) -> pd.Series:
    """The predictions as floats in validation row order, NaN where an id is not predicted."""
    if not isinstance(predictions, pd.Series):
        raise DataError(f"predictions must be a pandas Series indexed by id, got {type(predictions).__name__}")
    if not pd.api.types.is_numeric_dtype(predictions.dtype) or pd.api.types.is_bool_dtype(predictions.dtype):
        raise DataError(f"predictions have dtype {predictions.dtype}, expected numbers")
    ids = pd.Index(predictions.index.astype(str))
    duplicated = ids[ids.duplicated()].unique()
    if len(duplicated):
        raise DataError(f"{len(duplicated)} ids are predicted more than once, first: {duplicated[0]!r}")
    values = predictions.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = ~np.isfinite(values)
    if missing.any():
        raise DataError(f"{int(missing.sum())} predictions are NaN or infinite, "
                        f"first at id {ids[np.flatnonzero(missing)[0]]!r}")
    positions = validation_ids.get_indexer(ids)
    unknown = ids[positions < 0]
    if len(unknown):
        shown = ", ".join(repr(i) for i in unknown[:_SHOWN_IDS])
        raise DataError(f"{len(unknown)} ids are not validation ids, first: {shown}")
    aligned = np.full(len(validation_ids), np.nan)
    aligned[positions] = values
    return pd.Series(aligned, index=validation_ids)


def _reference(path: Path, column: str, validation_ids: pd.Index) -> pd.Series:
    """One column of a dataset file in validation row order (NaN where an id is absent)."""
    return pd.read_parquet(path, columns=[column])[column].astype(np.float64).reindex(validation_ids)


def _top_benchmark(path: Path) -> str:
    """The first (top) benchmark model column of the benchmark file."""
    names = [c for c in pq.read_schema(path).names
             if c not in (layout.ID, layout.ERA, layout.DATA_TYPE) and not c.startswith("__")]
    if not names:
        raise DataError(f"{path} has no benchmark model column")
    return str(names[0])


def _score(columns: pd.DataFrame, validation: pd.DataFrame, rows: np.ndarray, metrics: list[str],
           features: list[str] | None = None, **references: pd.Series) -> pd.DataFrame:
    """``score_eras`` over the selected rows, wide: index era, columns (model, metric)."""
    tidy = score_eras(
        columns[rows], validation[MAIN_TARGET][rows], validation[layout.ERA][rows],
        features=None if features is None else validation.loc[rows, features],
        metrics=metrics, max_filtered_index_ratio=1 - MIN_COVERAGE,
        **{name: reference[rows] for name, reference in references.items()},
    )
    return tidy.pivot(index="era", columns=["model", "metric"], values="value")


def _contribution(column: pd.DataFrame, validation: pd.DataFrame, rows: np.ndarray,
                  reference: pd.Series, metric: str) -> pd.Series:
    """MMC (``metric="mmc"``, reference the meta-model) or BMC (``"bmc"``, the
    benchmark) per era, over the eras where the reference has every id; NaN in the others."""
    complete = reference.notna().groupby(validation[layout.ERA]).transform("all").to_numpy()
    rows = rows & complete
    if not rows.any():
        return pd.Series(dtype=np.float64)
    keyword = {"mmc": "meta_model", "bmc": "benchmark"}[metric]
    return _score(column, validation, rows, [metric], **{keyword: reference}).iloc[:, 0]


def _per_era_rank(values: pd.Series, eras: pd.Series) -> pd.Series:
    """Average ranks (ties share) within each era."""
    return values.groupby(eras).rank(method="average")


def _per_era_pearson(x: pd.Series, y: pd.Series, eras: pd.Series) -> pd.Series:
    """Pearson correlation of ``x`` and ``y`` within each era, over ids where both are
    known; NaN where either is constant."""
    frame = pd.DataFrame({"x": x, "y": y, "era": eras}).dropna()
    centered = frame[["x", "y"]] - frame.groupby("era")[["x", "y"]].transform("mean")
    sums = pd.DataFrame({"xy": centered["x"] * centered["y"], "xx": centered["x"] ** 2,
                         "yy": centered["y"] ** 2}).groupby(frame["era"]).sum()
    scale = np.sqrt(sums["xx"] * sums["yy"])
    return (sums["xy"] / scale.where(scale > 0)).astype(np.float64)


def _summary(per_era: pd.DataFrame, eras_rejected: int) -> dict[str, float | int | None]:
    """Every series' statistics, the accepted/rejected era counts, APY and the Sharpe diff."""
    summary: dict[str, float | int | None] = {}
    for name in SERIES:
        series = per_era[name].dropna()
        stats = summarize(series.to_numpy()) if len(series) else dict.fromkeys(STATS)
        stats["eras"] = len(series)
        summary.update({f"{name}_{stat}": _plain(stats[stat]) for stat in STATS})
    summary["eras_accepted"] = len(per_era)
    summary["eras_rejected"] = eras_rejected
    growth = summary["corr_compound_return"]
    eras = summary["corr_eras"]
    summary["apy"] = (None if growth is None or not eras
                      else _plain(100 * ((1 + growth) ** (ERAS_PER_YEAR / eras) - 1)))
    plus, corr = summary["corr_plus_mmc_sharpe"], summary["corr_sharpe"]
    summary["corr_plus_mmc_sharpe_diff"] = None if plus is None or corr is None else plus - corr
    return summary


__all__ = [
    "ERAS_PER_YEAR",
    "MIN_COVERAGE",
    "PREDICTION_COLUMNS",
    "SERIES",
    "STATS",
    "Diagnostics",
    "read_predictions",
    "validation_diagnostics",
]

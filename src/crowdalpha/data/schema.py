"""The raw panel: what the dataset builder reads, from the simulator or an operator.

One row per stock per date. Columns (see docs/data.md):

==================  ==========================================================
``date``            the era's date (any sortable type); one era per date
``stock_id``        the operator's stock identifier (string or integer)
``feature_*``       raw numeric features; ``feature_<group>__<name>`` puts the
                    feature in ``<group>``; NaN allowed (middle bin)
``fwd_return_<h>``  forward return over ``h`` trading days after the lag; the
                    main horizon (20) is required and complete except in the
                    trailing unresolved eras, where it is all NaN
``risk_*``          numeric risk exposures to neutralize targets against
                    (``risk_beta`` is the market beta)
``sector``,         optional categorical exposures (neutralized as dummies)
``country``,
``currency``
==================  ==========================================================

``validate_panel`` checks a frame and ``iter_panel_eras`` cuts it into
:class:`EraData`, the in-memory form of one era that the simulator produces too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crowdalpha.errors import DataError

DATE = "date"
STOCK_ID = "stock_id"
FEATURE_PREFIX = "feature_"
RETURN_PREFIX = "fwd_return_"
RISK_PREFIX = "risk_"
CATEGORICAL = ("sector", "country", "currency")
#: Separates the group from the name in a raw feature column.
GROUP_SEPARATOR = "__"
#: Group of raw features whose name carries none.
DEFAULT_GROUP = "misc"
#: Fewest stocks an era may have.
MIN_STOCKS_PER_ERA = 50


@dataclass
class EraData:
    """One era of a raw panel as arrays: what the builder turns into rows."""

    era: int
    date: object  # the era's date (numpy datetime64 from the simulator)
    stock_ids: np.ndarray  # (n,) str
    features: np.ndarray  # (n, f) float32 raw features
    forward_returns: dict[int, np.ndarray]  # horizon -> (n,) returns, NaN unknown
    risk: dict[str, np.ndarray]  # numeric exposures by name (no prefix)
    categories: dict[str, np.ndarray] = field(default_factory=dict)  # sector/country/currency
    regime: str | None = None  # simulator only: the market regime at the era's date

    @property
    def n(self) -> int:
        return len(self.stock_ids)

    def to_frame(self, feature_names: list[str] | tuple[str, ...]) -> pd.DataFrame:
        """The era as raw-panel rows, in the schema above."""
        columns: dict[str, object] = {
            DATE: np.repeat(self.date, self.n),
            STOCK_ID: self.stock_ids,
        }
        columns.update(self.categories)
        columns.update({RISK_PREFIX + k: v for k, v in self.risk.items()})
        frame = pd.DataFrame(columns)
        features = pd.DataFrame(self.features, columns=list(feature_names))
        returns = pd.DataFrame({f"{RETURN_PREFIX}{h}": v for h, v in self.forward_returns.items()})
        return pd.concat([frame, features, returns], axis=1)


@dataclass(frozen=True)
class PanelColumns:
    """Which columns of a validated panel play which role."""

    features: list[str]
    groups: dict[str, list[str]]
    horizons: list[int]
    risk: list[str]
    categorical: list[str]


def feature_group(column: str) -> str:
    """The group a raw feature column names (``feature_<group>__<name>``)."""
    body = column[len(FEATURE_PREFIX):]
    return body.split(GROUP_SEPARATOR, 1)[0] if GROUP_SEPARATOR in body else DEFAULT_GROUP


def validate_panel(panel: pd.DataFrame, main_horizon: int = 20, source: str = "panel",
                   min_stocks: int = MIN_STOCKS_PER_ERA) -> PanelColumns:
    """Check an operator panel; raise ``DataError`` naming the file, column, row or era.

    Checks, in order: required columns, numeric features/returns/exposures,
    duplicate (date, stock_id) rows, missing ids or dates, infinite values,
    NaN risk exposures, NaN main returns inside resolved eras, stocks per era.
    """
    missing = [c for c in (DATE, STOCK_ID, f"{RETURN_PREFIX}{main_horizon}") if c not in panel.columns]
    if missing:
        raise DataError(f"{source}: missing column {missing[0]!r} (required: {DATE!r}, {STOCK_ID!r}, "
                        f"'{RETURN_PREFIX}{main_horizon}')")
    features = [str(c) for c in panel.columns if str(c).startswith(FEATURE_PREFIX)]
    if not features:
        raise DataError(f"{source}: no feature columns (names starting with {FEATURE_PREFIX!r})")
    returns = [str(c) for c in panel.columns if str(c).startswith(RETURN_PREFIX)]
    horizons = []
    for column in returns:
        suffix = column[len(RETURN_PREFIX):]
        if not suffix.isdigit() or int(suffix) <= 0:
            raise DataError(f"{source}: column {column!r} must be named '{RETURN_PREFIX}<days>'")
        horizons.append(int(suffix))
    risk = [str(c) for c in panel.columns if str(c).startswith(RISK_PREFIX)]
    for column in features + returns + risk:
        _check_numeric(panel, column, source)
    categorical = [c for c in CATEGORICAL if c in panel.columns]
    for column in (DATE, STOCK_ID, *categorical):
        if panel[column].isna().any():
            row = int(np.flatnonzero(panel[column].isna().to_numpy())[0])
            raise DataError(f"{source}: column {column!r} is missing a value at row {row}")
    duplicated = panel.duplicated([DATE, STOCK_ID]).to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise DataError(f"{source}: duplicate (date, stock_id) at row {row}: "
                        f"({panel[DATE].iloc[row]!s}, {panel[STOCK_ID].iloc[row]!s}); "
                        f"{int(duplicated.sum())} duplicated rows in all")
    for column in features + returns + risk:
        values = panel[column].to_numpy(dtype=np.float64, na_value=np.nan)
        infinite = np.isinf(values)
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            raise DataError(f"{source}: column {column!r} has {int(infinite.sum())} infinite values, "
                            f"first at row {row} (date {panel[DATE].iloc[row]!s})")
    for column in risk:
        isna = panel[column].isna().to_numpy()
        if isna.any():
            row = int(np.flatnonzero(isna)[0])
            raise DataError(f"{source}: risk exposure {column!r} is NaN at row {row} "
                            f"(date {panel[DATE].iloc[row]!s}, stock {panel[STOCK_ID].iloc[row]!s})")
    _check_main_returns(panel, f"{RETURN_PREFIX}{main_horizon}", source)
    counts = panel.groupby(DATE, sort=True).size()
    small = counts[counts < min_stocks]
    if len(small):
        raise DataError(f"{source}: era with date {small.index[0]!s} has {int(small.iloc[0])} stocks; "
                        f"every era needs at least {min_stocks} ({len(small)} eras too small)")
    groups: dict[str, list[str]] = {}
    for column in features:
        groups.setdefault(feature_group(column), []).append(column)
    return PanelColumns(features, groups, sorted(horizons), risk, categorical)


def _check_numeric(panel: pd.DataFrame, column: str, source: str) -> None:
    dtype = panel[column].dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return
    converted = pd.to_numeric(panel[column], errors="coerce")
    bad = converted.isna().to_numpy() & panel[column].notna().to_numpy()
    detail = ""
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        detail = f", e.g. {panel[column].iloc[row]!r} at row {row}"
    raise DataError(f"{source}: column {column!r} must be numeric, has dtype {dtype}{detail}")


def _check_main_returns(panel: pd.DataFrame, column: str, source: str) -> None:
    """The main return may be all-NaN only in trailing eras; elsewhere never NaN."""
    isna = panel[column].isna()
    if not isna.any():
        return
    by_era = isna.groupby(panel[DATE], sort=True).agg(["all", "any"])
    unresolved = by_era["all"].to_numpy()
    last_resolved = np.flatnonzero(~unresolved)
    cut = last_resolved[-1] if len(last_resolved) else -1
    partial = by_era.index[(by_era["any"].to_numpy() & ~unresolved) | (unresolved & (np.arange(len(by_era)) < cut))]
    if len(partial):
        date = partial[0]
        rows = np.flatnonzero((panel[DATE] == date).to_numpy() & isna.to_numpy())
        row = int(rows[0])
        raise DataError(f"{source}: column {column!r} is NaN at row {row} (date {date!s}, stock "
                        f"{panel[STOCK_ID].iloc[row]!s}); NaN main returns are allowed only in the "
                        f"trailing unresolved eras ({len(rows)} NaN in that era)")


def iter_panel_eras(panel: pd.DataFrame, columns: PanelColumns) -> Iterator[EraData]:
    """Cut a validated panel into eras, in date order (era numbers from 1)."""
    dates = panel[DATE]
    order = np.argsort(dates.to_numpy(), kind="stable")
    codes, uniques = pd.factorize(dates.iloc[order], sort=True)
    bounds = np.searchsorted(codes, np.arange(len(uniques) + 1))
    for e in range(len(uniques)):
        rows = order[bounds[e] : bounds[e + 1]]
        part = panel.iloc[rows]
        yield EraData(
            era=e + 1,
            date=uniques[e],
            stock_ids=part[STOCK_ID].astype(str).to_numpy(dtype=object),
            features=part[columns.features].to_numpy(dtype=np.float32, na_value=np.nan),
            forward_returns={h: part[f"{RETURN_PREFIX}{h}"].to_numpy(dtype=np.float64, na_value=np.nan)
                             for h in columns.horizons},
            risk={c[len(RISK_PREFIX):]: part[c].to_numpy(dtype=np.float64) for c in columns.risk},
            categories={c: part[c].astype(str).to_numpy(dtype=object) for c in columns.categorical},
        )


__all__ = [
    "CATEGORICAL",
    "DATE",
    "DEFAULT_GROUP",
    "FEATURE_PREFIX",
    "GROUP_SEPARATOR",
    "MIN_STOCKS_PER_ERA",
    "RETURN_PREFIX",
    "RISK_PREFIX",
    "STOCK_ID",
    "EraData",
    "PanelColumns",
    "feature_group",
    "iter_panel_eras",
    "validate_panel",
]

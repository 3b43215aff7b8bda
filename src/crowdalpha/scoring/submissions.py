"""Checks and cleaning of a submission frame (numerai-tools 0.7 ``submissions`` drop-ins).

The same names, arguments and results as ``numerai_tools.submissions``:

- ``validate_headers_numerai`` / ``_signals`` / ``_crypto``: the two columns
  (an id column, a prediction column), in that order; Signals may add a date
  column.
- ``validate_ids_numerai`` / ``_signals`` / ``_crypto``: no missing id, no
  duplicate among the live ids, enough live ids (Numerai: all of them;
  Signals and Crypto: ``SIGNALS_MIN_TICKERS`` / ``CRYPTO_MIN_TICKERS``); the
  live rows sorted by id, and the ids that are not live.
- ``validate_values``: no NaN, numbers within [0, 1] (numpy.isclose's
  tolerance at either end), not constant.
- ``validate_submission_*``: headers, then ids, then values.
- ``remap_ids`` / ``clean_submission``: join to the universe, remap ids,
  drop duplicates, index by id; optionally tie-kept rank and fill with 0.5.

Where ours differ (each pinned by ``tests/scoring/test_submissions.py``):

- A refusal raises a ``SubmissionCheckError`` (``invalid_submission_headers``,
  ``_ids`` or ``_values``), which is a ``ScoringInputError`` (a ``ValueError``)
  *and* an ``AssertionError``, so code that catches numerai-tools' assertion
  failures still catches ours. numerai-tools raises a ``TypeError`` for text
  predictions; ours says ``invalid_submission_values``.
- Nothing modifies its input: numerai-tools' ``validate_headers_signals`` and
  ``validate_submission_signals`` drop the date and ``data_type`` columns from
  the caller's frame; ours return the same results and leave it alone.
- The ids that are not live come back sorted (numerai-tools: set order).
- ``validate_values`` refuses an empty or one-row submission (its standard
  deviation is undefined; numerai-tools lets NaN through its check).
- ``clean_submission`` keeps the first of duplicated ids in the submission's
  order (numerai-tools keeps whichever its unstable sort puts first).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from crowdalpha.scoring.errors import (
    SubmissionCheckError,
    SubmissionHeadersError,
    SubmissionIdsError,
    SubmissionValuesError,
)
from crowdalpha.scoring.transforms import tie_kept_rank

NUMERAI_ALLOWED_ID_COLS = ["id"]
NUMERAI_ALLOWED_PRED_COLS = ["prediction", "probability"]

SIGNALS_ALLOWED_ID_COLS = ["ticker", "sedol", "bloomberg_ticker", "composite_figi", "numerai_ticker"]
SIGNALS_ALLOWED_PRED_COLS = ["prediction", "signal"]
SIGNALS_ALLOWED_DATE_COLS = ["friday_date", "date"]
SIGNALS_MIN_TICKERS = 100

CRYPTO_ALLOWED_ID_COLS = ["symbol"]
CRYPTO_ALLOWED_PRED_COLS = ["prediction", "signal"]
CRYPTO_MIN_TICKERS = 100

#: numpy.isclose's default tolerances, which numerai-tools' value checks use.
_RTOL, _ATOL = 1e-5, 1e-8

logger = logging.getLogger(__name__)


def _first(values: list | pd.Index | np.ndarray, limit: int = 3) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:limit])
    return shown + (", ..." if len(values) > limit else "")


def _close(a: float, b: float) -> bool:
    """``numpy.isclose(a, b)`` with its default tolerances."""
    return abs(a - b) <= _ATOL + _RTOL * abs(b)


def _check_headers(columns: list, id_cols: list[str], pred_cols: list[str]) -> tuple[str, str]:
    """Exactly two columns: one of ``id_cols``, then one of ``pred_cols``."""
    if len(columns) != 2 or columns[0] not in id_cols or columns[1] not in pred_cols:
        raise SubmissionHeadersError(
            f"columns are {[str(c) for c in columns]}; need exactly one of {id_cols} "
            f"followed by one of {pred_cols}"
        )
    return columns[0], columns[1]


def validate_headers_numerai(submission: pd.DataFrame) -> tuple[str, str]:
    """The id and prediction column names of a Numerai submission (``id``, ``prediction``/``probability``)."""
    return _check_headers(list(submission.columns), NUMERAI_ALLOWED_ID_COLS, NUMERAI_ALLOWED_PRED_COLS)


def _date_column(submission: pd.DataFrame) -> str | None:
    return next((c for c in submission.columns if c in SIGNALS_ALLOWED_DATE_COLS), None)


def validate_headers_signals(
    submission: pd.DataFrame, assert_date_col: bool = False
) -> tuple[str, str, str | None]:
    """The ticker, signal and (optional) date column names of a Signals submission.

    Without its first date column the submission must have exactly a ticker
    column then a signal column; ``assert_date_col`` requires the date column.
    """
    date_col = _date_column(submission)
    if assert_date_col and date_col is None:
        raise SubmissionHeadersError(
            f"columns are {[str(c) for c in submission.columns]}; need a date column, one of "
            f"{SIGNALS_ALLOWED_DATE_COLS}"
        )
    others = [c for c in submission.columns if c != date_col] if date_col is not None else list(submission.columns)
    ticker_col, signal_col = _check_headers(others, SIGNALS_ALLOWED_ID_COLS, SIGNALS_ALLOWED_PRED_COLS)
    return ticker_col, signal_col, date_col


def validate_headers_crypto(submission: pd.DataFrame) -> tuple[str, str]:
    """The symbol and prediction column names of a Crypto submission."""
    return _check_headers(list(submission.columns), CRYPTO_ALLOWED_ID_COLS, CRYPTO_ALLOWED_PRED_COLS)


def validate_values(submission: pd.DataFrame, prediction_col: str) -> None:
    """Predictions are numbers, none missing, within [0, 1] and not constant.

    1. no NaN;
    2. numeric;
    3. minimum >= 0 and maximum <= 1, each end within numpy.isclose's tolerance;
    4. standard deviation (ddof=1) not close to 0.
    """
    preds = submission[prediction_col]
    missing = int(preds.isna().sum())
    if missing:
        first = preds.index[preds.isna().to_numpy()][0]
        raise SubmissionValuesError(
            f"{missing} values of column {prediction_col!r} are NaN, first at row {first!r}"
        )
    if not pd.api.types.is_numeric_dtype(preds.dtype):  # booleans are 0 and 1, as in numerai-tools
        raise SubmissionValuesError(
            f"column {prediction_col!r} has dtype {preds.dtype}, expected numbers"
        )
    if len(preds) < 2:
        raise SubmissionValuesError(
            f"column {prediction_col!r} has {len(preds)} values; at least 2 are needed for a standard deviation"
        )
    values = preds.to_numpy(dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if not (low >= 0 or _close(low, 0.0)) or not (high <= 1 or _close(high, 1.0)):
        outside = int(((values < 0) | (values > 1)).sum())
        raise SubmissionValuesError(
            f"{outside} values of column {prediction_col!r} are outside [0, 1] "
            f"(min {low!r}, max {high!r})"
        )
    std = float(values.std(ddof=1))
    if _close(0.0, std):
        raise SubmissionValuesError(
            f"column {prediction_col!r} has standard deviation {std!r}; constant predictions cannot be scored"
        )


def _validate_ids(
    live_ids: pd.Series, submission: pd.DataFrame, id_col: str, min_tickers: int
) -> tuple[pd.DataFrame, list[str]]:
    """The submission's live rows (ids as text, sorted by id) and its ids that are not live (sorted)."""
    ids = submission[id_col]
    missing = ids.isna().to_numpy()
    if missing.any():
        raise SubmissionIdsError(
            f"{int(missing.sum())} values of column {id_col!r} are missing, first at row "
            f"{submission.index[missing][0]!r}"
        )
    text_ids = ids.astype(str)
    live = set(pd.Series(live_ids).astype(str))
    is_live = text_ids.isin(live).to_numpy()
    live_sub = submission.assign(**{id_col: text_ids})[is_live].sort_values(id_col, kind="stable")
    repeated = live_sub[id_col][live_sub[id_col].duplicated()].unique()
    if len(repeated):
        raise SubmissionIdsError(
            f"{len(repeated)} live ids of column {id_col!r} are duplicated, first: {_first(repeated)}"
        )
    if len(live_sub) < min_tickers:
        raise SubmissionIdsError(
            f"{len(live_sub)} live ids in column {id_col!r}, at least {min_tickers} needed; "
            "are you using the latest live ids or live universe?"
        )
    invalid = sorted(set(text_ids[~is_live]))
    return live_sub, invalid


def validate_ids_numerai(
    live_ids: pd.Series, submission: pd.DataFrame, id_col: str
) -> tuple[pd.DataFrame, list[str]]:
    """Every live id, once; rows with other ids are left out of the result and listed."""
    return _validate_ids(live_ids, submission, id_col, len(live_ids))


def validate_ids_signals(
    live_ids: pd.Series, submission: pd.DataFrame, id_col: str
) -> tuple[pd.DataFrame, list[str]]:
    """At least ``SIGNALS_MIN_TICKERS`` live tickers, none twice."""
    return _validate_ids(live_ids, submission, id_col, SIGNALS_MIN_TICKERS)


def validate_ids_crypto(
    live_ids: pd.Series, submission: pd.DataFrame, id_col: str
) -> tuple[pd.DataFrame, list[str]]:
    """At least ``CRYPTO_MIN_TICKERS`` live symbols, none twice."""
    return _validate_ids(live_ids, submission, id_col, CRYPTO_MIN_TICKERS)


def validate_submission_numerai(
    universe: pd.Series, submission: pd.DataFrame
) -> tuple[str, str, pd.DataFrame, list[str]]:
    """Headers, ids against the live ``universe``, then values of the live rows.

    Returns the id column, the prediction column, the live rows sorted by id
    and the ids that are not live.
    """
    id_col, pred_col = validate_headers_numerai(submission)
    live_sub, invalid = validate_ids_numerai(universe, submission, id_col)
    validate_values(live_sub, pred_col)
    return id_col, pred_col, live_sub, invalid


def validate_submission_signals(
    universe: pd.DataFrame, submission: pd.DataFrame, assert_date_col: bool = False
) -> tuple[str, str, str | None, pd.DataFrame, list[str]]:
    """A Signals submission's headers, tickers and values (a ``data_type`` column is ignored).

    The live rows keep the date column (last) only when ``assert_date_col``,
    as numerai-tools' do.
    """
    if "data_type" in submission.columns:
        logger.warning("data_type column found in Signals submission; it is deprecated and ignored")
    working = submission.drop(columns=["data_type"], errors="ignore")
    ticker_col, signal_col, date_col = validate_headers_signals(working, assert_date_col)
    if date_col is not None:
        dates = working[date_col]
        working = working.drop(columns=date_col)
        if assert_date_col:
            working = working.assign(**{date_col: dates})
    live_sub, invalid = validate_ids_signals(universe[ticker_col], working, ticker_col)
    validate_values(live_sub, signal_col)
    return ticker_col, signal_col, date_col, live_sub, invalid


def validate_submission_crypto(
    universe: pd.DataFrame, submission: pd.DataFrame
) -> tuple[str, str, pd.DataFrame, list[str]]:
    """A Crypto submission's headers, symbols and values."""
    symbol_col, signal_col = validate_headers_crypto(submission)
    live_sub, invalid = validate_ids_crypto(universe[symbol_col], submission, symbol_col)
    validate_values(live_sub, signal_col)
    return symbol_col, signal_col, live_sub, invalid


def remap_ids(
    data: pd.DataFrame, ticker_map: pd.DataFrame, src_id_col: str, dst_id_col: str
) -> pd.DataFrame:
    """Each row of ``ticker_map`` with the ``data`` rows of its ``src_id_col``, sorted by ``dst_id_col``.

    1. left-join ``ticker_map``'s ``src_id_col`` (and ``dst_id_col``) to
       ``data`` on ``src_id_col`` (a map id without data gets NaN);
    2. keep ``dst_id_col`` and ``data``'s other columns;
    3. sort by ``dst_id_col`` (stable).
    """
    keys = ticker_map[[src_id_col]] if src_id_col == dst_id_col else ticker_map[[src_id_col, dst_id_col]]
    values = [c for c in data.columns if c != src_id_col]
    clash = [c for c in values if c in keys.columns]
    if clash:
        raise SubmissionCheckError(f"data and ticker_map both have columns {clash}")
    # on columns only: the map's index may carry the same name (``index.to_frame()``)
    joined = keys.reset_index(drop=True).merge(data.reset_index(drop=True), how="left", on=src_id_col, sort=False)
    return joined[[dst_id_col, *values]].sort_values(dst_id_col, kind="stable").reset_index(drop=True)


def clean_submission(
    universe: pd.DataFrame,
    submission: pd.DataFrame,
    src_id_col: str,
    src_signal_col: str,
    dst_id_col: str | None = None,
    dst_signal_col: str | None = None,
    rank_and_fill: bool = False,
) -> pd.Series:
    """The submission as one prediction per universe id, ready to score.

    1. ``remap_ids`` onto the universe (``dst_id_col`` defaults to ``src_id_col``);
    2. drop rows without an id and repeated ids (the first stays);
    3. index by id, sorted; name the series ``dst_signal_col`` (default ``src_signal_col``);
    4. with ``rank_and_fill``: tie-kept rank, then 0.5 where a universe id has no prediction.
    """
    if len(universe) == 0:
        raise SubmissionCheckError("universe has no rows")
    if len(submission) == 0:
        raise SubmissionCheckError("submission has no rows")
    dst_id_col = src_id_col if dst_id_col is None else dst_id_col
    dst_signal_col = src_signal_col if dst_signal_col is None else dst_signal_col
    remapped = remap_ids(submission, universe, src_id_col, dst_id_col)
    remapped = remapped[remapped[dst_id_col].notna()]
    remapped = remapped[~remapped[dst_id_col].duplicated()]
    cleaned = remapped.set_index(dst_id_col)[src_signal_col].sort_index().rename(dst_signal_col)
    if rank_and_fill:
        cleaned = tie_kept_rank(cleaned).fillna(0.5)
    return cleaned

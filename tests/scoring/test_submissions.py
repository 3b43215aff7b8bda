"""crowdalpha.scoring's submission checks against numerai-tools 0.7.2's.

Valid submissions give the same results (the cleaned output included); bad
ones are refused by both. Each deliberate difference has its own test
(listed in the module docstring of ``crowdalpha.scoring.submissions``).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from numerai_tools import submissions as oracle

from crowdalpha import scoring
from crowdalpha.scoring.errors import (
    ScoringInputError,
    SubmissionCheckError,
    SubmissionHeadersError,
    SubmissionIdsError,
    SubmissionValuesError,
)
from tests.helpers.inputs import unchanged as ours  # ours, arguments left unchanged

RNG = np.random.default_rng(11)
LIVE = pd.Series([f"n{v:010x}" for v in RNG.choice(16**8, size=300, replace=False)], name="id")


def numerai_sub(ids=None, values=None, pred_col: str = "prediction") -> pd.DataFrame:
    ids = list(LIVE.sample(frac=1.0, random_state=3)) if ids is None else ids
    values = np.round(RNG.random(len(ids)) * 4) / 4 if values is None else values
    return pd.DataFrame({"id": ids, pred_col: values})


def theirs(function, *args, **kwargs):
    """numerai-tools on copies (some of its checks drop columns from their argument)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", getattr(pd.errors, "Pandas4Warning", FutureWarning))
        return function(*copy.deepcopy(args), **kwargs)


def assert_same_validation(a: tuple, b: tuple) -> None:
    """Same columns, same live rows; the ids that are not live as the same set (ours sorted)."""
    *names_a, frame_a, invalid_a = a
    *names_b, frame_b, invalid_b = b
    assert names_a == names_b
    pd.testing.assert_frame_equal(frame_a, frame_b)
    assert invalid_a == sorted(invalid_b)


GOOD_NUMERAI = {
    "shuffled": lambda: numerai_sub(),
    "probability": lambda: numerai_sub(pred_col="probability"),
    "extra_ids": lambda: numerai_sub(ids=[*LIVE.sample(frac=1.0, random_state=4), "zz2", "zz1", "zz1"]),
    "ends_exactly_0_and_1": lambda: numerai_sub(values=np.linspace(0, 1, len(LIVE))),
    "within_isclose_of_the_ends": lambda: numerai_sub(values=np.r_[-5e-9, np.linspace(0.1, 0.9, 298), 1 + 5e-6]),
    "continuous": lambda: numerai_sub(values=RNG.random(len(LIVE))),
}


@pytest.mark.parametrize("name", sorted(GOOD_NUMERAI))
def test_valid_numerai_submissions_give_the_same_results(name: str) -> None:
    submission = GOOD_NUMERAI[name]()
    result = ours(scoring.validate_submission_numerai, LIVE, submission)
    assert_same_validation(result, theirs(oracle.validate_submission_numerai, LIVE, submission))


def test_integer_ids_are_compared_as_text() -> None:
    live = pd.Series(range(200))
    submission = pd.DataFrame({"id": list(range(199, -1, -1)), "prediction": RNG.random(200)})
    assert_same_validation(ours(scoring.validate_submission_numerai, live, submission),
                           theirs(oracle.validate_submission_numerai, live, submission))


BAD_NUMERAI = {
    "unknown_prediction_column": (lambda: numerai_sub().rename(columns={"prediction": "pred"}),
                                  SubmissionHeadersError),
    "columns_swapped": (lambda: numerai_sub()[["prediction", "id"]], SubmissionHeadersError),
    "extra_column": (lambda: numerai_sub().assign(era="x"), SubmissionHeadersError),
    "uppercase_id": (lambda: numerai_sub().rename(columns={"id": "ID"}), SubmissionHeadersError),
    "missing_id": (lambda: numerai_sub(ids=[*LIVE.iloc[:-1], None]), SubmissionIdsError),
    "duplicated_live_id": (lambda: numerai_sub(ids=[*LIVE, LIVE.iloc[0]]), SubmissionIdsError),
    "a_live_id_left_out": (lambda: numerai_sub(ids=list(LIVE.iloc[1:])), SubmissionIdsError),
    "nan_prediction": (lambda: numerai_sub(values=np.r_[np.nan, RNG.random(299)]), SubmissionValuesError),
    "above_one": (lambda: numerai_sub(values=np.r_[1.1, RNG.random(299)]), SubmissionValuesError),
    "below_zero": (lambda: numerai_sub(values=np.r_[-0.01, RNG.random(299)]), SubmissionValuesError),
    "just_past_isclose": (lambda: numerai_sub(values=np.r_[1 + 2e-5, RNG.random(299)]), SubmissionValuesError),
    "constant": (lambda: numerai_sub(values=np.full(300, 0.5)), SubmissionValuesError),
    "nearly_constant": (lambda: numerai_sub(values=np.r_[0.5 + 1e-9, np.full(299, 0.5)]), SubmissionValuesError),
}


@pytest.mark.parametrize("name", sorted(BAD_NUMERAI))
def test_bad_numerai_submissions_are_refused_by_both(name: str) -> None:
    make, error = BAD_NUMERAI[name]
    submission = make()
    with pytest.raises(AssertionError):
        theirs(oracle.validate_submission_numerai, LIVE, submission)
    with pytest.raises(error, match=f"^{error.code}: ") as raised:
        ours(scoring.validate_submission_numerai, LIVE, submission)
    # one family: catchable as numerai-tools' AssertionError and as our ValueError
    assert isinstance(raised.value, AssertionError) and isinstance(raised.value, ScoringInputError)


def test_messages_name_the_column_and_the_count() -> None:
    with pytest.raises(SubmissionIdsError, match=r"299 live ids in column 'id', at least 300 needed"):
        scoring.validate_submission_numerai(LIVE, numerai_sub(ids=list(LIVE.iloc[1:])))
    with pytest.raises(SubmissionValuesError, match=r"1 values of column 'prediction' are outside \[0, 1\]"):
        scoring.validate_submission_numerai(LIVE, numerai_sub(values=np.r_[1.1, RNG.random(299)]))
    with pytest.raises(SubmissionHeadersError, match=r"columns are \['id', 'pred'\]"):
        scoring.validate_headers_numerai(pd.DataFrame({"id": ["a"], "pred": [0.5]}))


def test_difference_text_predictions_say_invalid_submission_values() -> None:
    """numerai-tools fails with a TypeError comparing text to numbers; ours names the column."""
    submission = numerai_sub(values=["0.5"] * 150 + ["x"] * 150)
    with pytest.raises(TypeError):
        theirs(oracle.validate_submission_numerai, LIVE, submission)
    with pytest.raises(SubmissionValuesError, match="column 'prediction' has dtype"):
        scoring.validate_submission_numerai(LIVE, submission)


@pytest.mark.parametrize("rows", [0, 1])
def test_difference_fewer_than_two_predictions_are_refused(rows: int) -> None:
    """numerai-tools' standard deviation check lets NaN through (0 or 1 values); ours refuses."""
    live = LIVE.iloc[:rows]
    submission = numerai_sub(ids=list(live), values=[0.5] * rows)
    theirs(oracle.validate_submission_numerai, live, submission)  # accepted there
    with pytest.raises(SubmissionValuesError, match=f"has {rows} values; at least 2"):
        scoring.validate_submission_numerai(live, submission)


def signals_universe(n: int = 150) -> pd.DataFrame:
    return pd.DataFrame({"ticker": [f"T{i:04d}" for i in range(n)], "composite_figi": [f"F{i:05d}" for i in range(n)]})


def signals_sub(n: int = 130, date: bool = False, data_type: bool = False) -> pd.DataFrame:
    frame = pd.DataFrame({"ticker": [f"T{i:04d}" for i in range(n - 1, -1, -1)], "signal": RNG.random(n)})
    if date:
        frame.insert(0, "date", "2026-01-02")
    if data_type:
        frame["data_type"] = "live"
    return frame


@pytest.mark.parametrize("date", [False, True])
@pytest.mark.parametrize("assert_date_col", [False, True])
@pytest.mark.parametrize("data_type", [False, True])
def test_signals_submissions_give_the_same_results(date: bool, assert_date_col: bool, data_type: bool) -> None:
    universe, submission = signals_universe(), signals_sub(date=date, data_type=data_type)
    if assert_date_col and not date:
        with pytest.raises(AssertionError):
            theirs(oracle.validate_submission_signals, universe, submission, assert_date_col)
        with pytest.raises(SubmissionHeadersError, match="need a date column"):
            ours(scoring.validate_submission_signals, universe, submission, assert_date_col)
        return
    assert_same_validation(ours(scoring.validate_submission_signals, universe, submission, assert_date_col),
                           theirs(oracle.validate_submission_signals, universe, submission, assert_date_col))


def test_difference_signals_checks_leave_the_callers_frame_alone() -> None:
    """numerai-tools drops the date and data_type columns from the caller's frame."""
    submission = signals_sub(date=True, data_type=True)
    oracle_copy = submission.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", getattr(pd.errors, "Pandas4Warning", FutureWarning))
        oracle.validate_submission_signals(signals_universe(), oracle_copy)
    assert list(oracle_copy.columns) == ["ticker", "signal"]
    ours(scoring.validate_submission_signals, signals_universe(), submission)  # asserts it is unchanged
    assert ours(scoring.validate_headers_signals, submission.drop(columns="data_type")) == ("ticker", "signal", "date")


@pytest.mark.parametrize("n", [99, 100])
def test_signals_and_crypto_minimum_tickers(n: int) -> None:
    universe = signals_universe()
    submission = signals_sub(n=n)
    crypto_universe = universe.rename(columns={"ticker": "symbol"})
    crypto = submission.rename(columns={"ticker": "symbol"})
    if n < scoring.SIGNALS_MIN_TICKERS:
        for check, args in ((oracle.validate_submission_signals, (universe, submission)),
                            (oracle.validate_submission_crypto, (crypto_universe, crypto))):
            with pytest.raises(AssertionError):
                theirs(check, *args)
        with pytest.raises(SubmissionIdsError, match="99 live ids in column 'ticker', at least 100"):
            scoring.validate_submission_signals(universe, submission)
        with pytest.raises(SubmissionIdsError, match="99 live ids in column 'symbol', at least 100"):
            scoring.validate_submission_crypto(crypto_universe, crypto)
        return
    assert_same_validation(ours(scoring.validate_submission_signals, universe, submission),
                           theirs(oracle.validate_submission_signals, universe, submission))
    assert_same_validation(ours(scoring.validate_submission_crypto, crypto_universe, crypto),
                           theirs(oracle.validate_submission_crypto, crypto_universe, crypto))


@pytest.mark.parametrize("rank_and_fill", [False, True])
@pytest.mark.parametrize("remap", [False, True])
def test_clean_submission_gives_the_same_series(rank_and_fill: bool, remap: bool) -> None:
    universe = signals_universe(200)
    submission = signals_sub(n=170)  # 30 universe tickers without a prediction
    submission = pd.concat([submission, pd.DataFrame({"ticker": ["ZZZZ", "AAAA"], "signal": [0.3, 0.2]})])
    submission.loc[submission.index[5:15], "signal"] = 0.5  # ties
    kwargs = {"dst_id_col": "composite_figi", "dst_signal_col": "score"} if remap else {}
    result = ours(scoring.clean_submission, universe, submission, "ticker", "signal",
                  rank_and_fill=rank_and_fill, **kwargs)
    expected = theirs(oracle.clean_submission, universe, submission, "ticker", "signal",
                      rank_and_fill=rank_and_fill, **kwargs)
    pd.testing.assert_series_equal(result, expected)
    assert result.isna().any() != rank_and_fill


def test_remap_ids_gives_the_same_frame() -> None:
    universe, submission = signals_universe(200), signals_sub(n=170)
    result = ours(scoring.remap_ids, submission, universe, "ticker", "composite_figi")
    pd.testing.assert_frame_equal(result, theirs(oracle.remap_ids, submission, universe, "ticker", "composite_figi"))


def test_difference_clean_submission_keeps_the_first_of_repeated_ids() -> None:
    """numerai-tools keeps whichever row its unstable sort puts first; ours the first in the file."""
    universe = signals_universe(30)
    submission = pd.DataFrame({"ticker": [f"T{i:04d}" for i in range(30)] * 2, "signal": [0.1] * 30 + [0.9] * 30})
    cleaned = scoring.clean_submission(universe, submission, "ticker", "signal")
    assert (cleaned == 0.1).all()


@pytest.mark.parametrize("empty", ["universe", "submission"])
def test_clean_submission_refuses_empty_inputs(empty: str) -> None:
    universe, submission = signals_universe(10), signals_sub(n=10)
    if empty == "universe":
        universe = universe.iloc[:0]
    else:
        submission = submission.iloc[:0]
    with pytest.raises(AssertionError):
        theirs(oracle.clean_submission, universe, submission, "ticker", "signal")
    with pytest.raises(SubmissionCheckError, match=f"{empty} has no rows"):
        scoring.clean_submission(universe, submission, "ticker", "signal")

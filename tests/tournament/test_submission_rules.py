"""The server accepts the files numerai-tools' checks accept, and refuses the ones they refuse,
except for the deliberate differences listed here and in docs/api.md ("What an upload must be").

Each file goes to three places: the server's ``parse_submission``; numerai-tools
0.7.2's ``validate_submission_numerai`` after pandas reads the file (as a
participant checks a file before uploading it); and crowdalpha.scoring's
equivalent, which agrees with numerai-tools on every file here.

Deliberate differences (numerai-tools -> server):

- ``coverage``: numerai-tools needs every live id; the server needs
  ``MIN_COVERAGE`` (80 %) of them (a model may leave some ids out; they are
  scored as missing).
- ``strangers``: numerai-tools drops ids that are not live and carries on;
  the server refuses the file, naming the first stranger (an id the round
  does not have is a mistake the participant should hear about).
- ``columns``: numerai-tools needs exactly two columns, ``id`` then
  ``prediction``/``probability``; the server finds the ``id`` column and the
  first of ``prediction``/``probability`` anywhere and ignores other columns
  (a saved DataFrame with an era or an extra score column still uploads).
- ``ends``: numerai-tools lets a minimum within 1e-8 below 0 and a maximum
  within 1e-5 above 1 through (numpy.isclose); the server keeps to [0, 1]
  exactly.
- ``nearly_constant``: numerai-tools refuses a standard deviation within
  1e-8 of 0; the server refuses only predictions that are all equal (any
  two different values can be ranked).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from numerai_tools import submissions as oracle

from crowdalpha import scoring
from crowdalpha.tournament import submissions
from crowdalpha.tournament.errors import InvalidSubmissionError

RNG = np.random.default_rng(5)
N = 50
LIVE = pd.Index([f"n{v:08x}" for v in RNG.choice(16**7, size=N, replace=False)])


def shuffled() -> list[str]:
    return list(LIVE[RNG.permutation(N)])


def values(n: int = N) -> np.ndarray:
    return np.round(RNG.random(n) * 4) / 4


def csv(frame: pd.DataFrame) -> tuple[bytes, str]:
    return frame.to_csv(index=False).encode(), "predictions.csv"


def parquet(frame: pd.DataFrame) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue(), "predictions.parquet"


def frame(ids: list, preds, column: str = "prediction") -> pd.DataFrame:
    return pd.DataFrame({"id": ids, column: preds})


# name -> (file, difference or None). Without a difference both sides must agree.
FILES = {
    # accepted by both
    "csv": (csv(frame(shuffled(), values())), None),
    "parquet": (parquet(frame(shuffled(), values())), None),
    "probability_column": (csv(frame(shuffled(), values(), "probability")), None),
    "continuous": (parquet(frame(shuffled(), RNG.random(N))), None),
    "exactly_0_and_1": (csv(frame(shuffled(), np.linspace(0, 1, N))), None),
    "float32_parquet": (parquet(frame(shuffled(), RNG.random(N).astype(np.float32))), None),
    "boolean_parquet": (parquet(frame(shuffled(), RNG.random(N) > 0.5)), None),
    "boolean_csv": (csv(frame(shuffled(), RNG.random(N) > 0.5)), None),
    # refused by both
    "other_prediction_column": (csv(frame(shuffled(), values(), "score")), None),
    "uppercase_id": (csv(frame(shuffled(), values()).rename(columns={"id": "ID"})), None),
    "empty_id": (csv(frame([*shuffled()[1:], None], values())), None),
    "repeated_id": (csv(frame([*shuffled(), LIVE[0]], values(N + 1))), None),
    "nan_prediction": (csv(frame(shuffled(), [np.nan, *values(N - 1)])), None),
    "text_prediction": (csv(frame(shuffled(), ["abc", *values(N - 1)])), None),
    "above_one": (csv(frame(shuffled(), [1.5, *values(N - 1)])), None),
    "below_zero": (parquet(frame(shuffled(), [-0.1, *values(N - 1)])), None),
    "constant": (csv(frame(shuffled(), [0.5] * N)), None),
    "half_the_ids": (csv(frame(shuffled()[: N // 2], values(N // 2))), None),
    "repeated_prediction_column": (
        (b"id,prediction,prediction\n" + "".join(f"{i},0.1,0.2\n" for i in LIVE).encode(), "p.csv"), None),
    # deliberate differences
    "coverage": (csv(frame(shuffled()[: int(N * 0.9)], values(int(N * 0.9)))), "coverage"),
    "strangers": (csv(frame([*shuffled(), "zz1", "zz2"], values(N + 2))), "strangers"),
    "repeated_stranger": (csv(frame([*shuffled(), "zz1", "zz1"], values(N + 2))), "strangers"),
    "columns_swapped": (csv(frame(shuffled(), values())[["prediction", "id"]]), "columns"),
    "extra_column": (parquet(frame(shuffled(), values()).assign(era="0571")), "columns"),
    "both_prediction_columns": (csv(frame(shuffled(), values()).assign(probability=0.3)), "columns"),
    "just_below_zero": (csv(frame(shuffled(), [-5e-9, *RNG.random(N - 1)])), "ends"),
    "just_above_one": (csv(frame(shuffled(), [1 + 5e-6, *RNG.random(N - 1)])), "ends"),
    "nearly_constant": (parquet(frame(shuffled(), [0.5 + 1e-9, *[0.5] * (N - 1)])), "nearly_constant"),
}

#: What each difference means: (numerai-tools accepts, server accepts).
DIFFERENCES = {
    "coverage": (False, True),
    "strangers": (True, False),
    "columns": (False, True),
    "ends": (True, False),
    "nearly_constant": (False, True),
}


def read_as_a_participant(data: bytes, filename: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data)) if filename.endswith(".parquet") else pd.read_csv(io.BytesIO(data))


def numerai_tools_verdict(data: bytes, filename: str) -> pd.Series | None:
    """The live predictions by id, or None when numerai-tools refuses the file (any exception)."""
    try:
        submission = read_as_a_participant(data, filename)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            id_col, pred_col, live, _ = oracle.validate_submission_numerai(pd.Series(LIVE), submission)
    except Exception:  # numerai-tools refuses with AssertionError, TypeError, ...
        return None
    return live.set_index(id_col)[pred_col].astype(float)


def crowdalpha_scoring_verdict(data: bytes, filename: str) -> pd.Series | None:
    try:
        id_col, pred_col, live, _ = scoring.validate_submission_numerai(
            pd.Series(LIVE), read_as_a_participant(data, filename))
    except scoring.ScoringInputError:
        return None
    return live.set_index(id_col)[pred_col].astype(float)


def server_verdict(data: bytes, filename: str) -> pd.Series | None:
    try:
        return submissions.parse_submission(data, filename, round_number=7, live_ids=LIVE)
    except InvalidSubmissionError:
        return None


@pytest.mark.parametrize("name", list(FILES))
def test_the_server_and_numerai_tools_agree_except_where_decided(name: str) -> None:
    (data, filename), difference = FILES[name]
    theirs, server = numerai_tools_verdict(data, filename), server_verdict(data, filename)
    expected = DIFFERENCES.get(difference, None)
    if expected is None:
        assert (theirs is not None) == (server is not None), (
            f"{name}: numerai-tools {'accepts' if theirs is not None else 'refuses'}, "
            f"the server {'accepts' if server is not None else 'refuses'}")
    else:
        assert ((theirs is not None), (server is not None)) == expected
    if theirs is not None and server is not None:  # the same predictions for the same ids
        pd.testing.assert_series_equal(server.sort_index().astype(float), theirs.sort_index(),
                                       check_names=False, check_index_type=False, rtol=1e-7)


@pytest.mark.parametrize("name", list(FILES))
def test_crowdalpha_scoring_agrees_with_numerai_tools_on_every_file(name: str) -> None:
    (data, filename), _ = FILES[name]
    theirs, ours = numerai_tools_verdict(data, filename), crowdalpha_scoring_verdict(data, filename)
    assert (theirs is None) == (ours is None)
    if theirs is not None:
        pd.testing.assert_series_equal(ours, theirs)


def test_every_difference_has_a_file() -> None:
    assert {difference for _, difference in FILES.values() if difference} == set(DIFFERENCES)
    assert submissions.MIN_COVERAGE == 0.8

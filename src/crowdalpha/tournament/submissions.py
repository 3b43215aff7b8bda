"""Submissions: a model's predictions for a round's live ids, checked, stored as parquet, recorded.

A file (CSV or parquet) has an ``id`` column and a ``prediction`` (or
``probability``) column. It is accepted only if its ids are the round's live
ids without duplicates or strangers, covering at least ``MIN_COVERAGE`` of
them, and its predictions are numbers in [0, 1], not all equal. A rejected file
leaves nothing behind (no row, no file). A file sent after the round's close is
accepted as ``late``: it is scored but has nothing at risk, and it never
replaces an on-time submission of the same model (so a stake cannot escape a
round by submitting late). Nothing here commits; if the caller's transaction rolls
back, the stored files are deleted with it.
"""

from __future__ import annotations

import io
import uuid
import zlib
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdalpha.tournament import rounds as rounds_mod
from crowdalpha.tournament import store as file_store
from crowdalpha.tournament.clock import Clock, ensure_utc
from crowdalpha.tournament.db import atomic
from crowdalpha.tournament.errors import (
    InvalidPredictionsError,
    InvalidSubmissionFileError,
    InvalidSubmissionIdsError,
    RoundStateError,
)
from crowdalpha.tournament.ledger import ZERO
from crowdalpha.tournament.models import require_owner
from crowdalpha.tournament.tables import Account, Model, Round, RoundStatus, Submission

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
MIN_COVERAGE = 0.8
PREDICTION_COLUMNS = ("prediction", "probability")
Store = file_store.Store


def _read(data: bytes, filename: str) -> pd.DataFrame:
    name = filename.lower()
    is_parquet = name.endswith(".parquet") or (not name.endswith(".csv") and data[:4] == b"PAR1")
    if not is_parquet and not name.endswith(".csv"):
        raise InvalidSubmissionFileError(f"'{filename}' is not a .csv or .parquet file")
    try:
        if is_parquet:
            frame = pd.read_parquet(io.BytesIO(data))
            if "id" not in frame.columns and frame.index.name == "id":
                frame = frame.reset_index()
        else:
            frame = pd.read_csv(io.BytesIO(data), dtype={"id": str}, keep_default_na=True)
    except Exception as exc:  # any parser failure is the file's fault
        kind = "parquet" if is_parquet else "CSV"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidSubmissionFileError(
            f"'{filename}' cannot be read as {kind} ({reason})"
        ) from None
    return frame.reset_index(drop=True)


def _first(values: Any) -> str:
    return repr(str(next(iter(values))))


def parse_submission(
    data: bytes,
    filename: str,
    *,
    round_number: int,
    live_ids: pd.Index,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> pd.Series:
    """Check a submission file against the round's live ids; the predictions by id, in live order."""
    predictions, _aligned = _checked_predictions(
        data, filename, round_number=round_number, live_ids=live_ids, max_bytes=max_bytes
    )
    return predictions


def _checked_predictions(
    data: bytes, filename: str, *, round_number: int, live_ids: pd.Index, max_bytes: int
) -> tuple[pd.Series, np.ndarray]:
    """``parse_submission``'s checks; also the float64 vector aligned with ``live_ids``
    (NaN where left out), which the scoring copy stores."""
    if len(data) > max_bytes:
        raise InvalidSubmissionFileError(
            f"'{filename}' for round {round_number} is {len(data)} bytes, the limit is {max_bytes}"
        )
    if len(data) == 0:
        raise InvalidSubmissionFileError(f"'{filename}' for round {round_number} is empty")
    frame = _read(data, filename)
    columns = [str(c) for c in frame.columns]
    if "id" not in columns:
        raise InvalidSubmissionFileError(f"'{filename}' has no 'id' column; columns: {columns}")
    column = next((c for c in PREDICTION_COLUMNS if c in columns), None)
    if column is None:
        raise InvalidSubmissionFileError(
            f"'{filename}' has no 'prediction' or 'probability' column; columns: {columns}"
        )
    ids = frame["id"]
    if ids.isna().any():
        rows = ids.index[ids.isna()]
        raise InvalidSubmissionIdsError(
            f"{len(rows)} ids of '{filename}' for round {round_number} are empty, first at row {int(rows[0])}"
        )
    ids = ids.astype(str)
    duplicated = ids[ids.duplicated()].unique()
    if len(duplicated):
        raise InvalidSubmissionIdsError(
            f"{len(duplicated)} ids of round {round_number} duplicated, first: {_first(duplicated)}"
        )
    # Reuse the caller's index when it already holds strings: its hash table is built once.
    live = live_ids if live_ids.dtype == "str" else pd.Index(live_ids.astype(str))
    # get_indexer, not isin: isin on Arrow-backed strings is ~20x slower (pandas 3).
    position = live.get_indexer(pd.Index(ids))
    unknown = ids[position < 0]
    if len(unknown):
        raise InvalidSubmissionIdsError(
            f"{len(unknown)} ids not in round {round_number}, first: {_first(unknown)}"
        )
    covered = np.zeros(len(live), dtype=bool)
    covered[position] = True
    missing = live[~covered]
    coverage = 1 - len(missing) / len(live) if len(live) else 0.0
    if coverage < MIN_COVERAGE:
        raise InvalidSubmissionIdsError(
            f"{len(missing)} ids of round {round_number} missing, first: {_first(missing)}; "
            f"covers {coverage:.1%}, at least {MIN_COVERAGE:.0%} needed"
        )
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce") if raw.dtype != bool else raw.astype(float)
    bad = values.isna() & raw.notna()
    if bad.any():
        at = bad.idxmax()
        raise InvalidPredictionsError(
            f"{int(bad.sum())} values of column '{column}' in round {round_number} are not numbers, "
            f"first: {str(raw[at])!r} at id {ids[at]!r}"
        )
    values = values.astype(float)
    if values.isna().any():
        at = values.isna().idxmax()
        raise InvalidPredictionsError(
            f"{int(values.isna().sum())} predictions of round {round_number} are NaN, first at id {ids[at]!r}"
        )
    outside = ~values.between(0.0, 1.0)
    if outside.any():
        at = outside.idxmax()
        raise InvalidPredictionsError(
            f"{int(outside.sum())} predictions of round {round_number} are outside [0, 1], "
            f"first: {float(values[at])!r} at id {ids[at]!r}"
        )
    if values.nunique() < 2:
        raise InvalidPredictionsError(
            f"all {len(values)} predictions of round {round_number} equal {float(values.iloc[0])!r}; "
            "constant predictions cannot be scored"
        )
    numbers = values.to_numpy(np.float64)
    in_live_order = np.argsort(position, kind="stable")
    predictions = pd.Series(
        numbers[in_live_order],
        index=live[np.sort(position)].rename("id"),  # the same ids, taken from the live index
        name="prediction",
    )
    aligned = np.full(len(live), np.nan)
    aligned[position] = numbers
    return predictions, aligned


def submit(
    session: Session,
    store: Store,
    model: Model,
    round: Round,
    data: bytes,
    filename: str,
    *,
    by: Account,
    clock: Clock,
    live_ids: pd.Index,
    live_fingerprint: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Submission:
    """Accept ``model``'s predictions for ``round`` from its owner ``by``; late after the close.

    ``live_fingerprint`` is ``ids_fingerprint(live_ids)``, for callers that keep it per round.
    """
    require_owner(model, by)
    if round.status == RoundStatus.RESOLVED:
        raise RoundStateError(f"round {round.number} is resolved; it takes no more submissions")
    predictions, aligned_values = _checked_predictions(
        data, filename, round_number=round.number, live_ids=live_ids, max_bytes=max_bytes
    )
    now = ensure_utc(clock.now(), name="clock.now()")
    late = round.status != RoundStatus.OPEN or now >= round.closes_at
    relative = f"submissions/round_{round.number}/model_{model.id}/{uuid.uuid4().hex}.parquet"
    buffer = io.BytesIO()
    predictions.to_frame().to_parquet(buffer)
    aligned = io.BytesIO()
    np.save(aligned, aligned_values, allow_pickle=False)
    if live_fingerprint is None:
        live_fingerprint = ids_fingerprint(pd.Index(live_ids.astype(str)))
    fingerprint = live_fingerprint
    scoring_copy = scoring_copy_path(relative, fingerprint)
    with atomic(session):
        row = Submission(
            model_id=model.id,
            round_id=round.id,
            path=relative,
            filename=filename[:255],
            rows=len(predictions),
            created_at=now,
            late=late,
            valid=True,
        )
        session.add(row)
        session.flush()
        file_store.write_bytes(store, relative, buffer.getvalue())
        try:
            file_store.write_bytes(store, scoring_copy, aligned.getvalue())
        except BaseException:
            file_store.remove(store, relative)
            raise
    file_store.remove_on_rollback(session, store, [relative, scoring_copy])
    return row


def ids_fingerprint(ids: pd.Index) -> str:
    """A short fingerprint of an ordered id list (which ids, in which order)."""
    return f"{zlib.crc32(chr(10).join(map(str, ids)).encode()):08x}"


def scoring_copy_path(path: str, fingerprint: str) -> str:
    """Where the scoring copy of the submission at ``path`` lives: its predictions as a
    float64 vector aligned with the round's live ids (NaN where left out), so resolution
    reads a few kilobytes per submission without parsing or matching ids. The name
    carries the ids' fingerprint: a copy aligned with another order is never used."""
    return path.removesuffix(".parquet") + f".{fingerprint}.npy"


def read_submission(store: Store, submission: Submission) -> pd.Series:
    """The stored predictions of ``submission``, indexed by id."""
    return file_store.read_parquet(store, submission.path)["prediction"]


def latest_submission(session: Session, model: Model, round: Round) -> Submission | None:
    """The submission that counts: the latest valid on-time one, else the latest valid late one."""
    stmt = (
        select(Submission)
        .where(Submission.model_id == model.id, Submission.round_id == round.id, Submission.valid)
        .order_by(Submission.late, Submission.created_at.desc(), Submission.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def submission_stake_at_risk(session: Session, submission: Submission) -> Decimal:
    """What ``submission`` has at risk: the stake frozen at close, zero when late."""
    if submission.late:
        return ZERO
    return rounds_mod.stake_at_risk(session, submission.round, submission.model)


__all__ = [
    "DEFAULT_MAX_BYTES",
    "MIN_COVERAGE",
    "PREDICTION_COLUMNS",
    "Store",
    "ids_fingerprint",
    "latest_submission",
    "parse_submission",
    "read_submission",
    "scoring_copy_path",
    "submission_stake_at_risk",
    "submit",
]

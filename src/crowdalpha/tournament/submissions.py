"""Submissions: a model's predictions for a round's live ids, checked, stored, recorded.

A file (CSV or parquet) has an ``id`` column and a ``prediction`` (or
``probability``) column. It is accepted only if its ids are the round's live
ids without duplicates or strangers, covering at least ``MIN_COVERAGE`` of
them, and its predictions are numbers in [0, 1], not all equal. A rejected file
leaves nothing behind (no row, no file). A file sent after the round's close is
accepted as ``late``: it is scored but has nothing at risk, and it never
replaces an on-time submission of the same model (so a stake cannot escape a
round by submitting late). An accepted file is stored as it came, next to its
scoring copy (the predictions aligned with the round's live ids). Nothing here
commits; if the caller's transaction rolls back, the stored files are deleted with it.

``submit`` is the one way in, for the API's ``create_submission``, the web
form, the tournament's own benchmark submissions and the season; it works in
two phases with the caller's ``begin_writing`` between them:

1. the owner and the round are checked on what the session has read, then
   ``prepare_submission`` (the slow part) parses and checks the file and stores
   it with its scoring copy, without the database;
2. ``begin_writing()``: the caller turns its unit of work into a writing one
   (a server on SQLite: ends the reads' transaction and takes the write lock,
   ``crowdalpha.server.context.begin_writing``), so no other writer waits on
   the parse; callers already writing pass nothing;
3. ``record_submission``: the owner and the round's state are checked again
   (they may have changed meanwhile) and the row is added.

A failure after the file was stored removes it again (an upload goes back
where it was uploaded to).
"""

from __future__ import annotations

import io
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdalpha.tournament import stakes
from crowdalpha.tournament import store as file_store
from crowdalpha.tournament.clock import Clock, ensure_utc
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


_CSV_READ = pacsv.ReadOptions(use_threads=False)  # the server runs many requests at once
# Ids are text; the usual missing-value words ('', 'NA', 'nan', ...) are missing, as in pandas.
_CSV_CONVERT = pacsv.ConvertOptions(column_types={"id": pa.string()}, strings_can_be_null=True)


def _file_format(data: bytes, filename: str) -> str:
    """'csv' or 'parquet', by the file's name (a nameless parquet file by its magic bytes)."""
    name = filename.lower()
    if name.endswith(".parquet") or (not name.endswith(".csv") and data[:4] == b"PAR1"):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    raise InvalidSubmissionFileError(f"'{filename}' is not a .csv or .parquet file")


def _read(data: bytes, filename: str) -> pa.Table:
    kind = _file_format(data, filename)
    try:
        if kind == "parquet":
            return pq.read_table(pa.BufferReader(data))
        return pacsv.read_csv(pa.BufferReader(data), read_options=_CSV_READ, convert_options=_CSV_CONVERT)
    except Exception as exc:  # any parser failure is the file's fault
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidSubmissionFileError(
            f"'{filename}' cannot be read as {'parquet' if kind == 'parquet' else 'CSV'} ({reason})"
        ) from None


def _first(values: Any) -> str:
    return repr(str(next(iter(values))))


def _column(table: pa.Table, name: str, filename: str) -> pa.Array:
    if table.column_names.count(name) > 1:
        raise InvalidSubmissionFileError(
            f"'{filename}' has {table.column_names.count(name)} '{name}' columns; columns: {table.column_names}"
        )
    return table.column(name).combine_chunks()


def _id_strings(ids: pa.Array, filename: str) -> pa.Array:
    """The ids as text, whatever type the file stored them as."""
    if pa.types.is_large_string(ids.type):
        return ids
    try:
        return pc.cast(ids, pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InvalidSubmissionFileError(
            f"'{filename}' has ids of type {ids.type}, which cannot be read as text"
        ) from None


def _numbers(raw: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The column as float64 (NaN where missing) and where it holds something that is not a number."""
    kind = raw.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind) \
            or pa.types.is_decimal(kind) or pa.types.is_null(kind):
        values = pc.cast(raw, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        return values, np.zeros(len(values), dtype=bool)
    text = raw.to_pandas()  # text, lists, ...: what pandas cannot read as a number is not one
    values = pd.to_numeric(text, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    return values, np.isnan(values) & text.notna().to_numpy()


def parse_submission(
    data: bytes,
    filename: str,
    *,
    round_number: int,
    live_ids: pd.Index,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> pd.Series:
    """Check a submission file against the round's live ids; the predictions by id, in live order."""
    live = _live_strings(live_ids)
    aligned = _checked_predictions(
        data, filename, round_number=round_number, live_ids=live, max_bytes=max_bytes
    )
    covered = ~np.isnan(aligned)
    return pd.Series(aligned[covered], index=live[covered].rename("id"), name="prediction")


def _live_strings(live_ids: pd.Index) -> pd.Index:
    # Reuse the caller's index when it already holds strings: no copy per submission.
    return live_ids if live_ids.dtype == "str" else pd.Index(live_ids.astype(str))


def _checked_predictions(
    data: bytes, filename: str, *, round_number: int, live_ids: pd.Index, max_bytes: int
) -> np.ndarray:
    """``parse_submission``'s checks; the predictions as a float64 vector aligned with
    ``live_ids`` (a ``str`` index), NaN where the file left an id out."""
    if len(data) > max_bytes:
        raise InvalidSubmissionFileError(
            f"'{filename}' for round {round_number} is {len(data)} bytes, the limit is {max_bytes}"
        )
    if len(data) == 0:
        raise InvalidSubmissionFileError(f"'{filename}' for round {round_number} is empty")
    table = _read(data, filename)
    columns = [str(c) for c in table.column_names]
    if "id" not in columns:
        raise InvalidSubmissionFileError(f"'{filename}' has no 'id' column; columns: {columns}")
    column = next((c for c in PREDICTION_COLUMNS if c in columns), None)
    if column is None:
        raise InvalidSubmissionFileError(
            f"'{filename}' has no 'prediction' or 'probability' column; columns: {columns}"
        )
    ids = _id_strings(_column(table, "id", filename), filename)
    empty = pc.fill_null(pc.equal(pc.binary_length(ids), 0), True).to_numpy(zero_copy_only=False)
    if empty.any():
        rows = np.flatnonzero(empty)
        raise InvalidSubmissionIdsError(
            f"{len(rows)} ids of '{filename}' for round {round_number} are empty, first at row {int(rows[0])}"
        )
    live = pa.array(live_ids.array, type=pa.large_string())
    position = pc.fill_null(pc.index_in(ids, value_set=live), -1).to_numpy(zero_copy_only=False)
    unknown = position < 0
    known_repeats = np.bincount(position[~unknown], minlength=len(live)).max(initial=0) > 1
    if known_repeats or unknown.any():  # only a refused file pays for the details
        names = pd.Series(ids.to_numpy(zero_copy_only=False), dtype=object)
        duplicated = names[names.duplicated()].unique()
        if len(duplicated):
            raise InvalidSubmissionIdsError(
                f"{len(duplicated)} ids of round {round_number} duplicated, first: {_first(duplicated)}"
            )
        raise InvalidSubmissionIdsError(
            f"{int(unknown.sum())} ids not in round {round_number}, first: {_first(names[unknown])}"
        )
    covered = np.zeros(len(live), dtype=bool)
    covered[position] = True
    missing = np.flatnonzero(~covered)
    coverage = 1 - len(missing) / len(live) if len(live) else 0.0
    if coverage < MIN_COVERAGE:
        raise InvalidSubmissionIdsError(
            f"{len(missing)} ids of round {round_number} missing, first: {_first(live_ids[missing])}; "
            f"covers {coverage:.1%}, at least {MIN_COVERAGE:.0%} needed"
        )
    raw = _column(table, column, filename)
    values, bad = _numbers(raw)
    if bad.any():
        at = int(bad.argmax())
        raise InvalidPredictionsError(
            f"{int(bad.sum())} values of column '{column}' in round {round_number} are not numbers, "
            f"first: {str(raw[at].as_py())!r} at id {ids[at].as_py()!r}"
        )
    nan = np.isnan(values)
    if nan.any():
        at = int(nan.argmax())
        raise InvalidPredictionsError(
            f"{int(nan.sum())} predictions of round {round_number} are NaN, first at id {ids[at].as_py()!r}"
        )
    outside = (values < 0.0) | (values > 1.0)
    if outside.any():
        at = int(outside.argmax())
        raise InvalidPredictionsError(
            f"{int(outside.sum())} predictions of round {round_number} are outside [0, 1], "
            f"first: {float(values[at])!r} at id {ids[at].as_py()!r}"
        )
    if values.min() == values.max():
        raise InvalidPredictionsError(
            f"all {len(values)} predictions of round {round_number} equal {float(values[0])!r}; "
            "constant predictions cannot be scored"
        )
    aligned = np.full(len(live), np.nan)
    aligned[position] = values
    return aligned


@dataclass(frozen=True)
class PreparedSubmission:
    """A checked file and its scoring copy, in the store but not yet recorded (``record_submission``)."""

    model_id: int
    round_id: int
    path: str  # the file as it came (.csv or .parquet)
    scoring_copy: str  # the float64 vector aligned with the live ids (``scoring_copy_path``)
    rows: int
    filename: str
    upload: str | None = None  # where the file was uploaded to, if it was moved from there

    def discard(self, store: Store) -> None:
        """Undo ``prepare_submission``: the scoring copy goes, the file goes back to its upload."""
        file_store.remove(store, self.scoring_copy)
        if self.upload is not None:
            file_store.move(store, self.path, self.upload)
        else:
            file_store.remove(store, self.path)


def _require_not_resolved(round: Round) -> None:
    if round.status == RoundStatus.RESOLVED:
        raise RoundStateError(f"round {round.number} is resolved; it takes no more submissions")


def prepare_submission(
    store: Store,
    model: Model,
    round: Round,
    data: bytes,
    filename: str,
    *,
    live_ids: pd.Index,
    live_fingerprint: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    upload: str | None = None,
) -> PreparedSubmission:
    """Check a file for ``round`` and store it with its scoring copy, without the database:
    the slow part of a submission, which a server does before it takes the write lock.

    ``upload``: where in ``store`` the file's ``data`` already lies (a server's upload);
    the file is moved from there, not written again.
    """
    live = _live_strings(live_ids)
    aligned = _checked_predictions(
        data, filename, round_number=round.number, live_ids=live, max_bytes=max_bytes
    )
    scoring = io.BytesIO()
    np.save(scoring, aligned, allow_pickle=False)
    folder = f"submissions/round_{round.number}/model_{model.id}"
    relative = f"{folder}/{uuid.uuid4().hex}.{_file_format(data, filename)}"
    prepared = PreparedSubmission(
        model_id=model.id,
        round_id=round.id,
        path=relative,
        scoring_copy=scoring_copy_path(relative, live_fingerprint or ids_fingerprint(live)),
        rows=int((~np.isnan(aligned)).sum()),
        filename=filename[:255],
        upload=upload,
    )
    file_store.write_bytes(store, prepared.scoring_copy, scoring.getvalue())
    try:
        if upload is not None:
            file_store.move(store, upload, prepared.path)
        else:
            file_store.write_bytes(store, prepared.path, data)
    except FileNotFoundError:
        file_store.remove(store, prepared.scoring_copy)
        raise InvalidSubmissionFileError(
            f"the upload of '{filename}' was taken by another submission meanwhile; upload it again"
        ) from None
    except BaseException:
        file_store.remove(store, prepared.scoring_copy)
        raise
    return prepared


def record_submission(
    session: Session,
    store: Store,
    prepared: PreparedSubmission,
    model: Model,
    round: Round,
    *,
    by: Account,
    clock: Clock,
) -> Submission:
    """Record ``prepared`` as ``model``'s submission for ``round``; late after the close.

    Checks again what may have changed since the file was prepared (the owner, the
    round's state); on any failure the stored copies are removed and no row is left.
    """
    row: Submission | None = None
    try:
        if (prepared.model_id, prepared.round_id) != (model.id, round.id):
            raise ValueError(
                f"submission files of model {prepared.model_id} for round {prepared.round_id} "
                f"cannot be recorded for model {model.id} in round {round.id}"
            )
        require_owner(model, by)
        _require_not_resolved(round)
        now = ensure_utc(clock.now(), name="clock.now()")
        row = Submission(
            model_id=model.id,
            round_id=round.id,
            path=prepared.path,
            filename=prepared.filename,
            rows=prepared.rows,
            created_at=now,
            late=round.status != RoundStatus.OPEN or now >= round.closes_at,
            valid=True,
        )
        session.add(row)
        session.flush()  # the row last, no SAVEPOINT round trips: a failure leaves nothing
    except BaseException:
        if row is not None and row in session:
            session.expunge(row)
        prepared.discard(store)
        raise
    file_store.remove_on_rollback(session, store, [prepared.path, prepared.scoring_copy])
    return row


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
    upload: str | None = None,
    begin_writing: Callable[[], None] | None = None,
) -> Submission:
    """Accept ``model``'s predictions for ``round`` from its owner ``by``; late after the close.

    Checks and stores the file, then calls ``begin_writing`` (when given), then records
    the row, checking the owner and the round again (the module's docstring).
    ``live_fingerprint`` is ``ids_fingerprint(live_ids)``, for callers that keep it per
    round; ``upload`` is where in ``store`` the file's ``data`` already lies (a server's
    upload), moved from there instead of written again.
    """
    require_owner(model, by)
    _require_not_resolved(round)
    prepared = prepare_submission(
        store, model, round, data, filename,
        live_ids=live_ids, live_fingerprint=live_fingerprint, max_bytes=max_bytes, upload=upload,
    )
    if begin_writing is not None:
        try:
            begin_writing()
        except BaseException:
            prepared.discard(store)
            raise
    return record_submission(session, store, prepared, model, round, by=by, clock=clock)


def ids_fingerprint(ids: pd.Index) -> str:
    """A short fingerprint of an ordered id list (which ids, in which order)."""
    return f"{zlib.crc32(chr(10).join(map(str, ids)).encode()):08x}"


def scoring_copy_path(path: str, fingerprint: str) -> str:
    """Where the scoring copy of the submission at ``path`` lives: its predictions as a
    float64 vector aligned with the round's live ids (NaN where left out), so resolution
    reads a few kilobytes per submission without parsing or matching ids. The name
    carries the ids' fingerprint: a copy aligned with another order is never used."""
    return str(PurePosixPath(path).with_suffix("")) + f".{fingerprint}.npy"


def read_stored_predictions(store: Store, path: str) -> pd.Series:
    """The predictions of the stored submission file at ``path``, indexed by id."""
    with store[0].open(file_store.full_path(store, path), "rb") as f:
        table = _read(f.read(), path)
    column = next(c for c in PREDICTION_COLUMNS if c in table.column_names)
    values, _ = _numbers(table.column(column).combine_chunks())
    ids = _id_strings(table.column("id").combine_chunks(), path)
    return pd.Series(values, index=pd.Index(ids.to_numpy(zero_copy_only=False), dtype="str", name="id"),
                     name="prediction")


def read_submission(store: Store, submission: Submission) -> pd.Series:
    """The stored predictions of ``submission``, indexed by id."""
    return read_stored_predictions(store, submission.path)


#: The counted-submission rule, as an ordering: of a model's valid submissions in a round,
#: the first in this order counts: on time before late, then the newest (``created_at``,
#: then ``id``). Every reader of "the submission that counts" orders by it.
COUNTED_FIRST = (Submission.late, Submission.created_at.desc(), Submission.id.desc())


def counted_submission(session: Session, model: Model, round: Round) -> Submission | None:
    """The submission of ``model`` that counts in ``round`` (``COUNTED_FIRST``); None without any."""
    stmt = (
        select(Submission)
        .where(Submission.model_id == model.id, Submission.round_id == round.id, Submission.valid)
        .order_by(*COUNTED_FIRST)
        .limit(1)
    )
    return session.scalars(stmt).first()


def counted_submission_ids(session: Session, model: Model) -> set[int]:
    """Ids of ``model``'s submissions that count in their rounds (one per round), in one query."""
    rows = session.execute(
        select(Submission.id, Submission.round_id)
        .where(Submission.model_id == model.id, Submission.valid)
        .order_by(Submission.round_id, *COUNTED_FIRST)
    )
    chosen: dict[int, int] = {}
    for submission_id, round_id in rows:
        chosen.setdefault(round_id, submission_id)
    return set(chosen.values())


def counted_submissions(session: Session, round: Round) -> list[Submission]:
    """Each model's submission that counts in ``round`` (``COUNTED_FIRST``), by model id."""
    rows = session.scalars(
        select(Submission)
        .where(Submission.round_id == round.id, Submission.valid)
        .order_by(Submission.model_id, *COUNTED_FIRST)
    )
    chosen: dict[int, Submission] = {}
    for row in rows:
        chosen.setdefault(row.model_id, row)
    return list(chosen.values())


def submission_stake_at_risk(session: Session, submission: Submission) -> Decimal:
    """What ``submission`` has at risk: the stake frozen at close, zero when late."""
    if submission.late:
        return ZERO
    return stakes.frozen_stake(session, submission.round, submission.model)


__all__ = [
    "COUNTED_FIRST",
    "DEFAULT_MAX_BYTES",
    "MIN_COVERAGE",
    "PREDICTION_COLUMNS",
    "PreparedSubmission",
    "Store",
    "counted_submission",
    "counted_submission_ids",
    "counted_submissions",
    "ids_fingerprint",
    "parse_submission",
    "prepare_submission",
    "read_stored_predictions",
    "read_submission",
    "record_submission",
    "scoring_copy_path",
    "submission_stake_at_risk",
    "submit",
]

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from crowdalpha.tournament import accounts, models, resolution, rounds, submissions
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.db import make_session_factory, migrate, session_scope
from crowdalpha.tournament.errors import (
    InvalidPredictionsError,
    InvalidSubmissionError,
    InvalidSubmissionFileError,
    InvalidSubmissionIdsError,
    PermissionDeniedError,
    RoundStateError,
)
from crowdalpha.tournament.tables import RoundStatus, Submission

from . import factories

LIVE = pd.Index([f"id{i:02d}" for i in range(10)], name="id")


@pytest.fixture
def store(tmp_path: Path) -> submissions.Store:
    return fsspec.filesystem("file"), str(tmp_path / "store")


@pytest.fixture
def world(session: Session, clock: ReplayClock) -> tuple:
    alice = factories.account(session, clock, "alice", funds="100")
    bob = factories.account(session, clock, "bob")
    model = factories.staked_model(session, clock, alice, "m1", stake="100")
    round_ = rounds.open_round(session, era="0001", clock=clock, schedule=rounds.Schedule())
    return alice, bob, model, round_


def csv(ids: list[str], values: list[object], column: str = "prediction") -> bytes:
    return pd.DataFrame({"id": ids, column: values}).to_csv(index=False).encode()


def good(n: int = 10) -> bytes:
    return csv(list(LIVE[:n]), list(np.linspace(0.1, 0.9, n)))


def stored_files(store: submissions.Store) -> list[str]:
    fs, root = store
    return fs.find(root) if fs.exists(root) else []


def test_accepts_csv_and_parquet_and_stores_them_as_they_came(
    session: Session, clock: ReplayClock, store: submissions.Store, world: tuple
) -> None:
    alice, _, model, round_ = world
    sub = submissions.submit(
        session, store, model, round_, good(), "preds.csv", by=alice, clock=clock, live_ids=LIVE
    )
    assert (sub.rows, sub.late, sub.valid) == (10, False, True)
    assert sub.path.startswith(f"submissions/round_1/model_{model.id}/")
    assert sub.path.endswith(".csv")
    assert store[0].cat_file(f"{store[1]}/{sub.path}") == good()
    read = submissions.read_submission(store, sub)
    assert list(read.index) == list(LIVE)
    assert read.iloc[0] == pytest.approx(0.1)

    frame = pd.DataFrame({"probability": np.linspace(0, 1, 8)}, index=pd.Index(LIVE[2:], name="id"))
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    clock.advance(minutes=1)
    second = submissions.submit(
        session,
        store,
        model,
        round_,
        buffer.getvalue(),
        "p.parquet",
        by=alice,
        clock=clock,
        live_ids=LIVE,
    )
    assert second.rows == 8
    assert second.path.endswith(".parquet")
    assert submissions.read_submission(store, second).index.tolist() == list(LIVE[2:])
    assert submissions.counted_submission(session, model, round_) is second
    assert len(stored_files(store)) == 4  # each: the parquet file and its scoring copy
    # the scoring copy is aligned with the live ids, NaN where the file left ids out
    copy = submissions.scoring_copy_path(second.path, submissions.ids_fingerprint(pd.Index(LIVE)))
    assert store[0].exists(f"{store[1]}/{copy}")
    shuffled = pd.Index(list(reversed(LIVE)))
    matrix = resolution.read_prediction_matrix(store, [sub.path, second.path], pd.Index(LIVE))
    assert np.isnan(matrix[:2, 1]).all()
    np.testing.assert_array_equal(matrix[2:, 1], np.linspace(0, 1, 8))
    # ids in another order: the copy is not used, the parquet file is matched by id
    again = resolution.read_prediction_matrix(store, [second.path], shuffled)
    np.testing.assert_array_equal(again[:, 0], matrix[::-1, 1])


def _bad(n: int, value: object = 0.5) -> bytes:
    return csv(list(LIVE[:n]), [value] * n)


REJECTIONS = [
    (
        b"x" * 1001,
        "p.csv",
        InvalidSubmissionFileError,
        "invalid_submission_file: 'p.csv' for round 1 is 1001 bytes, the limit is 1000",
    ),
    (
        good(),
        "p.txt",
        InvalidSubmissionFileError,
        "invalid_submission_file: 'p.txt' is not a .csv or .parquet file",
    ),
    (
        b"PAR1garbage",
        "p.parquet",
        InvalidSubmissionFileError,
        "invalid_submission_file: 'p.parquet' cannot be read as parquet (",
    ),
    (
        b"ident,prediction\nid00,0.5\n",
        "p.csv",
        InvalidSubmissionFileError,
        "invalid_submission_file: 'p.csv' has no 'id' column; columns: ['ident', 'prediction']",
    ),
    (
        b"id,score\nid00,0.5\n",
        "p.csv",
        InvalidSubmissionFileError,
        "invalid_submission_file: 'p.csv' has no 'prediction' or 'probability' column; columns: ['id', 'score']",
    ),
    (
        b"id,prediction\n,0.5\nid01,0.4\n",
        "p.csv",
        InvalidSubmissionIdsError,
        "invalid_submission_ids: 1 ids of 'p.csv' for round 1 are empty, first at row 0",
    ),
    (
        csv([*LIVE, "id03"], [0.1] * 10 + [0.2]),
        "p.csv",
        InvalidSubmissionIdsError,
        "invalid_submission_ids: 1 ids of round 1 duplicated, first: 'id03'",
    ),
    (
        csv([*LIVE, "zz1", "zz2"], list(np.linspace(0, 1, 12))),
        "p.csv",
        InvalidSubmissionIdsError,
        "invalid_submission_ids: 2 ids not in round 1, first: 'zz1'",
    ),
    (
        csv(list(LIVE[3:]), list(np.linspace(0, 1, 7))),
        "p.csv",
        InvalidSubmissionIdsError,
        "invalid_submission_ids: 3 ids of round 1 missing, first: 'id00'; covers 70.0%, at least 80% needed",
    ),
    (
        csv(list(LIVE), [0.1] * 9 + ["abc"]),
        "p.csv",
        InvalidPredictionsError,
        "invalid_submission_predictions: 1 values of column 'prediction' in round 1 are not numbers, "
        "first: 'abc' at id 'id09'",
    ),
    (
        csv(list(LIVE), [0.1] * 8 + [None, 0.2]),
        "p.csv",
        InvalidPredictionsError,
        "invalid_submission_predictions: 1 predictions of round 1 are NaN, first at id 'id08'",
    ),
    (
        csv(list(LIVE), [0.1] * 8 + [1.5, -0.1]),
        "p.csv",
        InvalidPredictionsError,
        "invalid_submission_predictions: 2 predictions of round 1 are outside [0, 1], first: 1.5 at id 'id08'",
    ),
    (
        _bad(10),
        "p.csv",
        InvalidPredictionsError,
        "invalid_submission_predictions: all 10 predictions of round 1 equal 0.5; "
        "constant predictions cannot be scored",
    ),
]


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


REJECTIONS += [
    (
        b"id,id,prediction\nid00,id01,0.5\n",
        "p.csv",
        InvalidSubmissionFileError,
        "invalid_submission_file: 'p.csv' has 2 'id' columns; columns: ['id', 'id', 'prediction']",
    ),
    (
        b"id,prediction\nid00,0.5\nid01,0.4,0.3\n",
        "p.csv",
        InvalidSubmissionFileError,
        "invalid_submission_file: 'p.csv' cannot be read as CSV (CSV parse error: Row #3: Expected 2 columns, got 3: id01,0.4,0.3)",
    ),
    (
        b"id,prediction\nid00,0.5\n\xff\xfe,0.4\n",
        "p.csv",
        InvalidSubmissionFileError,
        "invalid_submission_file: 'p.csv' cannot be read as CSV (",
    ),
    (  # the words pandas reads as missing are missing ids, not ids
        b"id,prediction\nid00,0.5\nNA,0.4\n",
        "p.csv",
        InvalidSubmissionIdsError,
        "invalid_submission_ids: 1 ids of 'p.csv' for round 1 are empty, first at row 1",
    ),
    (  # ... and missing predictions
        csv(list(LIVE), [0.1] * 9 + ["NA"]),
        "p.csv",
        InvalidPredictionsError,
        "invalid_submission_predictions: 1 predictions of round 1 are NaN, first at id 'id09'",
    ),
    (
        csv(["zz1", *LIVE, "zz1"], list(np.linspace(0, 1, 12))),
        "p.csv",
        InvalidSubmissionIdsError,
        "invalid_submission_ids: 1 ids of round 1 duplicated, first: 'zz1'",
    ),
    (
        _parquet(pd.DataFrame({"id": list(LIVE), "prediction": [[0.5]] * 10})),
        "p.parquet",
        InvalidPredictionsError,
        "invalid_submission_predictions: 10 values of column 'prediction' in round 1 are not numbers, "
        "first: '[0.5]' at id 'id00'",
    ),
    (
        csv(list(LIVE), [0.1] * 8 + [float("inf"), 0.2]),
        "p.csv",
        InvalidPredictionsError,
        "invalid_submission_predictions: 1 predictions of round 1 are outside [0, 1], first: inf at id 'id08'",
    ),
]


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"id": pd.Categorical(list(LIVE)), "prediction": np.linspace(0, 1, 10)}),
        pd.DataFrame({"id": list(LIVE), "prediction": [str(v) for v in np.linspace(0, 1, 10)]}),
        pd.DataFrame({"id": list(LIVE), "prediction": np.linspace(0, 1, 10).astype(np.float32)}),
        pd.DataFrame({"id": list(LIVE), "prediction": [0, 1] * 5}),
    ],
    ids=["categorical-ids", "numbers-as-text", "float32", "integers"],
)
def test_parquet_columns_of_other_types_are_read(frame: pd.DataFrame) -> None:
    parsed = submissions.parse_submission(_parquet(frame), "p.parquet", round_number=1, live_ids=LIVE)
    assert list(parsed.index) == list(LIVE)
    np.testing.assert_allclose(parsed.to_numpy(), frame["prediction"].astype(float), rtol=1e-7)


def test_stored_file_reads_back_by_id(
    session: Session, clock: ReplayClock, store: submissions.Store, world: tuple
) -> None:
    alice, _, model, round_ = world
    shuffled = [LIVE[i] for i in (9, 0, 5, 1, 2, 3, 4, 6, 7)]
    sub = submissions.submit(
        session, store, model, round_, csv(shuffled, [i / 10 for i in range(9)]), "p.csv",
        by=alice, clock=clock, live_ids=LIVE,
    )
    read = submissions.read_submission(store, sub)
    assert read.index.name == "id" and read.name == "prediction"
    assert list(read.index) == shuffled
    assert read["id09"] == 0.0 and read["id00"] == 0.1
    assert sub.rows == 9
    # resolution reads the same predictions from the scoring copy, or from the file by id
    matrix = resolution.read_prediction_matrix(store, [sub.path], pd.Index(LIVE))
    np.testing.assert_array_equal(matrix[:, 0], read.reindex(LIVE).to_numpy())
    store[0].rm(f"{store[1]}/{submissions.scoring_copy_path(sub.path, submissions.ids_fingerprint(pd.Index(LIVE)))}")
    again = resolution.read_prediction_matrix(store, [sub.path], pd.Index(LIVE))
    np.testing.assert_array_equal(again, matrix)


def test_an_upload_is_moved_into_place_and_back_when_discarded(
    session: Session, clock: ReplayClock, store: submissions.Store, world: tuple
) -> None:
    alice, _, model, round_ = world
    fs, root = store
    upload = "uploads/7/0123-p.csv"
    submissions.file_store.write_bytes(store, upload, good())
    prepared = submissions.prepare_submission(store, model, round_, good(), "p.csv", live_ids=LIVE, upload=upload)
    assert not fs.exists(f"{root}/{upload}")
    assert fs.cat_file(f"{root}/{prepared.path}") == good()
    prepared.discard(store)
    assert fs.cat_file(f"{root}/{upload}") == good()
    assert stored_files(store) == [f"{root}/{upload}"]
    prepared = submissions.prepare_submission(store, model, round_, good(), "p.csv", live_ids=LIVE, upload=upload)
    row = submissions.record_submission(session, store, prepared, model, round_, by=alice, clock=clock)
    assert row.path == prepared.path and not fs.exists(f"{root}/{upload}")
    # a second call that read the same upload before the first one moved it
    with pytest.raises(InvalidSubmissionFileError, match=r"'p\.csv' was taken by another submission"):
        submissions.prepare_submission(store, model, round_, good(), "p.csv", live_ids=LIVE, upload=upload)
    assert sorted(stored_files(store)) == sorted(f"{root}/{p}" for p in (row.path, prepared.scoring_copy))


@pytest.mark.parametrize(("data", "filename", "error", "message"), REJECTIONS)
def test_rejections_say_why_and_change_nothing(
    session: Session,
    clock: ReplayClock,
    store: submissions.Store,
    world: tuple,
    data: bytes,
    filename: str,
    error: type[InvalidSubmissionError],
    message: str,
) -> None:
    alice, _, model, round_ = world
    with pytest.raises(error) as caught:
        submissions.submit(
            session,
            store,
            model,
            round_,
            data,
            filename,
            by=alice,
            clock=clock,
            live_ids=LIVE,
            max_bytes=1000 if data.startswith(b"xxxx") else 10_000,
        )
    assert str(caught.value).startswith(message)
    assert session.scalar(select(func.count(Submission.id))) == 0
    assert stored_files(store) == []


def test_only_the_owner_submits(
    session: Session, clock: ReplayClock, store: submissions.Store, world: tuple
) -> None:
    _, bob, model, round_ = world
    with pytest.raises(
        PermissionDeniedError, match=r"^permission_denied: account 'bob' does not own model 'm1'$"
    ):
        submissions.submit(
            session, store, model, round_, good(), "p.csv", by=bob, clock=clock, live_ids=LIVE
        )
    assert session.scalar(select(func.count(Submission.id))) == 0
    assert stored_files(store) == []


def test_latest_valid_submission_counts_and_late_never_replaces_on_time(
    session: Session, clock: ReplayClock, store: submissions.Store, world: tuple
) -> None:
    alice, _, model, round_ = world
    assert submissions.counted_submission(session, model, round_) is None
    first = submissions.submit(
        session, store, model, round_, good(), "a.csv", by=alice, clock=clock, live_ids=LIVE
    )
    clock.advance(hours=1)
    second = submissions.submit(
        session, store, model, round_, good(9), "b.csv", by=alice, clock=clock, live_ids=LIVE
    )
    assert submissions.counted_submission(session, model, round_) is second
    second.valid = False
    session.flush()
    assert submissions.counted_submission(session, model, round_) is first

    clock.set(round_.closes_at)
    rounds.close_round(session, round_, clock=clock)
    late = submissions.submit(
        session, store, model, round_, good(), "c.csv", by=alice, clock=clock, live_ids=LIVE
    )
    assert late.late
    assert submissions.counted_submission(session, model, round_) is first
    assert submissions.submission_stake_at_risk(session, first) == Decimal("100")
    assert submissions.submission_stake_at_risk(session, late) == 0


def test_late_submission_is_flagged_and_has_nothing_at_risk(
    session: Session, clock: ReplayClock, store: submissions.Store, world: tuple
) -> None:
    alice, _, model, round_ = world
    clock.set(round_.closes_at + timedelta(minutes=1))
    # not closed yet by the job, but past its close: still late
    late = submissions.submit(
        session, store, model, round_, good(), "p.csv", by=alice, clock=clock, live_ids=LIVE
    )
    assert late.late
    assert submissions.counted_submission(session, model, round_) is late
    rounds.close_round(session, round_, clock=clock)
    assert submissions.submission_stake_at_risk(session, late) == 0
    rounds.record_scoring_day(session, round_, round_.resolves_after_days, clock=clock)
    with pytest.raises(RoundStateError, match="round_state: round 1 is resolved"):
        submissions.submit(
            session, store, model, round_, good(), "p.csv", by=alice, clock=clock, live_ids=LIVE
        )


def test_files_of_a_rolled_back_transaction_are_deleted(
    blank_engine: Engine, clock: ReplayClock, store: submissions.Store
) -> None:
    migrate(blank_engine)
    factory = make_session_factory(blank_engine)
    with session_scope(factory) as session:
        alice = factories.account(session, clock, "alice")
        models.create_model(session, alice, "m1", clock=clock)
        rounds.open_round(session, era="0001", clock=clock, schedule=rounds.Schedule())

    def submit(session: Session) -> None:
        submissions.submit(session, store, models.get_model(session, "m1"),
                           rounds.get_round(session, 1), good(), "p.csv",
                           by=accounts.get_account(session, "alice"), clock=clock, live_ids=LIVE)

    with factory() as session:  # the caller fails after submit: nothing stays
        submit(session)
        assert len(stored_files(store)) == 2
        session.rollback()
    assert stored_files(store) == []
    with session_scope(factory) as session:  # committed: the files stay, even past a later rollback
        submit(session)
    with factory() as session:
        session.rollback()
    assert len(stored_files(store)) == 2
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 1


@pytest.mark.parametrize("failing", ["scoring copy", "file", "row"])
def test_a_failure_midway_leaves_no_file_and_no_row(
    session: Session, clock: ReplayClock, store: submissions.Store, world: tuple,
    monkeypatch: pytest.MonkeyPatch, failing: str,
) -> None:
    alice, _, model, round_ = world
    if failing in ("scoring copy", "file"):
        real_write = submissions.file_store.write_bytes

        def write_bytes(store: submissions.Store, relative: str, data: bytes) -> None:
            if relative.endswith(".npy") == (failing == "scoring copy"):
                raise OSError("disk full")
            real_write(store, relative, data)

        monkeypatch.setattr(submissions.file_store, "write_bytes", write_bytes)
    else:
        def flush(*_: object) -> None:
            raise OSError("connection lost")

        monkeypatch.setattr(session, "flush", flush)
    with pytest.raises(OSError):
        submissions.submit(session, store, model, round_, good(), "p.csv", by=alice, clock=clock, live_ids=LIVE)
    assert stored_files(store) == []
    monkeypatch.undo()
    assert session.scalar(select(func.count(Submission.id))) == 0  # nothing left to flush either
    session.commit()
    assert session.scalar(select(func.count(Submission.id))) == 0


def test_record_checks_again_and_gives_the_upload_back(
    session: Session, clock: ReplayClock, store: submissions.Store, world: tuple
) -> None:
    alice, bob, model, round_ = world
    root = store[1]
    upload = "uploads/7/0123-p.csv"
    submissions.file_store.write_bytes(store, upload, good())
    prepared = submissions.prepare_submission(store, model, round_, good(), "p.csv", live_ids=LIVE, upload=upload)
    with pytest.raises(PermissionDeniedError, match="'bob' does not own model 'm1'"):
        submissions.record_submission(session, store, prepared, model, round_, by=bob, clock=clock)
    assert stored_files(store) == [f"{root}/{upload}"]
    prepared = submissions.prepare_submission(store, model, round_, good(), "p.csv", live_ids=LIVE, upload=upload)
    round_.status = RoundStatus.RESOLVED  # e.g. by the operator while the file was checked
    with pytest.raises(RoundStateError, match="round 1 is resolved"):
        submissions.record_submission(session, store, prepared, model, round_, by=alice, clock=clock)
    assert stored_files(store) == [f"{root}/{upload}"]
    assert session.scalar(select(func.count(Submission.id))) == 0


def test_submit_stores_the_file_before_begin_writing_and_records_after_it(
    session: Session, clock: ReplayClock, store: submissions.Store, world: tuple
) -> None:
    alice, _, model, round_ = world
    fs, root = store
    upload = "uploads/7/0123-p.csv"
    submissions.file_store.write_bytes(store, upload, good())
    seen: list[tuple[list[str], int]] = []

    def begin_writing() -> None:  # what the file store and the table hold at the switch
        seen.append((sorted(stored_files(store)), session.scalar(select(func.count(Submission.id)))))

    row = submissions.submit(session, store, model, round_, good(), "p.csv", by=alice, clock=clock,
                             live_ids=LIVE, upload=upload, begin_writing=begin_writing)
    scoring = submissions.scoring_copy_path(row.path, submissions.ids_fingerprint(pd.Index(LIVE)))
    assert seen == [(sorted(f"{root}/{p}" for p in (row.path, scoring)), 0)]
    assert fs.cat_file(f"{root}/{row.path}") == good() and not fs.exists(f"{root}/{upload}")

    def refused() -> None:
        raise RoundStateError("the write lock could not be taken")

    submissions.file_store.write_bytes(store, upload, good())
    with pytest.raises(RoundStateError, match="write lock"):
        submissions.submit(session, store, model, round_, good(), "p.csv", by=alice, clock=clock,
                           live_ids=LIVE, upload=upload, begin_writing=refused)
    assert fs.cat_file(f"{root}/{upload}") == good()  # the upload is given back
    assert len(stored_files(store)) == 3
    assert session.scalar(select(func.count(Submission.id))) == 1

"""Resolution: each trading day, score the counted submissions of a round; pay out on its last day.

One scoring day of one round is one unit of work, in this order:

1. the counted submissions: each model's latest valid one (on time before late)
2. their predictions from the file store, aligned to the round's archived live ids
3. the day's targets from the feed
4. the meta-model: stake-weighted over the on-time submissions with stake at risk
5. the benchmark: the benchmark models' submissions, stake-weighted (equally
   weighted when none is staked); the example predictions when none submitted
6. every score through the batch engine: CORR, MMC, BMC, FNC, feature exposure
7. the writes: scores and the day's record; on the last day the payouts and
   burns, then the round resolves and due stake decreases are released

Steps 1-6 only read. Step 7 happens inside one SAVEPOINT of the caller's
transaction, after re-reading the round under a row lock: a day already
recorded is skipped (running twice changes nothing), and a failure anywhere
leaves no score, no payout and no day record, so the next run redoes the whole
day exactly once. Nothing here commits.
"""

from __future__ import annotations

import io
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import numpy as np
import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from crowdalpha.scoring import METRICS, score_eras, stake_weighted_meta_model
from crowdalpha.tournament import feed as feed_mod
from crowdalpha.tournament import payouts, rounds, stakes, submissions
from crowdalpha.tournament import store as file_store
from crowdalpha.tournament.clock import Clock, ensure_utc
from crowdalpha.tournament.db import atomic
from crowdalpha.tournament.errors import InvalidValueError, RoundStateError
from crowdalpha.tournament.ledger import ZERO
from crowdalpha.tournament.store import Store
from crowdalpha.tournament.tables import (
    Model,
    ModelKind,
    Round,
    RoundDay,
    RoundPayout,
    RoundStatus,
    Score,
    Submission,
)

#: What is stored for every counted submission on every scoring day.
SCORE_METRICS = METRICS
_READ_THREADS = 8


class TargetSource(Protocol):
    """What resolution needs from the feed: the main target of an era on a day of its horizon."""

    def targets(self, era: str, day: int) -> pd.Series: ...


@dataclass
class DayOutcome:
    """What scoring one day of one round did, and where the time went (seconds)."""

    round_number: int
    day: int
    submissions: int
    resolved: bool
    payouts: dict[str, Decimal] = field(default_factory=dict)  # model name -> signed amount
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Counted:
    """A counted submission with what resolution needs to know about it."""

    submission: Submission
    model: Model
    stake_at_risk: Decimal


def _counted(session: Session, round: Round) -> list[Counted]:
    at_risk = stakes.frozen_stakes(session, round)
    found = submissions.counted_submissions(session, round)
    models = {
        m.id: m
        for m in session.scalars(select(Model).where(Model.id.in_([s.model_id for s in found])))
    }
    return [
        Counted(s, models[s.model_id], ZERO if s.late else at_risk.get(s.model_id, ZERO))
        for s in found
    ]


def read_prediction_matrix(store: Store, paths: list[str], ids: pd.Index) -> np.ndarray:
    """The stored predictions of ``paths`` as an ids x submissions matrix (NaN: id not predicted).

    Reads each submission's scoring copy aligned with ``ids`` when there is one,
    else its stored file, matching ids.
    """
    matrix = np.full((len(ids), len(paths)), np.nan)
    fingerprint = submissions.ids_fingerprint(ids)

    def read(column: int) -> None:
        aligned = submissions.scoring_copy_path(paths[column], fingerprint)
        try:
            with store[0].open(file_store.full_path(store, aligned), "rb") as f:
                vector = np.load(io.BytesIO(f.read()), allow_pickle=False)
            if vector.shape == (len(ids),):
                matrix[:, column] = vector
                return
        except FileNotFoundError:
            pass
        predictions = submissions.read_stored_predictions(store, paths[column])
        positions = ids.get_indexer(predictions.index)
        known = positions >= 0
        matrix[positions[known], column] = predictions.to_numpy(np.float64)[known]

    with ThreadPoolExecutor(_READ_THREADS) as pool:
        list(pool.map(read, range(len(paths))))
    return matrix


def _weighted_reference(
    matrix: np.ndarray, columns: list[int], weights: list[float]
) -> np.ndarray | None:
    if not columns:
        return None
    w = np.asarray(weights, dtype=np.float64)
    if not (w > 0).any():
        w = np.ones(len(columns))
    return stake_weighted_meta_model(matrix[:, columns], w)


def _benchmark(
    counted: list[Counted], matrix: np.ndarray, store: Store, round: Round, ids: pd.Index
) -> np.ndarray:
    columns = [i for i, c in enumerate(counted) if c.model.kind == ModelKind.BENCHMARK]
    weights = [float(counted[i].stake_at_risk) for i in columns]
    reference = _weighted_reference(matrix, columns, weights)
    if reference is not None:
        return reference
    example = feed_mod.round_example_predictions(store, round.number).reindex(ids)
    return example.fillna(example.mean()).to_numpy(np.float64)


def _none_if_nan(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def score_day(
    session: Session,
    store: Store,
    feed: TargetSource,
    round: Round,
    *,
    clock: Clock,
    rules: payouts.PayoutRules | None = None,
) -> DayOutcome | None:
    """Score the next day of ``round`` (closed or scoring); on its last day, pay out and resolve.

    Returns None when the round has nothing left to score (or another run just scored it).
    """
    rules = rules or payouts.PayoutRules()
    if round.status == RoundStatus.RESOLVED:
        return None
    if round.status not in (RoundStatus.CLOSED, RoundStatus.SCORING):
        raise RoundStateError(f"round {round.number} is {round.status}; close it before scoring")
    day = round.scoring_day + 1
    timings: dict[str, float] = {}
    started = time.perf_counter()

    counted = _counted(session, round)
    timings["database_read"] = time.perf_counter() - started

    mark = time.perf_counter()
    live = feed_mod.round_live(store, round.number)
    ids = live.index
    matrix = read_prediction_matrix(store, [c.submission.path for c in counted], ids)
    timings["file_read"] = time.perf_counter() - mark

    mark = time.perf_counter()
    target = feed.targets(round.era, day).reindex(ids).to_numpy(np.float64)
    timings["targets"] = time.perf_counter() - mark

    mark = time.perf_counter()
    scores = _score(counted, matrix, target, live, store, round)
    timings["scoring"] = time.perf_counter() - mark

    mark = time.perf_counter()
    outcome = _record_day(session, round, day, counted, scores, clock=clock, rules=rules)
    timings["database_write"] = time.perf_counter() - mark
    if outcome is not None:
        outcome.timings = timings
    return outcome


@dataclass(frozen=True)
class _DayScores:
    by_submission: pd.DataFrame  # index: position in counted; columns: SCORE_METRICS
    meta_model_corr: float | None
    benchmark_corr: float | None


def _score(
    counted: list[Counted],
    matrix: np.ndarray,
    target: np.ndarray,
    live: pd.DataFrame,
    store: Store,
    round: Round,
) -> _DayScores:
    ids = live.index
    staked = [i for i, c in enumerate(counted) if c.stake_at_risk > 0]
    meta = _weighted_reference(matrix, staked, [float(counted[i].stake_at_risk) for i in staked])
    benchmark = _benchmark(counted, matrix, store, round, ids)
    features = live.drop(columns=["era"]).to_numpy(np.float64)
    per_submission = pd.DataFrame(np.nan, index=range(len(counted)), columns=list(SCORE_METRICS))
    if counted:
        metrics = [m for m in SCORE_METRICS if m != "mmc" or meta is not None]
        tidy = score_eras(matrix, target, meta_model=meta, benchmark=benchmark, features=features,
                          metrics=metrics, models=[str(i) for i in range(len(counted))],
                          on_insufficient="nan")
        table = tidy.pivot(index="model", columns="metric", values="value")
        per_submission = table.reindex(index=[str(i) for i in range(len(counted))],
                                       columns=list(SCORE_METRICS)).set_axis(per_submission.index)
    names = ["benchmark"] if meta is None else ["benchmark", "meta"]
    references = np.column_stack([benchmark] if meta is None else [benchmark, meta])
    reference_corr = score_eras(references, target, metrics=["corr"], models=names)
    corr = dict(zip(reference_corr["model"], reference_corr["value"], strict=True))
    meta_corr = None if meta is None else _none_if_nan(corr["meta"])
    return _DayScores(per_submission, meta_corr, _none_if_nan(corr["benchmark"]))


def _record_day(
    session: Session,
    round: Round,
    day: int,
    counted: list[Counted],
    scores: _DayScores,
    *,
    clock: Clock,
    rules: payouts.PayoutRules,
) -> DayOutcome | None:
    now = ensure_utc(clock.now(), name="clock.now()")
    with atomic(session):
        locked = session.get(Round, round.id, with_for_update=True, populate_existing=True)
        if locked is None or locked.scoring_day >= day or locked.status == RoundStatus.RESOLVED:
            return None
        if locked.scoring_day != day - 1:
            raise InvalidValueError(
                f"round {round.number} was scored through day {locked.scoring_day} meanwhile; "
                f"day {day} cannot be recorded"
            )
        values = scores.by_submission[list(SCORE_METRICS)].to_numpy().tolist()
        rows = [
            {
                "submission_id": c.submission.id,
                "day": day,
                "round_id": round.id,
                "model_id": c.model.id,
                **{m: None if math.isnan(v) else v for m, v in zip(SCORE_METRICS, row, strict=True)},
            }
            for c, row in zip(counted, values, strict=True)
        ]
        if rows:
            session.execute(insert(Score), rows)
        session.add(
            RoundDay(
                round_id=round.id,
                day=day,
                scored_at=now,
                submissions=len(counted),
                staked_submissions=sum(1 for c in counted if c.stake_at_risk > 0),
                total_stake_at_risk=sum((c.stake_at_risk for c in counted), ZERO),
                meta_model_corr=scores.meta_model_corr,
                benchmark_corr=scores.benchmark_corr,
            )
        )
        session.flush()
        final = day == locked.resolves_after_days
        paid: dict[str, Decimal] = {}
        if final:
            paid = _pay_out(session, locked, counted, scores.by_submission, clock=clock, rules=rules)
        rounds.record_scoring_day(session, locked, day, clock=clock)
    return DayOutcome(round.number, day, len(counted), final, paid)


def _pay_out(
    session: Session,
    round: Round,
    counted: list[Counted],
    final: pd.DataFrame,
    *,
    clock: Clock,
    rules: payouts.PayoutRules,
) -> dict[str, Decimal]:
    """Post every staked model's payout or burn for ``round`` and record its inputs."""
    at_risk = stakes.frozen_stakes(session, round)
    on_time = {c.model.id: (i, c) for i, c in enumerate(counted) if not c.submission.late}
    models = {
        m.id: m
        for m in session.scalars(
            select(Model).where(Model.id.in_(list(at_risk))).options(selectinload(Model.account))
        )
    }
    corr: dict[str, float | None] = {}
    mmc: dict[str, float | None] = {}
    for model_id in at_risk:
        if model_id in on_time:
            i, _ = on_time[model_id]
            corr[str(model_id)] = _none_if_nan(final.at[i, "corr"])
            mmc[str(model_id)] = _none_if_nan(final.at[i, "mmc"])
    bases = {str(m): str(models[m].payout_basis) for m in at_risk}
    amounts = payouts.round_payouts(
        {str(m): v for m, v in at_risk.items()}, corr, mmc, bases, rules
    )
    factor = payouts.payout_factor(sum(at_risk.values(), ZERO), rules)
    posted = stakes.settle_round(
        session,
        {models[m]: amounts[str(m)] for m in sorted(at_risk)},
        round_number=round.number,
        clock=clock,
    )
    paid: dict[str, Decimal] = {}
    for model_id in sorted(at_risk):
        model = models[model_id]
        amount, entry = posted[model_id]
        submission = on_time.get(model_id)
        session.add(
            RoundPayout(
                round_id=round.id,
                model_id=model_id,
                submission_id=None if submission is None else submission[1].submission.id,
                stake_at_risk=at_risk[model_id],
                corr=corr.get(str(model_id)),
                mmc=mmc.get(str(model_id)),
                payout_basis=model.payout_basis,
                payout_factor=str(factor),
                amount=amount,
                entry_id=None if entry is None else entry.id,
            )
        )
        paid[model.name] = amount
    session.flush()
    return paid


def round_days(session: Session, round: Round) -> list[RoundDay]:
    """The recorded scoring days of ``round``, in order."""
    return list(
        session.scalars(select(RoundDay).where(RoundDay.round_id == round.id).order_by(RoundDay.day))
    )


def round_scores(session: Session, round: Round) -> pd.DataFrame:
    """Every stored score of ``round``: one row per submission and day, with the model's name."""
    rows = session.execute(
        select(Score, Model.name)
        .join(Model, Model.id == Score.model_id)
        .where(Score.round_id == round.id)
        .order_by(Score.day, Score.model_id)
    ).all()
    return pd.DataFrame(
        [
            {"model": name, "submission_id": s.submission_id, "day": s.day,
             **{m: getattr(s, m) for m in SCORE_METRICS}}
            for s, name in rows
        ],
        columns=["model", "submission_id", "day", *SCORE_METRICS],
    )


def round_results(session: Session, round: Round) -> list[RoundPayout]:
    """The payout records of a resolved round, by model id."""
    return list(
        session.scalars(
            select(RoundPayout).where(RoundPayout.round_id == round.id).order_by(RoundPayout.model_id)
        )
    )


__all__ = [
    "SCORE_METRICS",
    "Counted",
    "DayOutcome",
    "TargetSource",
    "read_prediction_matrix",
    "round_days",
    "round_results",
    "round_scores",
    "score_day",
]

"""Leaderboards: reputation, stake and returns of every model and account, read from the database.

Definitions (docs/architecture.md lists where each rule used here lives):

* A model's **final score** of a round, for a metric, is the value in its
  ``Score`` row of the round's last day (``day == round.resolves_after_days``),
  in a RESOLVED round. Only the counted submission is scored day by day; if
  several submissions of a model have Score rows in one round, the one with a
  row for the final day counts (the others were not scored to the end). Should
  several have final-day rows, the one the counted-submission rule picks counts
  (``submissions.COUNTED_FIRST``: on time before late, then the latest).
  A NULL metric (not computable that round) is NaN: a missing round.
* **Reputation** per metric (corr, mmc, bmc, fnc) is ``reputation.reputation``
  of the model's final scores over the last ``window`` resolved rounds, from
  its first scored round on (missing rounds count as ``missing_penalty``; a
  model that has never been scored on that metric has NaN).
* **Money** is exact ``Decimal``: ``stake`` is the active stake now (as
  ``stakes.stake_now``); ``paid`` sums the positive payout amounts,
  ``burned`` the burns as a positive amount, ``net = paid - burned``;
  ``at_risk`` sums ``stake_at_risk`` over those payouts. ``return_on_stake``
  is ``net / at_risk`` as a **float** (a ratio, not an amount of money, ranked
  like the reputations), NaN when nothing was ever at risk.
* An **account's** reputation per metric is the stake-weighted mean of its
  models' reputations (weights: current stakes), over the models whose
  reputation is a number; equal weights when none of those has a stake.
* **Rank** is the 1-based position in the order of ``sort_by``: highest
  first, NaN last, ties by name. ``now_round`` shows the board as it stood
  once that round resolved: later rounds' scores and payouts are left out
  (stakes are always today's).

Building a board takes a few queries whatever the number of models: rounds,
models, stakes, payout sums, window scores and, when the history is longer
than the window, two for the rounds before it. Before the window only each
metric's first scored round matters (``reputation`` starts its window there,
and that start is before every window round), so only those rows are read.
Nothing here writes or commits.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Row, Select, and_, case, distinct, func, or_, select
from sqlalchemy.orm import Session

from crowdalpha.scoring import METRICS as SCORED_METRICS
from crowdalpha.tournament.errors import InvalidValueError
from crowdalpha.tournament.ledger import ZERO
from crowdalpha.tournament.reputation import (
    DEFAULT_MISSING_PENALTY,
    DEFAULT_WINDOW,
    reputation,
)
from crowdalpha.tournament.submissions import COUNTED_FIRST
from crowdalpha.tournament.tables import (
    Account,
    AccountRole,
    JournalLine,
    LedgerAccount,
    LedgerKind,
    Model,
    ModelKind,
    Round,
    RoundPayout,
    RoundStatus,
    Score,
    Submission,
    parse_enum,
)

#: Metrics with a reputation (and a leaderboard column).
METRICS: tuple[str, ...] = ("corr", "mmc", "bmc", "fnc")
#: Metrics ``final_scores`` can read: the reputation metrics and the feature exposures.
SCORE_METRICS: tuple[str, ...] = SCORED_METRICS
#: Keys a leaderboard can be sorted by: a reputation, the stake, or the return on stake.
SORT_KEYS: tuple[str, ...] = (*METRICS, "stake", "return")


@dataclass(frozen=True)
class ModelRow:
    """One model on the leaderboard; ``*_rep`` are reputations, amounts exact Decimals."""

    rank: int
    model_id: int
    name: str
    account_id: int
    account: str
    kind: ModelKind
    corr_rep: float
    mmc_rep: float
    bmc_rep: float
    fnc_rep: float
    rounds_scored: int  # resolved rounds with a final score, all history
    stake: Decimal  # active stake now
    paid: Decimal  # sum of positive payouts
    burned: Decimal  # sum of burns, as a positive amount
    net: Decimal  # paid - burned
    at_risk: Decimal  # sum of stake_at_risk over the model's payouts
    return_on_stake: float  # net / at_risk; NaN when nothing was at risk

    def rep(self, metric: str) -> float:
        """The reputation on ``metric`` (one of ``METRICS``)."""
        return float(getattr(self, f"{_metric(metric, METRICS, 'metric')}_rep"))


@dataclass(frozen=True)
class AccountRow:
    """One participant account: its models' stakes and returns summed, reputations stake-weighted."""

    rank: int
    account_id: int
    name: str
    models: int
    corr_rep: float
    mmc_rep: float
    bmc_rep: float
    fnc_rep: float
    stake: Decimal
    paid: Decimal
    burned: Decimal
    net: Decimal
    at_risk: Decimal
    return_on_stake: float

    def rep(self, metric: str) -> float:
        """The reputation on ``metric`` (one of ``METRICS``)."""
        return float(getattr(self, f"{_metric(metric, METRICS, 'metric')}_rep"))


# --- arguments -------------------------------------------------------------------


def _metric(value: object, allowed: Sequence[str], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        names = ", ".join(repr(v) for v in allowed)
        raise InvalidValueError(f"{what} {value!r} is not one of {names}")
    return value


def _check_now_round(now_round: object) -> None:
    if now_round is not None and (
        isinstance(now_round, bool) or not isinstance(now_round, int) or now_round < 0
    ):
        raise InvalidValueError(f"now_round {now_round!r} must be a non-negative round number")


def _check_settings(window: object, missing_penalty: object, now_round: object) -> None:
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InvalidValueError(f"reputation window must be at least 1 round, got {window!r}")
    if (
        isinstance(missing_penalty, bool)
        or not isinstance(missing_penalty, int | float)
        or not math.isfinite(missing_penalty)
    ):
        raise InvalidValueError(f"missing_penalty {missing_penalty!r} must be a finite number")
    _check_now_round(now_round)


# --- final scores ----------------------------------------------------------------


def _read(session: Session, stmt: Select[Any]) -> Sequence[Row[Any]]:
    """All rows of ``stmt``, after flushing pending changes (plain Core rows: no ORM overhead)."""
    session.flush()
    return session.connection().execute(stmt).all()


def _resolved_rounds(session: Session, now_round: int | None) -> list[tuple[int, int]]:
    """(id, number) of the resolved rounds up to ``now_round``, oldest first."""
    stmt = select(Round.id, Round.number).where(Round.status == RoundStatus.RESOLVED)
    if now_round is not None:
        stmt = stmt.where(Round.number <= now_round)
    return [(r.id, r.number) for r in _read(session, stmt.order_by(Round.number))]


def _final_rows(metrics: Sequence[str], round_ids: Sequence[int]) -> Select[Any]:
    """Final-day Score rows of the given resolved rounds: model, round number, submission, metrics.

    Driven from the submissions of those rounds so each Score row is found by its
    primary key (submission, day) instead of scanning every scoring day.
    """
    return (
        select(
            Submission.model_id,
            Round.number,
            Submission.id,
            *(getattr(Score, m) for m in metrics),
        )
        .select_from(Submission)
        .join(Round, Round.id == Submission.round_id)
        .join(
            Score,
            and_(Score.submission_id == Submission.id, Score.day == Round.resolves_after_days),
        )
        .where(Submission.round_id.in_(round_ids), Round.status == RoundStatus.RESOLVED)
    )


@dataclass(frozen=True)
class _Final:
    """Final scores as parallel arrays, one entry per (model, round): the counted submission."""

    model_ids: np.ndarray
    numbers: np.ndarray
    values: dict[str, np.ndarray]


def _counted(session: Session, rows: Sequence[Any], metrics: Sequence[str]) -> _Final:
    """Arrays of ``_final_rows`` rows, keeping one row per (model, round): the counted submission."""
    # ids and round numbers are exact in float64 (below 2**53); NULL becomes NaN
    table = np.array(list(map(tuple, rows)), dtype=float).reshape(len(rows), 3 + len(metrics))
    model_ids, numbers, submission_ids = table[:, :3].T.astype(np.int64)
    values = {m: table[:, 3 + i] for i, m in enumerate(metrics)}
    order = np.lexsort((numbers, model_ids))
    same = (np.diff(model_ids[order]) == 0) & (np.diff(numbers[order]) == 0)
    if same.any():
        keep = np.ones(len(rows), dtype=bool)
        losers = _superseded(session, submission_ids[np.union1d(order[:-1][same], order[1:][same])])
        keep[np.isin(submission_ids, list(losers))] = False
        model_ids, numbers = model_ids[keep], numbers[keep]
        values = {m: v[keep] for m, v in values.items()}
    return _Final(model_ids, numbers, values)


def _superseded(session: Session, submission_ids: np.ndarray) -> set[int]:
    """Of submissions sharing a model and round, all but the counted one (``COUNTED_FIRST``)."""
    stmt = (
        select(Submission.id, Submission.model_id, Submission.round_id)
        .where(Submission.id.in_(submission_ids.tolist()))
        .order_by(Submission.model_id, Submission.round_id, *COUNTED_FIRST)
    )
    seen: set[tuple[int, int]] = set()
    losers: set[int] = set()
    for sub_id, model_id, round_id in _read(session, stmt):
        if (model_id, round_id) in seen:
            losers.add(sub_id)
        seen.add((model_id, round_id))
    return losers


def final_scores(
    session: Session, metric: str = "corr", *, now_round: int | None = None
) -> pd.DataFrame:
    """Final scores on ``metric`` of every model in every resolved round (up to ``now_round``).

    Tidy: columns ``model_id``, ``round_number``, ``value`` (float, NaN when the
    metric could not be computed), one row per model and round it was scored
    in, sorted by model then round.
    """
    name = _metric(metric, SCORE_METRICS, "metric")
    _check_now_round(now_round)
    round_ids = [rid for rid, _ in _resolved_rounds(session, now_round)]
    rows = _read(session, _final_rows([name], round_ids)) if round_ids else []
    final = _counted(session, rows, [name])
    frame = pd.DataFrame(
        {"model_id": final.model_ids, "round_number": final.numbers, "value": final.values[name]}
    )
    return frame.sort_values(["model_id", "round_number"], ignore_index=True)


# --- reputation ------------------------------------------------------------------


def _history_before(session: Session, round_ids: Sequence[int]) -> tuple[dict[int, int], list[Any]]:
    """Rounds before the window: per model, how many it was scored in, and the final-score rows
    ``reputation`` needs of them: those of each metric's first scored round.

    A model with two final-day rows in one of these rounds (which the scoring job
    never writes) has all its rows read instead, so that ``_counted`` decides.
    """
    final = and_(Score.submission_id == Submission.id, Score.day == Round.resolves_after_days)
    first = (
        select(
            Submission.model_id.label("model_id"),
            func.count(distinct(Round.number)).label("rounds"),
            func.count().label("score_rows"),
            *(
                func.min(case((getattr(Score, m).is_not(None), Round.number))).label(m)
                for m in METRICS
            ),
        )
        .select_from(Submission)
        .join(Round, Round.id == Submission.round_id)
        .join(Score, final)
        .where(Submission.round_id.in_(round_ids), Round.status == RoundStatus.RESOLVED)
        .group_by(Submission.model_id)
    )
    summary = _read(session, first)
    counts = {row.model_id: row.rounds for row in summary}
    doubled = [row.model_id for row in summary if row.score_rows != row.rounds]
    starts = first.subquery()
    stmt = (
        _final_rows(METRICS, round_ids)
        .join(starts, starts.c.model_id == Submission.model_id)
        .where(or_(*(Round.number == starts.c[m] for m in METRICS)))
    )
    if not doubled:
        return counts, _read(session, stmt)
    rows = [*_read(session, stmt.where(Submission.model_id.not_in(doubled)))]
    rows += _read(session, _final_rows(METRICS, round_ids).where(Submission.model_id.in_(doubled)))
    return counts, rows


@dataclass(frozen=True)
class _Reputations:
    by_model: dict[int, dict[str, float]]
    rounds_scored: dict[int, int]


def _reputations(
    session: Session, *, window: int, missing_penalty: float, now_round: int | None
) -> _Reputations:
    """Each scored model's reputation per metric over the last ``window`` resolved rounds."""
    resolved = _resolved_rounds(session, now_round)
    recent, earlier = resolved[-window:], resolved[:-window]
    recent_numbers = [number for _, number in recent]
    rows = _read(session, _final_rows(METRICS, [rid for rid, _ in recent])) if recent else []
    final = _counted(session, rows, METRICS)
    counts: dict[int, int] = defaultdict(int)
    scores: dict[int, dict[str, dict[int, float]]] = defaultdict(lambda: {m: {} for m in METRICS})
    if earlier:
        earlier_counts, earlier_rows = _history_before(session, [rid for rid, _ in earlier])
        counts.update(earlier_counts)
        before = _counted(session, earlier_rows, METRICS)
        _collect(before, scores)
    _collect(final, scores)
    # reputation() keeps the last `window` resolved rounds from the model's first scored
    # one on: the window's rounds from that one on. So it needs the window's round numbers
    # only, and of the earlier rounds only each metric's first scored one (as read above).
    models, per_model = np.unique(final.model_ids, return_counts=True)
    for model_id, n in zip(models.tolist(), per_model.tolist(), strict=True):
        counts[model_id] += n
    by_model = {
        model_id: {
            m: reputation(
                mapping[m], recent_numbers, window=window, missing_penalty=missing_penalty
            )
            for m in METRICS
        }
        for model_id, mapping in scores.items()
    }
    return _Reputations(by_model, dict(counts))


def _collect(final: _Final, into: dict[int, dict[str, dict[int, float]]]) -> None:
    """Add ``final``'s scores to ``into[model_id][metric][round_number]``."""
    if len(final.model_ids) == 0:
        return
    order = np.lexsort((final.numbers, final.model_ids))
    model_ids = final.model_ids[order]
    numbers = final.numbers[order]
    values = {m: final.values[m][order] for m in METRICS}
    starts = np.flatnonzero(np.r_[True, np.diff(model_ids) != 0]).tolist()
    for start, end in zip(starts, [*starts[1:], len(order)], strict=True):
        mapping = into[int(model_ids[start])]
        rounds = numbers[start:end].tolist()
        for m in METRICS:
            mapping[m].update(zip(rounds, values[m][start:end].tolist(), strict=True))


# --- money -----------------------------------------------------------------------


def _stakes(session: Session) -> dict[int, Decimal]:
    """Active stake of every model with stake movements, by model id (``stakes.stake_now`` for all)."""
    rows = _read(
        session,
        select(LedgerAccount.model_id, func.sum(JournalLine.amount))
        .join(JournalLine, JournalLine.ledger_account_id == LedgerAccount.id)
        .where(LedgerAccount.kind == LedgerKind.STAKE)
        .group_by(LedgerAccount.model_id),
    )
    return {model_id: total for model_id, total in rows if model_id is not None}


@dataclass(frozen=True)
class _Money:
    paid: Decimal = ZERO
    burned: Decimal = ZERO
    at_risk: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.paid - self.burned

    def __add__(self, other: _Money) -> _Money:
        return _Money(
            self.paid + other.paid, self.burned + other.burned, self.at_risk + other.at_risk
        )

    @property
    def return_on_stake(self) -> float:
        return float(self.net / self.at_risk) if self.at_risk > 0 else math.nan


def _payouts(session: Session, now_round: int | None) -> dict[int, _Money]:
    """Paid, burned and at-risk sums of every model's payouts in resolved rounds."""
    amount = RoundPayout.amount
    stmt = (
        select(
            RoundPayout.model_id,
            func.sum(case((amount > 0, amount), else_=0)),
            func.sum(case((amount < 0, amount), else_=0)),
            func.sum(RoundPayout.stake_at_risk),
        )
        .join(Round, Round.id == RoundPayout.round_id)
        .where(Round.status == RoundStatus.RESOLVED)
        .group_by(RoundPayout.model_id)
    )
    if now_round is not None:
        stmt = stmt.where(Round.number <= now_round)
    return {
        model_id: _Money(paid or ZERO, ZERO - (burned or ZERO), at_risk or ZERO)
        for model_id, paid, burned, at_risk in _read(session, stmt)
    }


# --- boards ----------------------------------------------------------------------

_Row = TypeVar("_Row", ModelRow, AccountRow)


def _sort_value(row: ModelRow | AccountRow, sort_by: str) -> float | Decimal:
    if sort_by == "stake":
        return row.stake
    if sort_by == "return":
        return row.return_on_stake
    return row.rep(sort_by)


def ranked(rows: Collection[_Row], sort_by: str = "corr") -> list[_Row]:
    """``rows`` ordered by ``sort_by`` (highest first, NaN last, ties by name), ranked from 1."""
    key_name = _metric(sort_by, SORT_KEYS, "leaderboard sort_by")

    def key(row: _Row) -> tuple[bool, float | Decimal, str]:
        value = _sort_value(row, key_name)
        missing = isinstance(value, float) and math.isnan(value)
        return (missing, 0.0 if missing else -value, row.name)

    return [replace(row, rank=i) for i, row in enumerate(sorted(rows, key=key), start=1)]


def _model_rows(
    session: Session, *, window: int, missing_penalty: float, now_round: int | None
) -> list[ModelRow]:
    """Unranked rows of every model (rank 0)."""
    reps = _reputations(
        session, window=window, missing_penalty=missing_penalty, now_round=now_round
    )
    stakes = _stakes(session)
    money = _payouts(session, now_round)
    models = _read(
        session,
        select(Model.id, Model.name, Model.kind, Account.id, Account.name).join(
            Account, Account.id == Model.account_id
        ),
    )
    unscored = dict.fromkeys(METRICS, math.nan)
    rows = []
    for model_id, name, kind, account_id, account in models:
        rep = reps.by_model.get(model_id, unscored)
        result = money.get(model_id, _Money())
        rows.append(
            ModelRow(
                rank=0,
                model_id=model_id,
                name=name,
                account_id=account_id,
                account=account,
                kind=ModelKind(kind),
                corr_rep=rep["corr"],
                mmc_rep=rep["mmc"],
                bmc_rep=rep["bmc"],
                fnc_rep=rep["fnc"],
                rounds_scored=reps.rounds_scored.get(model_id, 0),
                stake=stakes.get(model_id, ZERO),
                paid=result.paid,
                burned=result.burned,
                net=result.net,
                at_risk=result.at_risk,
                return_on_stake=result.return_on_stake,
            )
        )
    return rows


def model_leaderboard(
    session: Session,
    *,
    window: int = DEFAULT_WINDOW,
    missing_penalty: float = DEFAULT_MISSING_PENALTY,
    sort_by: str = "corr",
    now_round: int | None = None,
    kinds: Collection[ModelKind | str] | None = None,
) -> list[ModelRow]:
    """Every model (or those of ``kinds``) with its reputations, stake and returns, ranked by ``sort_by``."""
    _metric(sort_by, SORT_KEYS, "leaderboard sort_by")
    _check_settings(window, missing_penalty, now_round)
    wanted = None if kinds is None else {parse_enum(ModelKind, k, "model kind") for k in kinds}
    rows = _model_rows(session, window=window, missing_penalty=missing_penalty, now_round=now_round)
    return ranked([r for r in rows if wanted is None or r.kind in wanted], sort_by)


def stake_weighted_reputation(reputations: Sequence[float], stakes: Sequence[Decimal]) -> float:
    """Mean of the non-NaN ``reputations`` weighted by their models' ``stakes``.

    Equal weights when none of those models has a stake; NaN when no reputation
    is a number.
    """
    if len(reputations) != len(stakes):
        raise InvalidValueError(
            f"reputations and stakes differ in length: {len(reputations)} and {len(stakes)}"
        )
    pairs = [(r, s) for r, s in zip(reputations, stakes, strict=True) if not math.isnan(r)]
    if not pairs:
        return math.nan
    total = sum((s for _, s in pairs), ZERO)
    if total <= 0:
        return sum(r for r, _ in pairs) / len(pairs)
    return sum(r * float(s / total) for r, s in pairs)


def account_leaderboard(
    session: Session,
    *,
    window: int = DEFAULT_WINDOW,
    missing_penalty: float = DEFAULT_MISSING_PENALTY,
    sort_by: str = "corr",
    now_round: int | None = None,
) -> list[AccountRow]:
    """Every participant account (the operator left out): its models' stakes and returns summed,
    reputations stake-weighted (``stake_weighted_reputation``), ranked by ``sort_by``."""
    _metric(sort_by, SORT_KEYS, "leaderboard sort_by")
    _check_settings(window, missing_penalty, now_round)
    model_rows = _model_rows(
        session, window=window, missing_penalty=missing_penalty, now_round=now_round
    )
    by_account: dict[int, list[ModelRow]] = defaultdict(list)
    for row in model_rows:
        by_account[row.account_id].append(row)
    accounts = _read(
        session, select(Account.id, Account.name).where(Account.role == AccountRole.PARTICIPANT)
    )
    return ranked([_account_row(aid, name, by_account[aid]) for aid, name in accounts], sort_by)


def _account_row(account_id: int, name: str, models: Sequence[ModelRow]) -> AccountRow:
    stakes = [m.stake for m in models]
    money = sum((_Money(m.paid, m.burned, m.at_risk) for m in models), _Money())
    reps: Mapping[str, float] = {
        metric: stake_weighted_reputation([m.rep(metric) for m in models], stakes)
        for metric in METRICS
    }
    return AccountRow(
        rank=0,
        account_id=account_id,
        name=name,
        models=len(models),
        corr_rep=reps["corr"],
        mmc_rep=reps["mmc"],
        bmc_rep=reps["bmc"],
        fnc_rep=reps["fnc"],
        stake=sum(stakes, ZERO),
        paid=money.paid,
        burned=money.burned,
        net=money.net,
        at_risk=money.at_risk,
        return_on_stake=money.return_on_stake,
    )


__all__ = [
    "METRICS",
    "SCORE_METRICS",
    "SORT_KEYS",
    "AccountRow",
    "ModelRow",
    "account_leaderboard",
    "final_scores",
    "model_leaderboard",
    "ranked",
    "stake_weighted_reputation",
]

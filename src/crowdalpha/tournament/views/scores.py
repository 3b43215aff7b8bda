"""A model's scores as every screen reads them: by round and scoring day, with percentiles,
what each round pays or would pay, and an account's payouts.

A model has one ``Score`` row per scoring day of each round it has a counted
submission in (resolution scores each model's counted submission once a day).
Should a day hold rows of two of its submissions, the counted one is read
(``submissions.COUNTED_FIRST``).

A score's **percentile** is its rank among the counted submissions scored the
same day of the same round on the same metric: ``(below + equal / 2) / n``, the
score itself among the ``n`` (and the ``equal``), so it lies in (0, 1) and is 0.5
for a lone submission; None when the score is None. It ranks the value upwards
whatever the metric: for feature exposure, high means more exposed.

**Payouts** are per model, round and day: a resolved round's is the
``RoundPayout`` posted; an unresolved round's is what ``payouts.projected_payout``
gives on that day's CORR and MMC with the round's payout factor; neither for a
model without stake at risk (none staked, or only a late submission).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from crowdalpha.tournament import payouts
from crowdalpha.tournament.ledger import ZERO
from crowdalpha.tournament.payouts import PayoutRules
from crowdalpha.tournament.resolution import SCORE_METRICS
from crowdalpha.tournament.submissions import COUNTED_FIRST
from crowdalpha.tournament.tables import (
    Account,
    Model,
    PayoutBasis,
    Round,
    RoundDay,
    RoundPayout,
    RoundStake,
    RoundStatus,
    Score,
    Submission,
)
from crowdalpha.tournament.views.rounds import PayoutFactors

_UNRESOLVED = (RoundStatus.CLOSED, RoundStatus.SCORING)


def _number(value: float | None) -> float | None:
    """A score as shown: None for a missing or NaN value."""
    return None if value is None or math.isnan(value) else float(value)


@dataclass(frozen=True)
class DayScores:
    """One scoring day of a model in a round: its counted submission's scores (and percentiles,
    when asked for)."""

    round: Round
    submission_id: int
    submission_public_id: str
    late: bool
    day: int
    scored_at: datetime
    values: dict[str, float | None]
    percentiles: dict[str, float | None] = field(default_factory=dict)


def _filtered(stmt: Select[Any], day: int | None, resolved: bool | None) -> Select[Any]:
    if day is not None:
        stmt = stmt.where(Score.day == day)
    if resolved is not None:
        resolved_round = Round.status == RoundStatus.RESOLVED
        stmt = stmt.where(resolved_round if resolved else ~resolved_round)
    return stmt


def score_percentiles(
    session: Session, model: Model, *, day: int | None = None, resolved: bool | None = None
) -> dict[tuple[int, int], dict[str, float | None]]:
    """Percentile of each of ``model``'s scores, by (submission id, day): one aggregate query
    over every counted submission scored the same round and day (the model's own included)."""
    other = aliased(Score)
    columns = []
    for m in SCORE_METRICS:
        mine, theirs = getattr(Score, m), getattr(other, m)
        columns += [
            func.count(theirs),
            func.sum(case((theirs < mine, 1), else_=0)),
            func.sum(case((theirs == mine, 1), else_=0)),
        ]
    stmt = (
        select(Score.submission_id, Score.day, *columns)
        .join(other, and_(other.round_id == Score.round_id, other.day == Score.day))
        .join(Round, Round.id == Score.round_id)
        .where(Score.model_id == model.id)
        .group_by(Score.submission_id, Score.day)
    )
    out: dict[tuple[int, int], dict[str, float | None]] = {}
    for row in session.execute(_filtered(stmt, day, resolved)):
        found: dict[str, float | None] = {}
        for i, m in enumerate(SCORE_METRICS):
            n, below, equal = row[2 + 3 * i : 5 + 3 * i]
            found[m] = (below + equal / 2) / n if n and equal else None
        out[(row[0], row[1])] = found
    return out


def model_day_scores(
    session: Session, model: Model, *, day: int | None = None, resolved: bool | None = None,
    percentiles: bool = False,
) -> list[DayScores]:
    """``model``'s scoring days, oldest round and day first: each day's counted submission
    (one query, two with ``percentiles``)."""
    stmt = (
        select(Score, Submission.public_id, Submission.late, Round, RoundDay.scored_at)
        .join(Submission, Submission.id == Score.submission_id)
        .join(Round, Round.id == Score.round_id)
        .join(RoundDay, and_(RoundDay.round_id == Score.round_id, RoundDay.day == Score.day))
        .where(Score.model_id == model.id)
        .order_by(Round.number, Score.day, *COUNTED_FIRST)
    )
    ranks = score_percentiles(session, model, day=day, resolved=resolved) if percentiles else {}
    days: dict[tuple[int, int], DayScores] = {}
    for score, public_id, late, round, scored_at in session.execute(_filtered(stmt, day, resolved)):
        days.setdefault((round.number, score.day), DayScores(
            round=round, submission_id=score.submission_id, submission_public_id=public_id,
            late=late, day=score.day, scored_at=scored_at,
            values={m: _number(getattr(score, m)) for m in SCORE_METRICS},
            percentiles=ranks.get((score.submission_id, score.day), {}),
        ))
    return list(days.values())


# --- a model's rounds ------------------------------------------------------------


@dataclass
class RoundPerformance:
    """A round ``model`` has a counted submission in: its scoring days (oldest first), what
    it has at risk, and what it pays (settled) or would pay (pending) on each day."""

    round: Round
    model: Model
    days: list[DayScores]
    at_risk: Decimal | None  # None: nothing at risk (no on-time submission, or never staked)
    settled: RoundPayout | None
    factor: Decimal | None
    rules: PayoutRules

    @property
    def resolved(self) -> bool:
        return self.round.status == RoundStatus.RESOLVED

    @property
    def basis(self) -> PayoutBasis:
        """What the round pays the model on: as posted once settled, else the model's choice."""
        chosen = self.settled.payout_basis if self.settled is not None else self.model.payout_basis
        return PayoutBasis(chosen)

    @property
    def latest(self) -> DayScores | None:
        return self.days[-1] if self.days else None

    @property
    def final(self) -> DayScores | None:
        """The scores of the round's last day, once it resolved (None before)."""
        last = self.latest
        if not self.resolved or last is None or last.day != self.round.resolves_after_days:
            return None
        return last

    def payout_on(self, day: DayScores) -> tuple[Decimal | None, Decimal | None]:
        """(pending, settled) payout of ``day``: the posted payout once the round resolved,
        else what its CORR and MMC would pay."""
        if self.resolved:
            return None, None if self.settled is None else self.settled.amount
        if self.at_risk is None or day.late or self.factor is None:
            return None, None
        pending = payouts.projected_payout(
            self.at_risk, day.values["corr"], day.values["mmc"], str(self.basis), self.factor,
            self.rules,
        )
        return pending, None


def model_round_performances(
    session: Session, model: Model, rules: PayoutRules, *, percentiles: bool = False
) -> list[RoundPerformance]:
    """Every round ``model`` has a valid submission in, newest first (an open round with no
    days), with its days, stake at risk, payout factor and settled payout."""
    on_time: dict[int, bool] = {}
    by_number: dict[int, Round] = {}
    for round, late in session.execute(
        select(Round, Submission.late).join(Submission, Submission.round_id == Round.id)
        .where(Submission.model_id == model.id, Submission.valid)
    ):
        by_number[round.number] = round
        on_time[round.number] = on_time.get(round.number, False) or not late
    days: dict[int, list[DayScores]] = defaultdict(list)
    for d in model_day_scores(session, model, percentiles=percentiles):
        days[d.round.number].append(d)
    staked = dict(session.execute(
        select(RoundStake.round_id, RoundStake.stake_at_risk).where(RoundStake.model_id == model.id)
    ).all())
    settled = {
        p.round_id: p
        for p in session.scalars(select(RoundPayout).where(RoundPayout.model_id == model.id))
    }
    factors = PayoutFactors(session, rules)
    return [
        RoundPerformance(
            round=round, model=model, days=days[number],
            # the counted submission is on time if any valid one is; a late one risks nothing
            at_risk=staked.get(round.id) if on_time[number] else None,
            settled=settled.get(round.id), factor=factors(round), rules=rules,
        )
        for number, round in sorted(by_number.items(), reverse=True)
    ]


# --- an account's payouts --------------------------------------------------------


@dataclass(frozen=True)
class ModelPayout:
    """A payout of one of an account's models in one round: posted, or pending (projected)."""

    round: Round
    model: Model
    amount: Decimal


def account_payouts(
    session: Session, account: Account, rules: PayoutRules
) -> tuple[list[ModelPayout], list[ModelPayout]]:
    """The account's payouts, newest round first: ``actual`` posted in resolved rounds, and
    ``pending``, what each staked model's latest scores would pay in the rounds still scoring
    (0 before day 1, or without an on-time submission, as resolution would pay)."""
    owned = {
        m.id: m for m in session.scalars(select(Model).where(Model.account_id == account.id))
    }
    if not owned:
        return [], []
    actual = [
        ModelPayout(round, owned[p.model_id], p.amount)
        for p, round in session.execute(
            select(RoundPayout, Round)
            .join(Round, Round.id == RoundPayout.round_id)
            .where(RoundPayout.model_id.in_(list(owned)))
            .order_by(Round.number.desc(), RoundPayout.model_id)
        )
    ]
    latest = (
        select(RoundStake.model_id, RoundStake.stake_at_risk, Round, Score.corr, Score.mmc,
               Submission.late)
        .join(Round, Round.id == RoundStake.round_id)
        .outerjoin(Score, and_(Score.round_id == Round.id, Score.model_id == RoundStake.model_id,
                               Score.day == Round.scoring_day))
        .outerjoin(Submission, Submission.id == Score.submission_id)
        .where(RoundStake.model_id.in_(list(owned)), Round.status.in_(_UNRESOLVED))
        .order_by(Round.number.desc(), RoundStake.model_id, *COUNTED_FIRST)
    )
    factors = PayoutFactors(session, rules)
    pending: dict[tuple[int, int], ModelPayout] = {}
    for model_id, stake, round, corr, mmc, late in session.execute(latest):
        if (round.number, model_id) in pending:
            continue
        model = owned[model_id]
        factor = factors(round)
        amount = ZERO
        if not late and factor is not None:
            amount = payouts.projected_payout(stake, _number(corr), _number(mmc),
                                              str(model.payout_basis), factor, rules)
        pending[(round.number, model_id)] = ModelPayout(round, model, amount)
    return actual, list(pending.values())


__all__ = [
    "DayScores",
    "ModelPayout",
    "RoundPerformance",
    "account_payouts",
    "model_day_scores",
    "model_round_performances",
    "score_percentiles",
]

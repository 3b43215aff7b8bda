"""A model as its page shows it: its rounds with their scores by day, its stake history,
its payouts and its newest score."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdalpha.tournament import ledger
from crowdalpha.tournament.ledger import ZERO
from crowdalpha.tournament.tables import (
    JournalEntry,
    JournalLine,
    Model,
    Round,
    RoundPayout,
    RoundStake,
    RoundStatus,
    Score,
)
from crowdalpha.tournament.views.scores import model_day_scores


@dataclass
class RoundLine:
    """A model's scores in one round, by day (each day's counted submission), with its stake
    frozen at the close."""

    number: int
    status: RoundStatus
    days: int  # resolves_after_days
    submission_id: int  # the counted submission of the newest day
    late: bool
    by_day: dict[int, dict[str, float | None]] = field(default_factory=dict)
    stake_at_risk: Decimal | None = None

    @property
    def last_day(self) -> int:
        return max(self.by_day)

    @property
    def latest(self) -> dict[str, float | None]:
        return self.by_day[self.last_day]

    @property
    def final(self) -> dict[str, float | None] | None:
        """Its final scores: those of the last day of a resolved round (None before)."""
        if self.status != RoundStatus.RESOLVED:
            return None
        return self.by_day.get(self.days)


def model_rounds(session: Session, model: Model) -> list[RoundLine]:
    """Every round ``model`` was scored in, oldest first (two queries)."""
    lines: dict[int, RoundLine] = {}
    for d in model_day_scores(session, model):
        r = d.round
        line = lines.get(r.number)
        if line is None:
            line = lines[r.number] = RoundLine(
                r.number, RoundStatus(r.status), r.resolves_after_days, d.submission_id, d.late
            )
        line.by_day[d.day] = dict(d.values)
        line.submission_id, line.late = d.submission_id, d.late
    at_risk = dict(session.execute(
        select(Round.number, RoundStake.stake_at_risk)
        .join(RoundStake, RoundStake.round_id == Round.id)
        .where(RoundStake.model_id == model.id)
    ).all())
    for number, line in lines.items():
        line.stake_at_risk = at_risk.get(number)
    return [lines[n] for n in sorted(lines)]


@dataclass(frozen=True)
class StakeMove:
    """One movement of a model's active stake and the stake after it."""

    at: datetime
    kind: str
    round_number: int | None
    change: Decimal
    stake: Decimal


def stake_moves(session: Session, model: Model) -> list[StakeMove]:
    """Every journal line on the model's stake account, oldest first, with the running stake."""
    account = ledger.stake_account_of(session, model)
    rows = session.execute(
        select(JournalEntry.created_at, JournalEntry.kind, JournalEntry.round_number,
               JournalLine.amount)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalLine.ledger_account_id == account.id)
        .order_by(JournalEntry.id)
    ).all()
    moves, running = [], ZERO
    for at, kind, number, amount in rows:
        running += amount
        moves.append(StakeMove(at, str(kind).replace("_", " "), number, amount, running))
    return moves


def model_payouts(session: Session, model: Model) -> list[tuple[RoundPayout, int]]:
    """The payouts and burns posted to ``model``, newest round first, with the round number."""
    return [
        (payout, number)
        for payout, number in session.execute(
            select(RoundPayout, Round.number)
            .join(Round, Round.id == RoundPayout.round_id)
            .where(RoundPayout.model_id == model.id)
            .order_by(Round.number.desc())
        )
    ]


@dataclass(frozen=True)
class LatestScore:
    """A model's newest score: round, day, CORR and MMC."""

    round_number: int
    day: int
    corr: float | None
    mmc: float | None


def latest_score(session: Session, model: Model) -> LatestScore | None:
    """The newest scoring day of ``model`` (None before its first)."""
    row = session.execute(
        select(Round.number, Score.day, Score.corr, Score.mmc)
        .join(Round, Round.id == Score.round_id)
        .where(Score.model_id == model.id)
        .order_by(Round.number.desc(), Score.day.desc())
        .limit(1)
    ).first()
    return None if row is None else LatestScore(*row)


__all__ = [
    "LatestScore",
    "RoundLine",
    "StakeMove",
    "latest_score",
    "model_payouts",
    "model_rounds",
    "stake_moves",
]

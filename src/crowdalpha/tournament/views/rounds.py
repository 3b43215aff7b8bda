"""Rounds as the screens list and show them: the listing with its counts, a round's board
(its counted submissions, stakes, newest scores, results), the meta-model's contributors,
the tournament's overview and the payout factor.

Counts follow the counted-submission rule: a round's ``models`` are the models with a
valid submission in it (each has exactly one counted submission). Stakes of an open
round are shown as they would be frozen now (``stakes.stakes_as_of``); of a closed
round, as frozen at its close (``stakes.frozen_stakes``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdalpha.tournament import resolution, rounds, stakes
from crowdalpha.tournament.ledger import ZERO
from crowdalpha.tournament.payouts import PayoutRules, payout_factor
from crowdalpha.tournament.resolution import SCORE_METRICS
from crowdalpha.tournament.submissions import counted_submissions
from crowdalpha.tournament.tables import (
    Account,
    AccountRole,
    Model,
    ModelKind,
    Money,
    Round,
    RoundDay,
    RoundPayout,
    RoundStake,
    RoundStatus,
    Submission,
)
from crowdalpha.tournament.views.money import MoneyTotals, money_totals


def round_payout_factor(session: Session, round: Round, rules: PayoutRules) -> Decimal | None:
    """The round's payout factor: fixed at the close by the total stake at risk (None while
    open); a resolved round's is the one its payouts were posted with."""
    if round.status == RoundStatus.OPEN:
        return None
    if round.status == RoundStatus.RESOLVED:
        text = session.scalar(
            select(RoundPayout.payout_factor).where(RoundPayout.round_id == round.id).limit(1)
        )
        if text is not None:
            return Decimal(text)
    total = session.scalar(
        select(func.coalesce(func.sum(RoundStake.stake_at_risk), 0)).where(
            RoundStake.round_id == round.id
        )
    )
    return payout_factor(Decimal(total or 0), rules)


class PayoutFactors:
    """``round_payout_factor`` of rounds, each read once (for one request or command)."""

    def __init__(self, session: Session, rules: PayoutRules) -> None:
        self.session = session
        self.rules = rules
        self._known: dict[int, Decimal | None] = {}

    def __call__(self, round: Round) -> Decimal | None:
        if round.id not in self._known:
            self._known[round.id] = round_payout_factor(self.session, round, self.rules)
        return self._known[round.id]


def next_scoring_day_due(round: Round) -> datetime | None:
    """When the round's next scoring day is due; None while open and once fully scored."""
    if round.status == RoundStatus.OPEN or round.scoring_day >= round.resolves_after_days:
        return None
    return rounds.scoring_day_due(round, round.scoring_day + 1)


# --- the listing -----------------------------------------------------------------


@dataclass(frozen=True)
class RoundSummary:
    """A round in the listing: how many models have a counted submission, and the total stake
    frozen at its close (None before it closes, or when nothing was staked)."""

    round: Round
    models: int
    at_risk: Decimal | None


def round_listing(session: Session) -> list[RoundSummary]:
    """Every round, oldest first, with its counts (three queries)."""
    models = dict(session.execute(
        select(Submission.round_id, func.count(func.distinct(Submission.model_id)))
        .where(Submission.valid)
        .group_by(Submission.round_id)
    ).all())
    at_risk = dict(session.execute(
        select(RoundStake.round_id, func.sum(RoundStake.stake_at_risk, type_=Money()))
        .group_by(RoundStake.round_id)
    ).all())
    return [
        RoundSummary(r, models.get(r.id, 0), at_risk.get(r.id))
        for r in session.scalars(select(Round).order_by(Round.number))
    ]


# --- the tournament's overview -----------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """The tournament at a glance: the open round, the rounds scoring, the last resolved one,
    how many participants and models, and the money."""

    current: Round | None
    scoring: list[Round]
    last_resolved: Round | None
    accounts: int
    models: int
    totals: MoneyTotals


def overview(session: Session) -> Overview:
    """What the home page shows."""
    last_resolved = session.scalars(
        select(Round).where(Round.status == RoundStatus.RESOLVED)
        .order_by(Round.number.desc()).limit(1)
    ).first()
    accounts = session.scalar(
        select(func.count()).select_from(Account).where(Account.role == AccountRole.PARTICIPANT)
    )
    models = session.scalar(
        select(func.count()).select_from(Model).where(Model.kind == ModelKind.PARTICIPANT)
    )
    return Overview(
        current=rounds.current_round(session),
        scoring=rounds.rounds_scoring(session),
        last_resolved=last_resolved,
        accounts=accounts or 0,
        models=models or 0,
        totals=money_totals(session),
    )


# --- a round's board -----------------------------------------------------------------


def shown_stakes(session: Session, round: Round, now: datetime) -> dict[int, Decimal]:
    """The stakes a round's screens show, by model id: frozen at its close once closed; while
    it is open, what would be frozen if it closed ``now``."""
    if round.status == RoundStatus.OPEN:
        return stakes.stakes_as_of(session, at=now)
    return stakes.frozen_stakes(session, round)


@dataclass
class BoardRow:
    """A model's counted submission in a round, with its stake and newest scores."""

    model: str
    kind: ModelKind
    submitted_at: datetime
    late: bool
    stake: Decimal
    day: int | None = None
    scores: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RoundBoard:
    """Everything a round's page shows: counted submissions largest stake first, each model's
    CORR path by day (``paths``, for the ``paths_for`` largest), the days scored with the
    meta-model and benchmark, the payout factor and the posted payouts (with model names)."""

    round: Round
    rows: list[BoardRow]
    all_submissions: int
    total_at_risk: Decimal
    days: list[RoundDay]
    factor: Decimal | None
    results: list[tuple[str, RoundPayout]]
    paths: dict[str, list[tuple[int, float | None]]]
    next_day_due: datetime | None


def round_board(
    session: Session, round: Round, *, now: datetime, rules: PayoutRules, paths_for: int
) -> RoundBoard:
    """The board of ``round`` (as of ``now`` for an open round's stakes)."""
    counted = counted_submissions(session, round)
    all_submissions = session.scalar(
        select(func.count()).select_from(Submission).where(Submission.round_id == round.id)
    ) or 0
    names = {
        model_id: (name, ModelKind(kind))
        for model_id, name, kind in session.execute(
            select(Model.id, Model.name, Model.kind).where(
                Model.id.in_([s.model_id for s in counted])
            )
        )
    }
    staked = shown_stakes(session, round, now)
    scores = resolution.round_scores(session, round)
    latest: dict[int, tuple[int, dict[str, float | None]]] = {}
    for row in scores.itertuples(index=False):
        held = latest.get(row.submission_id)
        if held is None or row.day > held[0]:
            latest[int(row.submission_id)] = (
                int(row.day), {m: getattr(row, m) for m in SCORE_METRICS}
            )
    rows = []
    for sub in counted:
        name, kind = names[sub.model_id]
        day, values = latest.get(sub.id, (None, dict.fromkeys(SCORE_METRICS)))
        rows.append(BoardRow(
            model=name, kind=kind, submitted_at=sub.created_at, late=sub.late,
            stake=ZERO if sub.late else staked.get(sub.model_id, ZERO), day=day, scores=values,
        ))
    rows.sort(key=lambda r: (-r.stake, r.model))
    results = resolution.round_results(session, round)
    result_names = dict(session.execute(
        select(Model.id, Model.name).where(Model.id.in_([p.model_id for p in results]))
    ).all())
    drawn = {r.model for r in rows[:paths_for]}
    paths: dict[str, list[tuple[int, float | None]]] = defaultdict(list)
    for row in scores.itertuples(index=False):
        if row.model in drawn:
            paths[row.model].append((int(row.day), row.corr))
    return RoundBoard(
        round=round,
        rows=rows,
        all_submissions=all_submissions,
        total_at_risk=sum((r.stake for r in rows), ZERO),
        days=resolution.round_days(session, round),
        factor=round_payout_factor(session, round, rules),
        results=[(result_names[p.model_id], p) for p in results],
        paths={name: paths[name] for name in sorted(paths)},
        next_day_due=next_scoring_day_due(round),
    )


# --- the meta-model --------------------------------------------------------------------


@dataclass(frozen=True)
class Contributor:
    """A staked submission in the meta-model and its weight (its share of the stakes)."""

    model: str
    account: str
    stake: Decimal
    weight: float


@dataclass(frozen=True)
class Contributors:
    """Who makes up a round's meta-model: the largest ``top`` of them, all stakes' total and
    how many there are."""

    top: list[Contributor]
    total: Decimal
    count: int


def contributors(session: Session, round: Round, *, now: datetime, top: int) -> Contributors:
    """``round``'s meta-model: its on-time counted submissions with a stake (``shown_stakes``),
    largest first."""
    staked = shown_stakes(session, round, now)
    weights = {
        s.model_id: staked[s.model_id]
        for s in counted_submissions(session, round)
        if not s.late and staked.get(s.model_id, ZERO) > 0
    }
    total = sum(weights.values(), ZERO)
    names = {
        model_id: (name, account)
        for model_id, name, account in session.execute(
            select(Model.id, Model.name, Account.name)
            .join(Account, Account.id == Model.account_id)
            .where(Model.id.in_(list(weights)))
        )
    }
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], names[kv[0]][0]))
    return Contributors(
        [Contributor(names[m][0], names[m][1], value, float(value / total))
         for m, value in ranked[:top]],
        total,
        len(weights),
    )


def meta_model_history(session: Session, *, last: int) -> list[tuple[Round, list[RoundDay]]]:
    """The newest ``last`` rounds with a scored day, newest first, each with its days."""
    recent = list(session.scalars(
        select(Round.number)
        .join(RoundDay, RoundDay.round_id == Round.id)
        .group_by(Round.number)
        .order_by(Round.number.desc())
        .limit(last)
    ))
    if not recent:
        return []
    by_round: dict[int, tuple[Round, list[RoundDay]]] = {}
    for r, day in session.execute(
        select(Round, RoundDay)
        .join(RoundDay, RoundDay.round_id == Round.id)
        .where(Round.number.in_(recent))
        .order_by(Round.number.desc(), RoundDay.day)
    ):
        by_round.setdefault(r.number, (r, []))[1].append(day)
    return list(by_round.values())


def newest_round(session: Session) -> Round | None:
    """The open round, else the newest round of all (None before the first)."""
    return rounds.current_round(session) or session.scalars(
        select(Round).order_by(Round.number.desc()).limit(1)
    ).first()


__all__ = [
    "BoardRow",
    "Contributor",
    "Contributors",
    "Overview",
    "PayoutFactors",
    "RoundBoard",
    "RoundSummary",
    "contributors",
    "meta_model_history",
    "newest_round",
    "next_scoring_day_due",
    "overview",
    "round_board",
    "round_listing",
    "round_payout_factor",
    "shown_stakes",
]

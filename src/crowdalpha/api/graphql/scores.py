"""Scores and payouts as numerapi reads them: ``submissionScores``, ``v2RoundModelPerformances``,
``pendingModelPayouts`` and ``UserProfile.dailyModelPerformances``.

Every ``Score`` column is one score row, named as Numerai names the closest
score (``DISPLAY_NAMES``), all of ``version`` "1":

    corr   -> "v2_corr20"              CORR on the main target (20-day horizon)
    mmc    -> "mmc"                    MMC against the stake-weighted meta-model
    bmc    -> "bmc"                    BMC against the benchmark
    fnc    -> "fnc_v4"                 feature-neutral CORR
    fe_max -> "feature_exposure_max"   max |corr(prediction, feature)|
    fe_rms -> "feature_exposure_rms"   RMS of |corr(prediction, feature)|

A model has one score row per metric per scoring day of each round it has a
counted submission in (the scoring job scores each model's counted submission
once a day). ``date`` is when the day was scored; ``resolveDate`` and
``roundResolveTime`` when the round's last day is due; ``resolved`` whether the
round has resolved (its scores are final).

``percentile`` is the score's percentile rank among the counted submissions
scored that day of that round on that metric: ``(below + equal / 2) / n``, the
score itself among the ``n`` (and the ``equal``), so it lies in (0, 1) and is
0.5 for a lone submission; None when the score is None. It ranks the value
upwards whatever the metric: for feature exposure, high means more exposed.

``v2RoundModelPerformances`` lists every round the model has a counted
submission in, newest first (an open round with empty score lists):
``submissionScores`` holds the latest day's rows, ``intraRoundSubmissionScores``
every day's. Payouts are per model, round and day, not per metric, so every
score row of a day carries the same amounts: ``payoutPending`` (unresolved
rounds) is what ``payouts.payout_amount`` gives on that day's CORR and MMC with
the round's payout factor, ``payoutSettled`` (resolved rounds) the
``RoundPayout`` posted; both None for a model without stake at risk (none
staked, or only a late submission).

Money is counted in the tournament's token. numerapi users know it as "NMR",
so that is the ``currencySymbol`` of every payout; there is no exchange rate
here, so ``payoutValue`` equals ``payoutNmr``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from ariadne import ObjectType, QueryType
from graphql import GraphQLResolveInfo
from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import aliased

from crowdalpha.api.graphql.common import (
    check_tournament,
    context,
    model_by_public_id,
    payout_factor_of,
    score_configs,
)
from crowdalpha.server.context import RequestContext
from crowdalpha.tournament import leaderboard, payouts, rounds
from crowdalpha.tournament import models as models_mod
from crowdalpha.tournament.errors import InvalidValueError
from crowdalpha.tournament.feed import MAIN_TARGET
from crowdalpha.tournament.ledger import ZERO
from crowdalpha.tournament.reputation import (
    DEFAULT_MISSING_PENALTY,
    DEFAULT_WINDOW,
    reputation,
)
from crowdalpha.tournament.resolution import SCORE_METRICS
from crowdalpha.tournament.tables import (
    Model,
    ModelKind,
    PayoutBasis,
    Round,
    RoundDay,
    RoundPayout,
    RoundStake,
    RoundStatus,
    Score,
    Submission,
)

query = QueryType()
user_profile = ObjectType("UserProfile")

#: ``Score`` column -> the ``displayName`` of its score rows.
DISPLAY_NAMES: dict[str, str] = {
    "corr": "v2_corr20",
    "mmc": "mmc",
    "bmc": "bmc",
    "fnc": "fnc_v4",
    "fe_max": "feature_exposure_max",
    "fe_rms": "feature_exposure_rms",
}
#: The ``version`` of every score row.
VERSION = "1"
#: What payouts are counted in, as numerapi users call it.
CURRENCY = "NMR"
#: Score configurations (``common.score_configs`` names) each payout basis pays on.
PAID_ON: dict[PayoutBasis, tuple[str, ...]] = {
    PayoutBasis.CORR: ("corr",),
    PayoutBasis.CORR_MMC: ("corr", "mmc"),
}
#: Reputations in ``dailyModelPerformances``, each with its own rank.
DAILY_METRICS: tuple[str, ...] = ("corr", "mmc", "fnc")

_METRIC_OF_NAME = {name: metric for metric, name in DISPLAY_NAMES.items()}
_UNSCORED = (RoundStatus.CLOSED, RoundStatus.SCORING)


def _number(value: float | None) -> float | None:
    """A float for GraphQL: None for a missing or NaN value."""
    return None if value is None or math.isnan(value) else float(value)


# --- reading a model's scores ----------------------------------------------------


@dataclass(frozen=True)
class DayScores:
    """One scoring day of a model in a round: its counted submission's scores and percentiles."""

    round: Round
    submission_id: str  # public id
    late: bool
    day: int
    scored_at: datetime
    values: dict[str, float | None]
    percentiles: dict[str, float | None]


def _filtered(stmt: Select[Any], day: int | None, resolved: bool | None) -> Select[Any]:
    if day is not None:
        stmt = stmt.where(Score.day == day)
    if resolved is not None:
        resolved_round = Round.status == RoundStatus.RESOLVED
        stmt = stmt.where(resolved_round if resolved else ~resolved_round)
    return stmt


def _percentiles(
    ctx: RequestContext, model: Model, day: int | None, resolved: bool | None
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
    for row in ctx.session.execute(_filtered(stmt, day, resolved)):
        found: dict[str, float | None] = {}
        for i, m in enumerate(SCORE_METRICS):
            n, below, equal = row[2 + 3 * i : 5 + 3 * i]
            found[m] = (below + equal / 2) / n if n and equal else None
        out[(row[0], row[1])] = found
    return out


def model_day_scores(
    ctx: RequestContext, model: Model, *, day: int | None = None, resolved: bool | None = None
) -> list[DayScores]:
    """``model``'s scoring days, oldest round and day first (two queries)."""
    stmt = (
        select(Score, Submission.public_id, Submission.late, Round, RoundDay.scored_at)
        .join(Submission, Submission.id == Score.submission_id)
        .join(Round, Round.id == Score.round_id)
        .join(RoundDay, and_(RoundDay.round_id == Score.round_id, RoundDay.day == Score.day))
        .where(Score.model_id == model.id)
        # one counted submission a day; should there be two, the one latest_submission picks
        .order_by(Round.number, Score.day, Submission.late, Submission.created_at.desc(),
                  Submission.id.desc())
    )
    percentiles = _percentiles(ctx, model, day, resolved)
    days: dict[tuple[int, int], DayScores] = {}
    rows = ctx.session.execute(_filtered(stmt, day, resolved))
    for score, public_id, late, round, scored_at in rows:
        days.setdefault((round.number, score.day), DayScores(
            round=round, submission_id=public_id, late=late, day=score.day, scored_at=scored_at,
            values={m: _number(getattr(score, m)) for m in SCORE_METRICS},
            percentiles=percentiles.get((score.submission_id, score.day), {}),
        ))
    return list(days.values())


def resolve_time(round: Round) -> datetime:
    """When the round's last scoring day is due."""
    return rounds.scoring_day_due(round, round.resolves_after_days)


# --- submissionScores ------------------------------------------------------------


def _check_filters(
    displayName: str | None, version: str | None, day: int | None, lastNRounds: int | None
) -> None:
    if displayName is not None and displayName not in _METRIC_OF_NAME:
        names = ", ".join(repr(n) for n in DISPLAY_NAMES.values())
        raise InvalidValueError(f"displayName {displayName[:60]!r} is not one of {names}")
    if version is not None and version != VERSION:
        raise InvalidValueError(
            f"version {version[:20]!r} does not exist; scores have version {VERSION!r}"
        )
    if day is not None and day < 1:
        raise InvalidValueError(f"day {day} must be a scoring day, 1 or more")
    if lastNRounds is not None and lastNRounds < 0:
        raise InvalidValueError(f"lastNRounds {lastNRounds} must not be negative")


@query.field("submissionScores")
def resolve_submission_scores(
    _: Any, info: GraphQLResolveInfo, modelId: str, displayName: str | None = None,
    version: str | None = None, day: int | None = None, resolved: bool | None = None,
    tournament: int | None = None, lastNRounds: int | None = None,
    distinctOnRound: bool | None = None,
) -> list[dict[str, Any]]:
    """Score rows of the model, oldest round first, then by day and metric. ``lastNRounds``
    keeps the newest rounds and ``distinctOnRound`` each round's latest day, both after the
    other filters."""
    check_tournament(tournament)
    _check_filters(displayName, version, day, lastNRounds)
    ctx = context(info)
    model = model_by_public_id(ctx, modelId)
    found = model_day_scores(ctx, model, day=day, resolved=resolved)
    if lastNRounds is not None:
        newest = sorted({d.round.number for d in found})[::-1][:lastNRounds]
        found = [d for d in found if d.round.number in newest]
    if distinctOnRound:
        last = {d.round.number: d.day for d in found}
        found = [d for d in found if d.day == last[d.round.number]]
    metrics = [_METRIC_OF_NAME[displayName]] if displayName is not None else SCORE_METRICS
    return [_score_row(d, m) for d in found for m in metrics]


def _score_row(day: DayScores, metric: str) -> dict[str, Any]:
    round = day.round
    resolves = resolve_time(round)
    return {
        "roundId": str(round.number),
        "submissionId": day.submission_id,
        "roundNumber": round.number,
        "roundResolveTime": resolves,
        "roundScoreTime": rounds.scoring_day_due(round, 1),
        "roundCloseStakingTime": round.closes_at,
        "value": day.values[metric],
        "percentile": day.percentiles.get(metric),
        "displayName": DISPLAY_NAMES[metric],
        "version": VERSION,
        "date": day.scored_at,
        "day": day.day,
        "resolveDate": resolves,
        "resolved": round.status == RoundStatus.RESOLVED,
    }


# --- payouts ---------------------------------------------------------------------


def projected_payout(
    stake: Decimal, corr: float | None, mmc: float | None, basis: PayoutBasis | str,
    factor: Decimal, rules: payouts.PayoutRules,
) -> Decimal:
    """What the round would pay on these scores if they were final (as ``payouts.round_payouts``:
    0 without a CORR, a missing MMC counting 0)."""
    if stake <= 0 or corr is None:
        return ZERO
    contribution = 0.0 if mmc is None else mmc
    return payouts.payout_amount(stake, corr, contribution, str(basis), factor, rules)


class _Factors:
    """Payout factors of rounds, each read once per request."""

    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx
        self._known: dict[int, Decimal | None] = {}

    def __call__(self, round: Round) -> Decimal | None:
        if round.id not in self._known:
            self._known[round.id] = payout_factor_of(self.ctx, round)
        return self._known[round.id]


# --- v2RoundModelPerformances ----------------------------------------------------


def _payout_multipliers(
    ctx: RequestContext, round: Round, basis: PayoutBasis
) -> list[dict[str, Any]]:
    """The round's score configurations the model is paid on, with their multipliers."""
    return [
        {
            "id": c["id"], "scoreConfigId": c["scoreConfigId"], "name": c["name"],
            "version": c["version"], "displayName": c["displayName"],
            "multiplier": c["defaultMultiplier"],
        }
        for c in score_configs(ctx, round)
        if c["name"] in PAID_ON[basis]
    ]


def _intra_round(
    days: list[DayScores], payout: Callable[[DayScores], tuple[Any, Any]]
) -> list[dict[str, Any]]:
    """IntraRoundScore rows: every metric of each day, with that day's payout."""
    rows = []
    for d in days:
        pending, settled = payout(d)
        rows += [
            {
                "date": d.scored_at, "day": d.day, "displayName": DISPLAY_NAMES[m],
                "payoutPending": pending, "payoutSettled": settled,
                "percentile": d.percentiles.get(m), "value": d.values[m],
            }
            for m in SCORE_METRICS
        ]
    return rows


@query.field("v2RoundModelPerformances")
def resolve_round_model_performances(
    _: Any, info: GraphQLResolveInfo, modelId: str, tournament: int | None = None
) -> list[dict[str, Any]]:
    """One entry per round the model has a counted (valid) submission in, newest round first;
    score lists are empty until the round's first day is scored."""
    check_tournament(tournament)
    ctx = context(info)
    model = model_by_public_id(ctx, modelId)
    on_time: dict[int, bool] = {}
    by_number: dict[int, Round] = {}
    for round, late in ctx.session.execute(
        select(Round, Submission.late).join(Submission, Submission.round_id == Round.id)
        .where(Submission.model_id == model.id, Submission.valid)
    ):
        by_number[round.number] = round
        on_time[round.number] = on_time.get(round.number, False) or not late
    days: dict[int, list[DayScores]] = defaultdict(list)
    for d in model_day_scores(ctx, model):
        days[d.round.number].append(d)
    staked = dict(ctx.session.execute(
        select(RoundStake.round_id, RoundStake.stake_at_risk).where(RoundStake.model_id == model.id)
    ).all())
    settled = {
        p.round_id: p
        for p in ctx.session.scalars(select(RoundPayout).where(RoundPayout.model_id == model.id))
    }
    factors = _Factors(ctx)
    out = []
    for number, round in sorted(by_number.items(), reverse=True):
        # the counted submission is on time if any valid one is; a late one risks nothing
        stake = staked.get(round.id) if on_time[number] else None
        paid = settled.get(round.id)
        out.append(_performance(ctx, model, round, days[number], stake, paid, factors))
    return out


def _performance(
    ctx: RequestContext, model: Model, round: Round, days: list[DayScores],
    at_risk: Decimal | None, settled: RoundPayout | None, factors: _Factors,
) -> dict[str, Any]:
    resolved = round.status == RoundStatus.RESOLVED
    basis = PayoutBasis(settled.payout_basis if settled is not None else model.payout_basis)
    rules = ctx.services.rules

    def payout(d: DayScores) -> tuple[Decimal | None, Decimal | None]:
        if resolved:
            return None, None if settled is None else settled.amount
        factor = factors(round)
        if at_risk is None or d.late or factor is None:
            return None, None
        corr, mmc = d.values["corr"], d.values["mmc"]
        return projected_payout(at_risk, corr, mmc, basis, factor, rules), None

    return {
        "atRisk": at_risk,
        "payoutMultipliers": lambda *_: _payout_multipliers(ctx, round, basis),
        "roundPayoutFactor": lambda *_: factors(round),
        "roundNumber": round.number,
        "roundOpenTime": round.opens_at,
        "roundResolveTime": resolve_time(round),
        "roundResolved": resolved,
        "roundTarget": MAIN_TARGET,
        "submissionScores": lambda *_: _intra_round(days[-1:], payout),
        "intraRoundSubmissionScores": lambda *_: _intra_round(days, payout),
    }


# --- pendingModelPayouts ---------------------------------------------------------


def _payout_view(round: Round, model: Model, amount: Decimal) -> dict[str, Any]:
    return {
        "roundId": str(round.number),
        "roundNumber": round.number,
        "roundResolveTime": resolve_time(round),
        "modelId": model.public_id,
        "modelName": model.name,
        "modelDisplayName": model.name,
        "payoutNmr": amount,
        "payoutValue": amount,
        "currencySymbol": CURRENCY,
    }


@query.field("pendingModelPayouts")
def resolve_pending_model_payouts(
    _: Any, info: GraphQLResolveInfo, tournament: int
) -> dict[str, list[dict[str, Any]]]:
    """The caller's payouts: ``actual`` posted in resolved rounds, ``pending`` what each staked
    model's latest scores would pay in the rounds still scoring (0 before day 1, or without an
    on-time submission, as resolution would pay). Newest round first."""
    check_tournament(tournament)
    ctx = context(info)
    principal = ctx.principal("read")
    owned = {m.id: m for m in models_mod.list_models(ctx.session, principal.account)}
    if not owned:
        return {"actual": [], "pending": []}
    actual = ctx.session.execute(
        select(RoundPayout, Round)
        .join(Round, Round.id == RoundPayout.round_id)
        .where(RoundPayout.model_id.in_(list(owned)))
        .order_by(Round.number.desc(), RoundPayout.model_id)
    ).all()
    latest = (
        select(RoundStake.model_id, RoundStake.stake_at_risk, Round, Score.corr, Score.mmc,
               Submission.late)
        .join(Round, Round.id == RoundStake.round_id)
        .outerjoin(Score, and_(Score.round_id == Round.id, Score.model_id == RoundStake.model_id,
                               Score.day == Round.scoring_day))
        .outerjoin(Submission, Submission.id == Score.submission_id)
        .where(RoundStake.model_id.in_(list(owned)), Round.status.in_(_UNSCORED))
        .order_by(Round.number.desc(), RoundStake.model_id, Submission.late,
                  Submission.created_at.desc(), Submission.id.desc())
    )
    factors = _Factors(ctx)
    pending: dict[tuple[int, int], dict[str, Any]] = {}
    for model_id, stake, round, corr, mmc, late in ctx.session.execute(latest):
        if (round.number, model_id) in pending:
            continue
        model = owned[model_id]
        factor = factors(round)
        amount = ZERO
        if not late and factor is not None:
            amount = projected_payout(stake, _number(corr), _number(mmc), model.payout_basis,
                                      factor, ctx.services.rules)
        pending[(round.number, model_id)] = _payout_view(round, model, amount)
    return {
        "actual": [_payout_view(r, owned[p.model_id], p.amount) for p, r in actual],
        "pending": list(pending.values()),
    }


# --- UserProfile.dailyModelPerformances ------------------------------------------


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@user_profile.field("dailyModelPerformances")
def resolve_daily_model_performances(
    profile: dict[str, Any], info: GraphQLResolveInfo
) -> list[dict[str, Any]]:
    """One entry per date (UTC, from the model's creation on) on which a round was scored: the
    model's reputations and ranks as the leaderboard stood at the end of that date.

    That board counts the rounds resolved by then (``reputation.reputation`` over their final
    scores, defaults as ``leaderboard.model_leaderboard``) and ranks every model as
    ``leaderboard.ranked`` does; fncV3 repeats FNC, TC does not exist here. A handful of
    queries: the scoring days, the models and ``leaderboard.final_scores`` per metric.
    """
    ctx = context(info)
    model: Model = profile["model"]
    scored = ctx.session.execute(
        select(RoundDay.scored_at, RoundDay.day, Round.number, Round.resolves_after_days,
               Round.status)
        .join(Round, Round.id == RoundDay.round_id)
    ).all()
    since = model.created_at.astimezone(UTC).date()
    dates = sorted({d for d in (at.astimezone(UTC).date() for at, *_ in scored) if d >= since})
    if not dates:
        return []
    resolved_on = {
        number: at.astimezone(UTC).date()
        for at, day, number, last, status in scored
        if day == last and status == RoundStatus.RESOLVED
    }
    names = dict(ctx.session.execute(select(Model.id, Model.name)).all())
    finals: dict[str, dict[int, dict[int, float]]] = {}
    for metric in DAILY_METRICS:
        table = leaderboard.final_scores(ctx.session, metric)
        per_model: dict[int, dict[int, float]] = defaultdict(dict)
        for model_id, number, value in table.itertuples(index=False):
            per_model[int(model_id)][int(number)] = float(value)
        finals[metric] = per_model

    entries = []
    board: dict[str, tuple[float, int | None]] = {}
    seen: tuple[int, ...] | None = None
    for day in dates:
        resolved = tuple(sorted(n for n, on in resolved_on.items() if on <= day))
        if resolved != seen:
            board, seen = _standing(model, names, finals, resolved), resolved
        entry: dict[str, Any] = {"date": _midnight(day)}
        for metric in DAILY_METRICS:
            rep, rank = board[metric]
            entry[f"{metric}Rep"], entry[f"{metric}Rank"] = _number(rep), rank
        entry["fncV3Rep"], entry["fncV3Rank"] = entry["fncRep"], entry["fncRank"]
        entry["tcRep"], entry["tcRank"] = None, None
        entries.append(entry)
    return entries


_BLANK_ROW = leaderboard.ModelRow(
    rank=0, model_id=0, name="", account_id=0, account="", kind=ModelKind.PARTICIPANT,
    corr_rep=math.nan, mmc_rep=math.nan, bmc_rep=math.nan, fnc_rep=math.nan, rounds_scored=0,
    stake=ZERO, paid=ZERO, burned=ZERO, net=ZERO, at_risk=ZERO, return_on_stake=math.nan,
)


def _standing(
    model: Model, names: dict[int, str], finals: dict[str, dict[int, dict[int, float]]],
    resolved: tuple[int, ...],
) -> dict[str, tuple[float, int | None]]:
    """``model``'s reputation and rank per metric once the rounds ``resolved`` had resolved."""
    kept = set(resolved)

    def rep(metric: str, model_id: int) -> float:
        scores = {n: v for n, v in finals[metric].get(model_id, {}).items() if n in kept}
        return reputation(scores, resolved, DEFAULT_WINDOW, DEFAULT_MISSING_PENALTY)

    rows = [
        replace(_BLANK_ROW, model_id=model_id, name=name,
                **{f"{m}_rep": rep(m, model_id) for m in DAILY_METRICS})
        for model_id, name in names.items()
    ]
    standing = {}
    for metric in DAILY_METRICS:
        mine = next(r for r in leaderboard.ranked(rows, metric) if r.model_id == model.id)
        value = mine.rep(metric)
        standing[metric] = (value, None if math.isnan(value) else mine.rank)
    return standing


__all__ = [
    "CURRENCY",
    "DISPLAY_NAMES",
    "VERSION",
    "DayScores",
    "model_day_scores",
    "projected_payout",
    "query",
    "user_profile",
]

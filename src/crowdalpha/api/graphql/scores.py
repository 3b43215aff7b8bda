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
scored that day of that round on that metric (``tournament.views.scores``,
where the scores, percentiles and payouts read here are defined).

``v2RoundModelPerformances`` lists every round the model has a counted
submission in, newest first (an open round with empty score lists):
``submissionScores`` holds the latest day's rows, ``intraRoundSubmissionScores``
every day's. Payouts are per model, round and day, not per metric, so every
score row of a day carries the same amounts: ``payoutPending`` (unresolved
rounds) and ``payoutSettled`` (resolved rounds) are
``views.scores.RoundPerformance.payout_on`` of that day.

Money is counted in the tournament's token. numerapi users know it as "NMR",
so that is the ``currencySymbol`` of every payout; there is no exchange rate
here, so ``payoutValue`` equals ``payoutNmr``.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from typing import Any

from ariadne import ObjectType, QueryType
from graphql import GraphQLResolveInfo

from crowdalpha.api.graphql.common import (
    check_tournament,
    context,
    model_by_public_id,
    score_configs,
)
from crowdalpha.server.context import RequestContext
from crowdalpha.tournament import rounds
from crowdalpha.tournament.errors import InvalidValueError
from crowdalpha.tournament.feed import MAIN_TARGET
from crowdalpha.tournament.resolution import SCORE_METRICS
from crowdalpha.tournament.tables import PayoutBasis, Round, RoundStatus
from crowdalpha.tournament.views.history import daily_standings
from crowdalpha.tournament.views.scores import (
    DayScores,
    ModelPayout,
    RoundPerformance,
    account_payouts,
    model_day_scores,
    model_round_performances,
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

_METRIC_OF_NAME = {name: metric for metric, name in DISPLAY_NAMES.items()}


def _number(value: float | None) -> float | None:
    """A float for GraphQL: None for a missing or NaN value."""
    return None if value is None or math.isnan(value) else float(value)


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
    found = model_day_scores(ctx.session, model, day=day, resolved=resolved, percentiles=True)
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
        "submissionId": day.submission_public_id,
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


def _intra_round(performance: RoundPerformance, days: list[DayScores]) -> list[dict[str, Any]]:
    """IntraRoundScore rows: every metric of each day, with that day's payout."""
    rows = []
    for d in days:
        pending, settled = performance.payout_on(d)
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
    performances = model_round_performances(
        ctx.session, model, ctx.services.rules, percentiles=True
    )
    return [_performance(ctx, p) for p in performances]


def _performance(ctx: RequestContext, p: RoundPerformance) -> dict[str, Any]:
    round = p.round
    return {
        "atRisk": p.at_risk,
        "payoutMultipliers": lambda *_: _payout_multipliers(ctx, round, p.basis),
        "roundPayoutFactor": p.factor,
        "roundNumber": round.number,
        "roundOpenTime": round.opens_at,
        "roundResolveTime": resolve_time(round),
        "roundResolved": p.resolved,
        "roundTarget": MAIN_TARGET,
        "submissionScores": lambda *_: _intra_round(p, p.days[-1:]),
        "intraRoundSubmissionScores": lambda *_: _intra_round(p, p.days),
    }


# --- pendingModelPayouts ---------------------------------------------------------


def _payout_view(payout: ModelPayout) -> dict[str, Any]:
    round, model = payout.round, payout.model
    return {
        "roundId": str(round.number),
        "roundNumber": round.number,
        "roundResolveTime": resolve_time(round),
        "modelId": model.public_id,
        "modelName": model.name,
        "modelDisplayName": model.name,
        "payoutNmr": payout.amount,
        "payoutValue": payout.amount,
        "currencySymbol": CURRENCY,
    }


@query.field("pendingModelPayouts")
def resolve_pending_model_payouts(
    _: Any, info: GraphQLResolveInfo, tournament: int
) -> dict[str, list[dict[str, Any]]]:
    """The caller's payouts (``views.scores.account_payouts``): ``actual`` posted, ``pending``
    projected. Newest round first."""
    check_tournament(tournament)
    ctx = context(info)
    principal = ctx.principal("read")
    actual, pending = account_payouts(ctx.session, principal.account, ctx.services.rules)
    return {
        "actual": [_payout_view(p) for p in actual],
        "pending": [_payout_view(p) for p in pending],
    }


# --- UserProfile.dailyModelPerformances ------------------------------------------


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@user_profile.field("dailyModelPerformances")
def resolve_daily_model_performances(
    profile: dict[str, Any], info: GraphQLResolveInfo
) -> list[dict[str, Any]]:
    """One entry per date on which a round was scored: the model's reputations and ranks as
    the leaderboard stood at the end of that date (``views.history.daily_standings``); fncV3
    repeats FNC, TC does not exist here."""
    entries = []
    for standing in daily_standings(context(info).session, profile["model"]):
        entry: dict[str, Any] = {"date": _midnight(standing.date)}
        for metric, (rep, rank) in standing.reps.items():
            entry[f"{metric}Rep"], entry[f"{metric}Rank"] = _number(rep), rank
        entry["fncV3Rep"], entry["fncV3Rank"] = entry["fncRep"], entry["fncRank"]
        entry["tcRep"], entry["tcRank"] = None, None
        entries.append(entry)
    return entries


__all__ = [
    "CURRENCY",
    "DISPLAY_NAMES",
    "VERSION",
    "query",
    "user_profile",
]

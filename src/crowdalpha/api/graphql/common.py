"""Helpers shared by the resolvers: the tournament id, model lookup by public id, and
how rounds and submissions look to numerapi.

Round and submission times are wall-clock times (``clock.wall_time``): numerapi compares
them with its own clock (``check_round_open``, ``check_new_round``), so on the live demo's
accelerated clock they say when, for a person, a round opens and closes. On the real
clock they are the stored times themselves."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLResolveInfo
from sqlalchemy import select

from crowdalpha.errors import NotFoundError
from crowdalpha.server.context import RequestContext
from crowdalpha.tournament import models as models_mod
from crowdalpha.tournament import rounds
from crowdalpha.tournament.clock import wall_time
from crowdalpha.tournament.errors import InvalidValueError
from crowdalpha.tournament.feed import MAIN_TARGET
from crowdalpha.tournament.keys import Principal
from crowdalpha.tournament.tables import (
    Model,
    Round,
    RoundStatus,
    Submission,
)
from crowdalpha.tournament.views.rounds import round_payout_factor

#: Numerai's id of the classic tournament; the only one a crowdalpha server runs.
TOURNAMENT = 8


def context(info: GraphQLResolveInfo) -> RequestContext:
    return info.context


def check_tournament(tournament: int | None) -> None:
    """Only tournament 8 (or none given) exists here."""
    if tournament not in (None, TOURNAMENT):
        raise InvalidValueError(
            f"tournament {tournament} does not exist; this server runs one tournament, id {TOURNAMENT}"
        )


def model_by_public_id(ctx: RequestContext, model_id: str | None) -> Model:
    """The model with API id ``model_id``; a clear error for a missing or unknown id."""
    if not model_id:
        raise InvalidValueError("modelId is required: pass the model's id (see get_models())")
    try:
        uuid.UUID(str(model_id))
    except ValueError:
        raise NotFoundError(f"model id '{str(model_id)[:40]}' is not a model id (a UUID)") from None
    model = ctx.session.scalars(select(Model).where(Model.public_id == model_id)).one_or_none()
    if model is None:
        raise NotFoundError(f"no model with id '{model_id}'")
    return model


def own_model(ctx: RequestContext, model_id: str | None, principal: Principal) -> Model:
    """The caller's model ``model_id``; when omitted and the caller has exactly one, that one."""
    if not model_id:
        owned = models_mod.list_models(ctx.session, principal.account)
        if len(owned) == 1:
            return owned[0]
        raise InvalidValueError(
            f"modelId is required: account '{principal.account.name}' has {len(owned)} models"
        )
    model = model_by_public_id(ctx, model_id)
    models_mod.require_owner(model, principal.account)
    return model


def payout_factor_of(ctx: RequestContext, round: Round) -> Decimal | None:
    """The round's payout factor (``views.rounds.round_payout_factor``)."""
    return round_payout_factor(ctx.session, round, ctx.services.rules)


def score_configs(ctx: RequestContext, round: Round) -> list[dict[str, Any]]:
    """What the round pays on: CORR and MMC, with the payout rules' multipliers."""
    rules = ctx.services.rules
    factor = payout_factor_of(ctx, round)
    days = round.resolves_after_days
    start = wall(ctx, rounds.scoring_day_due(round, 1))
    end = wall(ctx, rounds.scoring_day_due(round, days))

    def config(name: str, display: str, multiplier: Decimal) -> dict[str, Any]:
        return {
            "id": f"{round.number}-{name}", "scoreConfigId": name, "roundNumberStart": None,
            "roundNumberEnd": None, "name": name, "version": "1", "displayName": display,
            "totalScoreDays": days, "returnsLagDays": 2, "dataDelayDays": 0,
            "universe": "live", "isCanonScore": name == "corr", "isPayout": True,
            "scoringStart": start, "scoringEnd": end, "minMultiplier": 0.0,
            "maxMultiplier": float(multiplier), "defaultMultiplier": float(multiplier),
            "clipThreshold": float(rules.clip), "stakeThreshold": rules.stake_threshold,
            "payoutFactor": factor,
        }

    return [
        config("corr", "CORR", rules.corr_multiplier),
        config("mmc", "MMC", rules.mmc_multiplier),
    ]


def wall(ctx: RequestContext, when: datetime) -> datetime:
    """``when`` of the server's clock on the wall clock (numerapi compares with that)."""
    return wall_time(ctx.services.clock, when)


def round_view(ctx: RequestContext, round: Round) -> dict[str, Any]:
    """A round as numerapi reads it (times on the wall clock; the data's date is the market's)."""
    resolved = round.status == RoundStatus.RESOLVED
    opens: datetime = round.opens_at
    return {
        "id": str(round.number),
        "tournament": TOURNAMENT,
        "number": round.number,
        "target": MAIN_TARGET,
        "status": str(round.status),
        "openTime": wall(ctx, opens),
        "closeTime": wall(ctx, round.closes_at),
        "closeStakingTime": wall(ctx, round.closes_at),
        "scoreTime": wall(ctx, rounds.scoring_day_due(round, 1)),
        "resolveTime": wall(ctx, rounds.scoring_day_due(round, round.resolves_after_days)),
        "resolvedGeneral": resolved,
        "resolvedStaking": resolved,
        "payoutFactor": lambda *_: payout_factor_of(ctx, round),
        "stakeThreshold": ctx.services.rules.stake_threshold,
        "dataDatestamp": int(opens.strftime("%Y%m%d")),
        "roundScoreConfigs": lambda *_: score_configs(ctx, round),
    }


def submission_view(ctx: RequestContext, submission: Submission, selected: bool) -> dict[str, Any]:
    """A submission as numerapi reads it; ``selected`` = the one that counts in its round."""
    return {
        "id": submission.public_id,
        "filename": submission.filename,
        "insertedAt": wall(ctx, submission.created_at),
        "selected": selected,
        "round": lambda *_: round_view(ctx, submission.round),
    }

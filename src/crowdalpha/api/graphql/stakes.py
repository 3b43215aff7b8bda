"""Stakes: ``v2ChangeStake`` (increase or decrease) and ``releaseStake`` (drain).

An increase moves money from the wallet to the stake at once and counts from
the next round to close. A decrease leaves the stake now but stays at risk in
the rounds it was staked in: it returns to the wallet when the last of them
resolves (``dueDate``), or at once when it is at risk in none.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ariadne import MutationType
from graphql import GraphQLResolveInfo

from crowdalpha.api.graphql.common import check_tournament, context, own_model
from crowdalpha.server.context import RequestContext
from crowdalpha.tournament import ledger, rounds, stakes
from crowdalpha.tournament.errors import InvalidValueError
from crowdalpha.tournament.tables import Model, ReleaseStatus

mutation = MutationType()


def _decrease(ctx: RequestContext, model: Model, amount: Decimal | str | None) -> dict[str, Any]:
    """Decrease the stake by ``amount``, or drain it (None), and say when it comes back."""
    principal = ctx.principal("stake")
    clock = ctx.services.clock
    drain = amount is None
    release = (
        stakes.drain_stake(ctx.session, model, by=principal.account, clock=clock) if drain
        else stakes.decrease_stake(ctx.session, model, amount, by=principal.account, clock=clock)
    )
    due = None
    if release.release_after_round is not None:
        last = rounds.get_round(ctx.session, release.release_after_round)
        due = rounds.scoring_day_due(last, last.resolves_after_days)
    released = release.status == ReleaseStatus.RELEASED
    return {
        "id": str(release.id), "dueDate": due, "requestedAmount": release.amount,
        "status": "released" if released else "pending", "type": "decrease", "drain": drain,
    }


@mutation.field("v2ChangeStake")
def resolve_change_stake(
    _: Any, info: GraphQLResolveInfo, value: str, type: str, tournamentNumber: int,
    modelId: str | None = None,
) -> dict[str, Any]:
    check_tournament(tournamentNumber)
    ctx = context(info)
    principal = ctx.principal("stake")
    model = own_model(ctx, modelId, principal)
    if type == "increase":
        entry = stakes.increase_stake(
            ctx.session, model, value, by=principal.account, clock=ctx.services.clock
        )
        return {
            "id": str(entry.id), "dueDate": None, "requestedAmount": entry.amount,
            "status": "confirmed", "type": "increase", "drain": False,
        }
    if type == "decrease":
        return _decrease(ctx, model, value)
    raise InvalidValueError(f"stake change type {type[:20]!r} is not 'increase' or 'decrease'")


@mutation.field("releaseStake")
def resolve_release_stake(
    _: Any, info: GraphQLResolveInfo, drain: bool, modelId: str | None = None,
    amount: str | None = None,
) -> dict[str, Any]:
    ctx = context(info)
    principal = ctx.principal("stake")
    model = own_model(ctx, modelId, principal)
    if drain:
        return _decrease(ctx, model, None)
    if amount is None:
        raise InvalidValueError("amount is required unless drain is true")
    return _decrease(ctx, model, ledger.parse_amount(amount, what="stake release"))

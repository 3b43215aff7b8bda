"""Accounts and models: ``account`` (with wallet transactions), ``accountProfile``,
``v3UserProfile``, ``model`` and ``setSubmissionWebhook``."""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, QueryType
from graphql import GraphQLResolveInfo
from sqlalchemy import select

from crowdalpha.api.graphql.common import (
    TOURNAMENT,
    check_tournament,
    context,
    model_by_public_id,
    own_model,
    submission_view,
)
from crowdalpha.server.context import RequestContext
from crowdalpha.tournament import accounts, keys, ledger, stakes, webhooks
from crowdalpha.tournament import models as models_mod
from crowdalpha.tournament.errors import InvalidValueError
from crowdalpha.tournament.submissions import counted_submission_ids
from crowdalpha.tournament.tables import (
    Account,
    Model,
    Submission,
)
from crowdalpha.tournament.views.money import wallet_movements

query = QueryType()
mutation = MutationType()

#: How a wallet movement is called in numerapi's wallet transactions.
TRANSACTION_TYPES = {
    "deposit": "deposit",
    "withdrawal": "withdrawal",
    "stake_increase": "stake",
    "stake_release": "unstake",
}


def model_submissions(ctx: RequestContext, model: Model) -> list[dict[str, Any]]:
    """The model's submissions, newest first."""
    rows = ctx.session.scalars(
        select(Submission).where(Submission.model_id == model.id).order_by(Submission.id.desc())
    ).all()
    selected = counted_submission_ids(ctx.session, model) if rows else set()
    return [submission_view(ctx, s, s.id in selected) for s in rows]


def model_view(ctx: RequestContext, model: Model) -> dict[str, Any]:
    """A model as numerapi reads it (submissions only when asked for)."""
    return {
        "id": model.public_id,
        "name": model.name,
        "displayName": model.name,
        "tournament": TOURNAMENT,
        "submissions": lambda *_: model_submissions(ctx, model),
        "v2Stake": lambda *_: {"status": "confirmed", "txHash": None},
    }


def _wallet_transactions(ctx: RequestContext, account: Account) -> list[dict[str, Any]]:
    """Every journal line that moved the account's wallet, newest first."""
    return [
        {
            "amount": abs(m.amount),
            "from": m.wallet_key if m.amount < 0 else m.counterpart_key,
            "to": m.counterpart_key if m.amount < 0 else m.wallet_key,
            "status": "confirmed",
            "time": m.entry.created_at,
            "tournament": TOURNAMENT if m.entry.model_id is not None else None,
            "txHash": f"entry:{m.entry.id}",
            "type": TRANSACTION_TYPES.get(str(m.entry.kind), str(m.entry.kind)),
        }
        for m in wallet_movements(ctx.session, account)
    ]


@query.field("account")
def resolve_account(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    ctx = context(info)
    principal = ctx.principal("read")
    account = principal.account
    return {
        "id": str(account.id),
        "username": account.name,
        "walletAddress": None,
        "availableNmr": ledger.wallet_balance(ctx.session, account),
        "email": None,
        "mfaEnabled": False,
        "status": "VERIFIED",
        "insertedAt": account.created_at,
        "models": lambda *_: [model_view(ctx, m) for m in models_mod.list_models(ctx.session, account)],
        "apiTokens": lambda *_: [
            {"name": k.label, "public_id": k.public_id, "scopes": sorted(k.scope_set)}
            for k in keys.list_api_keys(ctx.session, account, include_revoked=False)
        ],
        "walletTxns": lambda *_: _wallet_transactions(ctx, account),
    }


@query.field("accountProfile")
def resolve_account_profile(
    _: Any, info: GraphQLResolveInfo, username: str, tournament: int | None = None
) -> dict[str, Any]:
    check_tournament(tournament)
    ctx = context(info)
    account = accounts.get_account(ctx.session, username)
    return {
        "username": account.name,
        "models": [model_view(ctx, m) for m in models_mod.list_models(ctx.session, account)],
    }


def profile_view(ctx: RequestContext, model: Model) -> dict[str, Any]:
    """A model's public profile; ``dailyModelPerformances`` is bound by the scores module."""
    staked = stakes.stake_now(ctx.session, model)
    return {
        "id": model.public_id,
        "username": model.name,
        "startDate": model.created_at,
        "bio": None,
        "nmrStaked": staked,
        "stakeValue": staked if staked > 0 else None,
        "model": model,
    }


@query.field("v3UserProfile")
def resolve_user_profile(
    _: Any, info: GraphQLResolveInfo, model_name: str | None = None, modelName: str | None = None,
    tournament: int | None = None,
) -> dict[str, Any]:
    check_tournament(tournament)
    name = model_name or modelName
    if not name:
        raise InvalidValueError("model_name is required")
    ctx = context(info)
    return profile_view(ctx, models_mod.get_model(ctx.session, name))


@query.field("model")
def resolve_model(_: Any, info: GraphQLResolveInfo, modelId: str | None = None) -> dict[str, Any]:
    ctx = context(info)
    ctx.principal("read")
    return model_view(ctx, model_by_public_id(ctx, modelId))


@mutation.field("setSubmissionWebhook")
def resolve_set_webhook(
    _: Any, info: GraphQLResolveInfo, modelId: str, newSubmissionWebhook: str | None = None
) -> str:
    ctx = context(info)
    principal = ctx.principal("upload")
    model = own_model(ctx, modelId, principal)
    webhooks.set_submission_webhook(ctx.session, model, newSubmissionWebhook, by=principal.account)
    return "true"


__all__ = ["model_view", "mutation", "profile_view", "query"]

"""The operator's REST API under ``/admin`` (documented at ``/docs`` and ``/openapi.json``).

Every route needs ``Authorization: Token PUBLIC$SECRET`` of a key with the
``admin`` scope and counts against that key's rate limit, the same budget as
its GraphQL requests. Dependencies run in this order: rate limit (429 with
``Retry-After``), authentication in a short session of its own (401 with
``WWW-Authenticate``; 403 without the admin scope), then the route.

A route that changes the database works in one unit of work (``DbSession``):
one session, committed once after the handler returns and before the response
is sent, rolled back if anything fails. The round routes instead drive a
``Tournament`` built for the request, whose every step (open, close, each
scored day) is its own transaction, so a long resolution holds no session
open while it scores. Handlers are plain functions: FastAPI runs them in its
thread pool, never on the event loop.

Domain errors become their status codes in ``create_app``'s handler (404
unknown account, 409 name taken / insufficient funds / wrong round state,
400 other invalid input); a body that does not parse is FastAPI's 422.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from crowdalpha.api.admin import service
from crowdalpha.api.admin.models import (
    AccountCreated,
    AccountOut,
    AmountIn,
    AuditOut,
    ChooseRound,
    CloseRound,
    ErrorOut,
    EventOut,
    KeyCreated,
    KeyOut,
    LeaderboardRow,
    ModelOut,
    NewAccount,
    NewKey,
    NewModel,
    RoundOut,
    SortKey,
    WalletMovement,
)
from crowdalpha.server.errors import RateLimitedError, user_message
from crowdalpha.server.ratelimit import rate_limit_key
from crowdalpha.server.services import Services
from crowdalpha.tournament import keys
from crowdalpha.tournament.db import session_scope
from crowdalpha.tournament.errors import AuthenticationError
from crowdalpha.tournament.runner import Tournament

ADMIN_SCOPE = "admin"

api_key_header = APIKeyHeader(
    name="Authorization",
    scheme_name="OperatorKey",
    description="`Token PUBLIC$SECRET` of an API key of the operator account with the admin "
    "scope, e.g. made by `crowdalpha admin create-key operator --scope admin`.",
    auto_error=False,
)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    words = {
        400: "Invalid value (name, amount, scope...)",
        401: "No API key, or not a valid one",
        403: "The key lacks the admin scope",
        404: "No such account, key or round",
        409: "Conflicts with the current state (name taken, insufficient funds, round state)",
        429: "Too many requests for this key; see Retry-After",
    }
    return {code: {"model": ErrorOut, "description": words[code]} for code in codes}


# --- dependencies -----------------------------------------------------------------


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def limit_rate(request: Request, services: ServicesDep) -> None:
    """Take one request from the caller's budget (per key, else per address): 429 when spent."""
    who = rate_limit_key(request)
    wait = request.app.state.rate_limiter.take(who)
    if wait > 0:
        error = RateLimitedError(who, services.settings.rate_limit_per_minute, wait)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, detail=str(error),
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


@dataclass(frozen=True)
class Operator:
    """Who is calling: the admin key's account and public id (plain values, no session)."""

    account: str
    key: str


def require_operator(
    services: ServicesDep, authorization: Annotated[str | None, Security(api_key_header)]
) -> Operator:
    """Authenticate the caller's key and require the admin scope, in a short session."""
    with services.factory() as session:
        try:
            principal = keys.authenticate(session, authorization)
        except AuthenticationError as error:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, detail=user_message(error),
                headers={"WWW-Authenticate": "Token"},
            ) from error
        keys.require_scope(principal, ADMIN_SCOPE)
        return Operator(account=principal.account.name, key=principal.key.public_id)


def unit_of_work(services: ServicesDep) -> Iterator[Session]:
    """One session for the request: committed before the response, rolled back on error."""
    with session_scope(services.factory) as session:
        yield session


DbSession = Annotated[Session, Depends(unit_of_work, scope="function")]


def get_tournament(services: ServicesDep) -> Tournament:
    """The tournament as the operator's CLI builds it, from the server's services."""
    return Tournament(
        services.factory, services.store, services.feed(), services.clock,
        schedule=services.schedule, rules=services.rules,
    )


TournamentDep = Annotated[Tournament, Depends(get_tournament)]

router = APIRouter(
    prefix="/admin",
    tags=["operator"],
    dependencies=[Depends(limit_rate), Depends(require_operator)],
    responses=_errors(401, 403, 429),
)


# --- accounts and keys ------------------------------------------------------------


@router.post("/accounts", status_code=status.HTTP_201_CREATED, responses=_errors(400, 409))
def create_account(body: NewAccount, session: DbSession, services: ServicesDep) -> AccountCreated:
    """Create a participant account with an empty wallet and its first API key (read,
    upload, stake). The key is in the answer only: store it now."""
    return service.create_account(session, body.name, clock=services.clock)


@router.get("/accounts")
def list_accounts(session: DbSession) -> list[AccountOut]:
    """Every account, oldest first, with its wallet balance and number of models."""
    return service.list_accounts(session)


@router.post(
    "/accounts/{name}/keys", status_code=status.HTTP_201_CREATED, responses=_errors(400, 404)
)
def create_key(
    name: str, session: DbSession, services: ServicesDep, body: NewKey | None = None
) -> KeyCreated:
    """Create another API key for an account; the token is shown once."""
    body = body or NewKey()
    return service.create_key(
        session, name, clock=services.clock, scopes=body.scopes, label=body.label
    )


@router.get("/accounts/{name}/keys", responses=_errors(404))
def list_keys(name: str, session: DbSession) -> list[KeyOut]:
    """An account's keys, revoked ones included (public ids and scopes, never secrets)."""
    return service.list_keys(session, name)


@router.delete("/keys/{public_id}", responses=_errors(404))
def revoke_key(public_id: str, session: DbSession, services: ServicesDep) -> KeyOut:
    """Revoke a key for good; revoking it again changes nothing."""
    return service.revoke_key(session, public_id, clock=services.clock)


# --- models -----------------------------------------------------------------------


@router.post("/models", status_code=status.HTTP_201_CREATED, responses=_errors(400, 404, 409))
def create_model(body: NewModel, session: DbSession, services: ServicesDep) -> ModelOut:
    """Create a model for an account (at most 10 per participant account)."""
    return service.create_model(
        session, body.account, body.name, clock=services.clock, kind=body.kind,
        payout_basis=body.payout_basis,
    )


# --- wallets and ledger -----------------------------------------------------------


@router.post(
    "/accounts/{name}/deposits", status_code=status.HTTP_201_CREATED,
    responses=_errors(400, 404),
)
def deposit(name: str, body: AmountIn, session: DbSession, services: ServicesDep) -> WalletMovement:
    """Mint tokens into an account's wallet."""
    return service.move_money(session, name, body.amount, kind="deposit", clock=services.clock)


@router.post(
    "/accounts/{name}/withdrawals", status_code=status.HTTP_201_CREATED,
    responses=_errors(400, 404, 409),
)
def withdraw(name: str, body: AmountIn, session: DbSession, services: ServicesDep) -> WalletMovement:
    """Pay tokens out of an account's wallet; never more than it holds (409)."""
    return service.move_money(session, name, body.amount, kind="withdrawal", clock=services.clock)


@router.get("/audit")
def audit(session: DbSession) -> AuditOut:
    """Check the whole ledger. Answers 200 either way: read ``ok`` and ``problems``."""
    return service.audit(session)


# --- rounds -----------------------------------------------------------------------


@router.get("/rounds")
def list_rounds(session: DbSession) -> list[RoundOut]:
    """Every round: state, era, close, days scored, models submitting, stake at risk."""
    return service.list_rounds(session)


@router.post("/rounds/open", responses=_errors(404, 409))
def open_round(tournament: TournamentDep) -> list[EventOut]:
    """Open the next round now on the newest live era (publishing a new era when needed)."""
    return [service.event(tournament.open_round())]


@router.post("/rounds/close", responses=_errors(409))
def close_round(tournament: TournamentDep, body: CloseRound | None = None) -> list[EventOut]:
    """Close the open round (before its scheduled close only with ``early``) and freeze
    every model's stake at risk."""
    early = body.early if body is not None else False
    return [service.event(tournament.close_round(early=early))]


@router.post("/rounds/score", responses=_errors(404, 409))
def score_rounds(tournament: TournamentDep, body: ChooseRound | None = None) -> list[EventOut]:
    """Score the next trading day of every round waiting to be scored (or of one), without
    waiting for the calendar; a round's last day pays out and resolves it."""
    return service.score_next_day(tournament, body.round if body is not None else None)


@router.post("/rounds/resolve", responses=_errors(404, 409))
def resolve_rounds(tournament: TournamentDep, body: ChooseRound | None = None) -> list[EventOut]:
    """Score every remaining day of every round waiting to be scored (or of one) and pay out.
    Each day commits on its own: a request cut short keeps the days already scored."""
    return service.resolve(tournament, body.round if body is not None else None)


@router.post("/rounds/advance")
def advance(tournament: TournamentDep) -> list[EventOut]:
    """Do what the clock says is due now: close, score due days, open. Empty when nothing is."""
    return [service.event(e) for e in tournament.advance()]


# --- leaderboard ------------------------------------------------------------------


@router.get("/leaderboard")
def show_leaderboard(
    session: DbSession,
    sort: Annotated[SortKey, Query(description="Reputation, stake or return to rank by.")] = "corr",
) -> list[LeaderboardRow]:
    """Every model ranked by ``sort`` (highest first, not-yet-scored last)."""
    return service.model_leaderboard(session, sort)


__all__ = [
    "ADMIN_SCOPE",
    "DbSession",
    "Operator",
    "ServicesDep",
    "TournamentDep",
    "api_key_header",
    "get_services",
    "get_tournament",
    "limit_rate",
    "require_operator",
    "router",
    "unit_of_work",
]

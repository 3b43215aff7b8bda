"""What the operator's routes do, between parsing a request and answering it.

Each function takes a session (or a ``Tournament``), calls the domain and turns
what it returns into a response body; none commits (the request's unit of work
does) and none holds a rule of its own: the rules live in ``tournament``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdalpha.api.admin.models import (
    AccountCreated,
    AccountOut,
    AuditOut,
    EventOut,
    KeyCreated,
    KeyOut,
    LeaderboardRow,
    ModelOut,
    MovementKind,
    RoundOut,
    SortKey,
    WalletMovement,
)
from crowdalpha.tournament import accounts, keys, leaderboard, ledger, models
from crowdalpha.tournament.clock import Clock
from crowdalpha.tournament.errors import RoundStateError
from crowdalpha.tournament.keys import NewApiKey
from crowdalpha.tournament.runner import Event, Tournament
from crowdalpha.tournament.tables import (
    ApiKey,
    Model,
    ModelKind,
    PayoutBasis,
)
from crowdalpha.tournament.views.rounds import round_listing

_amount = ledger.format_amount


def _ratio(value: float) -> float | None:
    """A reputation or return as JSON allows it: NaN (not computable) becomes null."""
    return None if math.isnan(value) else float(value)


# --- accounts and keys ------------------------------------------------------------


def create_account(session: Session, name: str, *, clock: Clock) -> AccountCreated:
    """A participant account with an empty wallet and its first key (read, upload, stake)."""
    account = accounts.create_account(session, name, clock=clock)
    key = keys.create_api_key(session, account, clock=clock)
    return AccountCreated(
        name=account.name, role=account.role, created_at=account.created_at,
        key_public_id=key.public_id, scopes=sorted(key.key.scope_set), api_key=key.token,
    )


def list_accounts(session: Session) -> list[AccountOut]:
    """Every account, oldest first, with its wallet balance."""
    return [
        AccountOut(
            name=account.name, role=account.role, created_at=account.created_at,
            balance=_amount(ledger.wallet_balance(session, account)), models=len(account.models),
        )
        for account in accounts.list_accounts(session)
    ]


def _key(key: ApiKey) -> KeyOut:
    return KeyOut(
        public_id=key.public_id, account=key.account.name, scopes=sorted(key.scope_set),
        label=key.label, created_at=key.created_at, revoked_at=key.revoked_at,
    )


def create_key(
    session: Session, account_name: str, *, clock: Clock, scopes: Iterable[str] | None,
    label: str | None,
) -> KeyCreated:
    """Another key for ``account_name`` (default scopes when ``scopes`` is None)."""
    owner = accounts.get_account(session, account_name)
    wanted = keys.DEFAULT_SCOPES if scopes is None else scopes
    created: NewApiKey = keys.create_api_key(session, owner, clock=clock, scopes=wanted, label=label)
    return KeyCreated(**_key(created.key).model_dump(), token=created.token)


def list_keys(session: Session, account_name: str) -> list[KeyOut]:
    """The account's keys, revoked ones included, oldest first (never a secret)."""
    owner = accounts.get_account(session, account_name)
    return [_key(k) for k in keys.list_api_keys(session, owner)]


def revoke_key(session: Session, public_id: str, *, clock: Clock) -> KeyOut:
    """Revoke a key for good (revoking it again changes nothing)."""
    return _key(keys.revoke_api_key(session, public_id, clock=clock))


# --- models -----------------------------------------------------------------------


def create_model(
    session: Session, account_name: str, name: str, *, clock: Clock, kind: ModelKind,
    payout_basis: PayoutBasis,
) -> ModelOut:
    owner = accounts.get_account(session, account_name)
    model = models.create_model(
        session, owner, name, clock=clock, kind=kind, payout_basis=payout_basis
    )
    return ModelOut(
        id=model.public_id, name=model.name, account=owner.name, kind=model.kind,
        payout_basis=model.payout_basis, created_at=model.created_at,
    )


# --- wallets and ledger -----------------------------------------------------------


def move_money(
    session: Session, account_name: str, amount: str, *, kind: MovementKind, clock: Clock
) -> WalletMovement:
    """Deposit into (``kind='deposit'``) or withdraw from (``'withdrawal'``) a wallet."""
    owner = accounts.get_account(session, account_name)
    move = ledger.deposit if kind == "deposit" else ledger.withdraw
    entry = move(session, owner, amount, clock=clock)
    return WalletMovement(
        account=owner.name, kind=kind, amount=_amount(entry.amount),
        balance=_amount(ledger.wallet_balance(session, owner)), created_at=entry.created_at,
    )


def audit(session: Session) -> AuditOut:
    report = ledger.audit(session)
    return AuditOut(
        ok=report.ok, minted=_amount(report.minted), entries=report.entries, lines=report.lines,
        wallets=_amount(report.wallets), stakes=_amount(report.stakes),
        pending=_amount(report.pending), burned=_amount(report.burned),
        deposited=_amount(report.deposited), paid_out=_amount(report.paid_out),
        withdrawn=_amount(report.withdrawn), problems=list(report.problems), summary=str(report),
    )


# --- rounds -----------------------------------------------------------------------


def list_rounds(session: Session) -> list[RoundOut]:
    """Every round, oldest first (``views.rounds.round_listing``)."""
    return [
        RoundOut(
            number=r.round.number, era=r.round.era, status=r.round.status,
            opens_at=r.round.opens_at, closes_at=r.round.closes_at,
            scoring_day=r.round.scoring_day, resolves_after_days=r.round.resolves_after_days,
            models=r.models, at_risk=None if r.at_risk is None else _amount(r.at_risk),
        )
        for r in round_listing(session)
    ]


def event(e: Event) -> EventOut:
    return EventOut(
        kind=e.kind, round_number=e.round_number, day=e.day, detail=e.detail, message=str(e),
    )


def _chosen(tournament: Tournament, number: int | None) -> list[int]:
    chosen = [number] if number is not None else tournament.scoring_rounds()
    if not chosen:
        raise RoundStateError("no round is closed and waiting to be scored")
    return chosen


def score_next_day(tournament: Tournament, number: int | None) -> list[EventOut]:
    """Score the next day of round ``number`` (or of every scoring round); each day is its
    own transaction. Asking for one round that is already resolved is a ``RoundStateError``."""
    events = []
    for chosen in _chosen(tournament, number):
        done = tournament.score_next_day(chosen)
        if done is None and number is not None:
            raise RoundStateError(f"round {number} is already resolved; nothing left to score")
        if done is not None:
            events.append(event(done))
    return events


def resolve(tournament: Tournament, number: int | None) -> list[EventOut]:
    """Score every remaining day of round ``number`` (or of every scoring round) and pay out."""
    events = []
    for chosen in _chosen(tournament, number):
        done = tournament.resolve(chosen)
        if not done and number is not None:
            raise RoundStateError(f"round {number} is already resolved; nothing left to score")
        events.extend(event(e) for e in done)
    return events


# --- leaderboard ------------------------------------------------------------------


def model_leaderboard(session: Session, sort: SortKey) -> list[LeaderboardRow]:
    rows = leaderboard.model_leaderboard(session, sort_by=sort)
    public = dict(session.execute(select(Model.id, Model.public_id)).all())
    return [
        LeaderboardRow(
            rank=row.rank, model=row.name, model_id=public[row.model_id], account=row.account,
            kind=row.kind, corr_rep=_ratio(row.corr_rep), mmc_rep=_ratio(row.mmc_rep),
            bmc_rep=_ratio(row.bmc_rep), fnc_rep=_ratio(row.fnc_rep),
            rounds_scored=row.rounds_scored, stake=_amount(row.stake), paid=_amount(row.paid),
            burned=_amount(row.burned), net=_amount(row.net), at_risk=_amount(row.at_risk),
            return_on_stake=_ratio(row.return_on_stake),
        )
        for row in rows
    ]


__all__ = [
    "audit",
    "create_account",
    "create_key",
    "create_model",
    "event",
    "list_accounts",
    "list_keys",
    "list_rounds",
    "model_leaderboard",
    "move_money",
    "resolve",
    "revoke_key",
    "score_next_day",
]

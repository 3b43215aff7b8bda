"""Small builders for tournament tests: an account with money, a model with a stake."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from crowdalpha.tournament import accounts, ledger, models, stakes
from crowdalpha.tournament.clock import Clock
from crowdalpha.tournament.tables import Account, Model


def account(
    session: Session, clock: Clock, name: str = "alice", funds: str | None = None
) -> Account:
    made = accounts.create_account(session, name, clock=clock)
    if funds is not None:
        ledger.deposit(session, made, Decimal(funds), clock=clock)
    return made


def staked_model(
    session: Session, clock: Clock, owner: Account, name: str, stake: str | None = None
) -> Model:
    model = models.create_model(session, owner, name, clock=clock)
    if stake is not None:
        stakes.increase_stake(session, model, Decimal(stake), by=owner, clock=clock)
    return model

"""Accounts: participants and the one operator account (owner of benchmark models).

Names are lowercase letters, digits and underscores (at most 64), unique.
Creating an account also opens its wallet in the ledger.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crowdalpha.errors import NotFoundError
from crowdalpha.tournament import ledger
from crowdalpha.tournament.clock import Clock, ensure_utc
from crowdalpha.tournament.db import atomic
from crowdalpha.tournament.errors import InvalidNameError, NameTakenError
from crowdalpha.tournament.tables import Account, AccountRole, parse_enum

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_]{0,63}")
#: Name given to the operator account by ``ensure_operator`` unless told otherwise.
OPERATOR_NAME = "operator"


def check_name(name: object, *, what: str) -> str:
    """Return ``name`` if it is a valid account or model name, else raise ``InvalidNameError``."""
    if not isinstance(name, str) or NAME_RE.fullmatch(name) is None:
        raise InvalidNameError(
            f"{what} name {name!r} must be 1 to 64 lowercase letters, digits or underscores, "
            "starting with a letter or digit"
        )
    return name


def create_account(
    session: Session, name: str, *, clock: Clock, role: AccountRole | str = AccountRole.PARTICIPANT
) -> Account:
    """Create an account (and its wallet); ``NameTakenError`` if the name is in use."""
    check_name(name, what="account")
    role = parse_enum(AccountRole, role, "account role")
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise NameTakenError(f"account name '{name}' is taken")
    if role == AccountRole.OPERATOR and get_operator(session, missing_ok=True) is not None:
        raise NameTakenError(
            f"an operator account already exists; cannot make '{name}' a second one"
        )
    try:
        with atomic(session):
            account = Account(
                name=name, role=role, created_at=ensure_utc(clock.now(), name="clock.now()")
            )
            session.add(account)
            session.flush()
            ledger.open_wallet(session, account)
            session.flush()
    except IntegrityError:
        # Lost a race with a concurrent creation of the same name (PostgreSQL).
        if session.scalar(select(Account.id).where(Account.name == name)) is not None:
            raise NameTakenError(f"account name '{name}' is taken") from None
        raise
    return account


def get_account(session: Session, name: str) -> Account:
    """The account called ``name``; ``NotFoundError`` if there is none."""
    account = session.scalars(select(Account).where(Account.name == name)).one_or_none()
    if account is None:
        raise NotFoundError(f"account '{name}' does not exist")
    return account


def get_operator(session: Session, *, missing_ok: bool = False) -> Account | None:
    """The operator account (``NotFoundError`` if none, or None with ``missing_ok``)."""
    account = session.scalars(
        select(Account).where(Account.role == AccountRole.OPERATOR)
    ).one_or_none()
    if account is None and not missing_ok:
        raise NotFoundError("no operator account exists; create it with ensure_operator")
    return account


def ensure_operator(session: Session, *, clock: Clock, name: str = OPERATOR_NAME) -> Account:
    """Return the operator account, creating it as ``name`` on first use (idempotent)."""
    existing = get_operator(session, missing_ok=True)
    if existing is not None:
        return existing
    return create_account(session, name, clock=clock, role=AccountRole.OPERATOR)


def list_accounts(session: Session) -> list[Account]:
    """All accounts, oldest first."""
    return list(session.scalars(select(Account).order_by(Account.id)))


__all__ = [
    "NAME_RE",
    "OPERATOR_NAME",
    "check_name",
    "create_account",
    "ensure_operator",
    "get_account",
    "get_operator",
    "list_accounts",
]

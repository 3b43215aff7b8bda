from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdalpha.errors import CrowdalphaError, NotFoundError
from crowdalpha.tournament import accounts, ledger
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.errors import InvalidNameError, InvalidValueError, NameTakenError
from crowdalpha.tournament.tables import AccountRole, EntryKind, LedgerAccount, LedgerKind


def test_create_account_opens_an_empty_wallet(session: Session, clock: ReplayClock) -> None:
    alice = accounts.create_account(session, "alice", clock=clock)
    assert (alice.name, alice.role, alice.created_at) == (
        "alice",
        AccountRole.PARTICIPANT,
        clock.now(),
    )
    wallet = session.scalars(
        select(LedgerAccount).where(LedgerAccount.account_id == alice.id)
    ).one()
    assert (wallet.kind, wallet.key) == (LedgerKind.WALLET, f"wallet:{alice.id}")
    assert ledger.wallet_balance(session, alice) == 0
    assert accounts.get_account(session, "alice") is alice
    assert accounts.list_accounts(session) == [alice]


def test_names_are_unique_and_checked(session: Session, clock: ReplayClock) -> None:
    accounts.create_account(session, "alice", clock=clock)
    with pytest.raises(NameTakenError, match=r"^name_taken: account name 'alice' is taken$"):
        accounts.create_account(session, "alice", clock=clock)
    for bad in ("", "Alice", "al ice", "_alice", "a" * 65, "alice!", 7):
        with pytest.raises(InvalidNameError, match=r"^invalid_name: account name"):
            accounts.create_account(session, bad, clock=clock)  # type: ignore[arg-type]
    assert [a.name for a in accounts.list_accounts(session)] == ["alice"]


def test_unknown_account_is_not_found(session: Session) -> None:
    with pytest.raises(NotFoundError, match=r"^not_found: account 'bob' does not exist$"):
        accounts.get_account(session, "bob")


def test_operator_is_created_once(session: Session, clock: ReplayClock) -> None:
    assert accounts.get_operator(session, missing_ok=True) is None
    with pytest.raises(NotFoundError, match=r"no operator account"):
        accounts.get_operator(session)
    operator = accounts.ensure_operator(session, clock=clock)
    assert (operator.name, operator.role) == ("operator", AccountRole.OPERATOR)
    assert accounts.ensure_operator(session, clock=clock, name="other") is operator
    with pytest.raises(NameTakenError, match=r"an operator account already exists"):
        accounts.create_account(session, "fund", clock=clock, role="operator")
    with pytest.raises(InvalidValueError, match=r"account role 'boss' is not one of"):
        accounts.create_account(session, "boss", clock=clock, role="boss")


def test_errors_are_crowdalpha_errors() -> None:
    assert issubclass(NameTakenError, CrowdalphaError)
    assert str(NameTakenError("x")) == "name_taken: x"


def test_sign_up_makes_an_account_with_its_password_and_the_grant(
    session: Session, clock: ReplayClock
) -> None:
    alice = accounts.sign_up(session, "alice", "long enough", "long enough",
                             grant=Decimal("100.5"), clock=clock)
    assert accounts.check_password(session, "alice", "long enough") is alice
    [entry] = ledger.journal(session, account=alice)
    assert (entry.kind, entry.amount, entry.memo) == (
        EntryKind.DEPOSIT, Decimal("100.5"), accounts.SIGN_UP_GRANT_MEMO
    )
    assert ledger.wallet_balance(session, alice) == Decimal("100.5")
    bob = accounts.sign_up(session, "bob", "long enough", "long enough", grant=ledger.ZERO,
                           clock=clock)
    assert ledger.journal(session, account=bob) == []


@pytest.mark.parametrize(("name", "password", "again", "error", "message"), [
    ("Bad Name", "short", "other", InvalidNameError, "account name 'Bad Name' must be"),
    ("carol", "short", "other", InvalidValueError, "password is 5 characters long, at least 8"),
    ("carol", "long enough 1", "long enough 2", InvalidValueError,
     "the two passwords differ; type the same password twice"),
    ("alice", "long enough", "long enough", NameTakenError, "account name 'alice' is taken"),
])
def test_sign_up_checks_the_name_then_the_password_then_the_repeat(
    session: Session, clock: ReplayClock, name: str, password: str, again: str,
    error: type[Exception], message: str,
) -> None:
    accounts.create_account(session, "alice", clock=clock)
    with pytest.raises(error, match=re.escape(message)):
        accounts.sign_up(session, name, password, again, grant=Decimal(10), clock=clock)
    assert [a.name for a in accounts.list_accounts(session)] == ["alice"]

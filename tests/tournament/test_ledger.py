from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crowdalpha.tournament import ledger, stakes
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.errors import (
    InsufficientFundsError,
    InvalidAmountError,
    InvalidValueError,
)
from crowdalpha.tournament.tables import (
    EntryKind,
    JournalEntry,
    JournalLine,
    LedgerKind,
    PendingRelease,
    ReleaseStatus,
)
from tests.helpers.db import START
from tests.tournament import factories


def counts(session: Session) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        session.scalar(select(func.count()).select_from(t))
        for t in (JournalEntry, JournalLine, PendingRelease)
    )


def test_deposit_and_withdraw_move_money_through_balanced_entries(
    session: Session, clock: ReplayClock
) -> None:
    alice = factories.account(session, clock)
    entry = ledger.deposit(session, alice, "100.5", clock=clock, memo="bank transfer")
    assert (entry.kind, entry.amount, entry.account_id, entry.memo) == (
        EntryKind.DEPOSIT,
        Decimal("100.5"),
        alice.id,
        "bank transfer",
    )
    assert sorted((line.ledger_account.kind, line.amount) for line in entry.lines) == [
        (LedgerKind.TREASURY, Decimal("-100.5")),
        (LedgerKind.WALLET, Decimal("100.5")),
    ]
    ledger.withdraw(session, alice, Decimal("0.000000001"), clock=clock)
    assert ledger.wallet_balance(session, alice) == Decimal("100.499999999")
    assert ledger.balance(session, ledger.system_account(session, LedgerKind.TREASURY)) == Decimal(
        "-100.5"
    )
    assert [e.kind for e in ledger.journal(session, account=alice)] == [
        EntryKind.WITHDRAWAL,
        EntryKind.DEPOSIT,
    ]
    report = ledger.audit(session)
    assert report.ok, report
    assert (report.entries, report.lines, report.wallets, report.minted, report.withdrawn) == (
        2,
        4,
        Decimal("100.499999999"),
        Decimal("100.5"),
        Decimal("1E-9"),
    )
    assert str(report).endswith("; OK")


def test_overdraw_is_refused_and_writes_nothing(session: Session, clock: ReplayClock) -> None:
    alice = factories.account(session, clock, funds="10.5")
    model = factories.staked_model(session, clock, alice, "m")
    before = counts(session)
    with pytest.raises(
        InsufficientFundsError,
        match=r"^insufficient_funds: account 'alice' has 10.5 available, stake increase of 12 requested$",
    ):
        stakes.increase_stake(session, model, 12, by=alice, clock=clock)
    with pytest.raises(
        InsufficientFundsError,
        match=r"^insufficient_funds: account 'alice' has 10.5 available, withdrawal of 10.500000001 requested$",
    ):
        ledger.withdraw(session, alice, "10.500000001", clock=clock)
    assert counts(session) == before
    assert ledger.wallet_balance(session, alice) == Decimal("10.5")
    assert ledger.audit(session).ok


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (
            0.1,
            "^invalid_amount: deposit 0.1 is a binary float; pass a Decimal or a string such as '0.1'$",
        ),
        (True, "is a bool"),
        ("abc", "'abc' is not a number"),
        ("NaN", "is not finite"),
        (0, "deposit 0 must be positive"),
        (Decimal("-1"), "deposit -1 must be positive"),
        ("0.0000000001", "has more than 9 decimal places"),
        (10**10, "is larger than the maximum"),
        ("1e400", "is larger than the maximum"),  # once crashed while quantizing
    ],
)
def test_bad_amounts_are_refused(
    session: Session, clock: ReplayClock, amount: object, message: str
) -> None:
    alice = factories.account(session, clock)
    with pytest.raises(InvalidAmountError, match=message):
        ledger.deposit(session, alice, amount, clock=clock)  # type: ignore[arg-type]
    assert counts(session) == (0, 0, 0)


def test_amount_helpers() -> None:
    assert ledger.parse_amount(" 1.50 ") == Decimal("1.5")
    assert ledger.quantize_amount(Decimal("1.0000000019")) == Decimal("1.000000001")
    assert ledger.quantize_amount(Decimal("1.0000000015"), rounding=ROUND_HALF_EVEN) == Decimal(
        "1.000000002"
    )
    assert ledger.format_amount(Decimal("12.000000000")) == "12"
    assert ledger.format_amount(Decimal("0E-9")) == "0"
    with pytest.raises(InvalidAmountError, match=r"must be a Decimal"):
        ledger.quantize_amount(1.5)  # type: ignore[arg-type]


def test_post_entry_refuses_unbalanced_or_one_sided_entries(
    session: Session, clock: ReplayClock
) -> None:
    alice = factories.account(session, clock)
    wallet = ledger.wallet_of(session, alice)
    treasury = ledger.system_account(session, LedgerKind.TREASURY)
    with pytest.raises(InvalidValueError, match=r"deposit entry does not balance: lines sum to 1"):
        ledger.post_entry(
            session, EntryKind.DEPOSIT, [(treasury, Decimal(-1)), (wallet, Decimal(2))], clock=clock
        )
    with pytest.raises(InvalidValueError, match=r"needs at least two nonzero lines, got 1"):
        ledger.post_entry(session, EntryKind.DEPOSIT, [(wallet, Decimal(0))], clock=clock)
    with pytest.raises(InvalidValueError, match=r"is per account or model"):
        ledger.system_account(session, LedgerKind.WALLET)
    assert counts(session) == (0, 0, 0)


def test_a_failure_midway_leaves_no_partial_state(
    session: Session, clock: ReplayClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = factories.account(session, clock, funds="50")
    model = factories.staked_model(session, clock, alice, "m", stake="20")
    before = counts(session)

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    # the decrease's journal entry is flushed before the pending release is recorded
    monkeypatch.setattr(stakes, "_record_release", explode)
    with pytest.raises(RuntimeError, match=r"disk on fire"):
        stakes.decrease_stake(
            session, model, "5", by=alice, clock=clock, at_risk_until_round=3
        )
    assert counts(session) == before
    assert stakes.stake_now(session, model) == 20
    assert stakes.pending_release_balance(session, model) == 0
    monkeypatch.undo()
    # the session is still usable and the next operation succeeds
    stakes.decrease_stake(session, model, "5", by=alice, clock=clock, at_risk_until_round=3)
    assert stakes.stake_now(session, model) == 15
    assert ledger.audit(session).ok


def test_audit_detects_a_tampered_line(session: Session, clock: ReplayClock) -> None:
    alice = factories.account(session, clock, funds="100")
    factories.staked_model(session, clock, alice, "m", stake="40")
    assert ledger.audit(session).ok
    deposit_id = session.scalars(
        select(JournalEntry.id).where(JournalEntry.kind == EntryKind.DEPOSIT)
    ).one()
    wallet_line = (
        select(JournalLine.id)
        .where(JournalLine.entry_id == deposit_id, JournalLine.amount > 0)
        .scalar_subquery()
    )
    session.execute(
        update(JournalLine).where(JournalLine.id == wallet_line).values(amount=Decimal("1000"))
    )
    session.expire_all()
    report = ledger.audit(session)
    assert not report.ok
    problems = "\n".join(report.problems)
    assert (
        f"entry {deposit_id} (deposit, 2024-01-06T18:00:00+00:00) does not balance: its lines sum to 900"
        in problems
    )
    assert (
        f"entry {deposit_id} (deposit, 2024-01-06T18:00:00+00:00) states amount 100 but moves 1000"
        in problems
    )
    assert (
        "totals identity broken: wallets + stakes + pending + burned = 1000, but minted 100 - withdrawn 0 = 100"
        in problems
    )
    assert "problem(s):" in str(report)


def post_raw(session: Session, kind: EntryKind, lines: list, **columns: object) -> None:
    """Write an entry straight to the tables, bypassing every check (to tamper)."""
    amount = sum((a for _, a in lines if a > 0), Decimal(0))
    session.add(
        JournalEntry(
            kind=kind,
            amount=amount,
            created_at=START,
            lines=[JournalLine(ledger_account_id=la.id, amount=a) for la, a in lines],
            **columns,
        )
    )
    session.flush()


def test_post_entry_refuses_lines_its_kind_may_not_have(
    session: Session, clock: ReplayClock
) -> None:
    bob = factories.account(session, clock, "bob", funds="5")
    burned = ledger.system_account(session, LedgerKind.BURNED)
    with pytest.raises(
        InvalidValueError,
        match=r"^invalid_value: a payout entry may not debit ledger account 'wallet:\d+'$",
    ):
        ledger.post_entry(
            session,
            EntryKind.PAYOUT,
            [(ledger.wallet_of(session, bob), Decimal(-1)), (burned, Decimal(1))],
            clock=clock,
        )


def test_audit_detects_wrong_shapes_overdraws_and_stray_releases(
    session: Session, clock: ReplayClock
) -> None:
    alice = factories.account(session, clock, funds="10")
    bob = factories.account(session, clock, "bob")
    model = factories.staked_model(session, clock, bob, "bobs")
    # balanced but wrong: alice's wallet straight into bob's model, and more than she has
    post_raw(
        session,
        EntryKind.STAKE_INCREASE,
        [
            (ledger.wallet_of(session, alice), Decimal(-15)),
            (ledger.stake_account_of(session, model), Decimal(15)),
        ],
        account_id=alice.id,
        model_id=model.id,
    )
    post_raw(
        session,
        EntryKind.PAYOUT,
        [
            (ledger.wallet_of(session, bob), Decimal(-1)),
            (ledger.system_account(session, LedgerKind.BURNED), Decimal(1)),
        ],
    )
    # a pending release with no money behind it
    session.add(
        PendingRelease(
            model_id=model.id,
            amount=Decimal(3),
            burned=Decimal(0),
            requested_at=START,
            release_after_round=1,
            status=ReleaseStatus.PENDING,
            request_entry_id=session.scalars(select(JournalEntry.id)).first(),
        )
    )
    session.flush()
    problems = "\n".join(ledger.audit(session).problems)
    assert "which is not the wallet of its owner" in problems
    assert "wallet of account 'alice' went to -5 at entry" in problems
    assert "may not debit wallet of account 'bob' (-1)" in problems
    assert "may not credit burned (1)" in problems
    assert "burned balance 1 does not match the burn entries (0)" in problems
    assert (
        "pending releases of model 'bobs' add up to 3 but its pending_release account holds 0"
        in problems
    )

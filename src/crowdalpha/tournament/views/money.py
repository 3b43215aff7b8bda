"""Money as the screens show it: tournament-wide totals by kind of ledger account, and the
movements of an account's wallet."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdalpha.tournament import ledger
from crowdalpha.tournament.ledger import ZERO
from crowdalpha.tournament.tables import (
    Account,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    LedgerKind,
)


@dataclass(frozen=True)
class MoneyTotals:
    """Tournament-wide ledger sums: active stakes, stakes awaiting release, paid, burned and
    deposited (all positive as shown)."""

    staked: Decimal = ZERO
    pending: Decimal = ZERO
    paid: Decimal = ZERO
    burned: Decimal = ZERO
    deposited: Decimal = ZERO


def money_totals(session: Session) -> MoneyTotals:
    """Balances of every kind of ledger account, summed in one query."""
    rows = session.execute(
        select(LedgerAccount.kind, func.sum(JournalLine.amount))
        .join(JournalLine, JournalLine.ledger_account_id == LedgerAccount.id)
        .group_by(LedgerAccount.kind)
    ).all()
    by_kind = {LedgerKind(kind): total or ZERO for kind, total in rows}
    return MoneyTotals(
        staked=by_kind.get(LedgerKind.STAKE, ZERO),
        pending=by_kind.get(LedgerKind.PENDING_RELEASE, ZERO),
        paid=-by_kind.get(LedgerKind.PAYOUT_POOL, ZERO),
        burned=by_kind.get(LedgerKind.BURNED, ZERO),
        deposited=-by_kind.get(LedgerKind.TREASURY, ZERO),
    )


@dataclass(frozen=True)
class WalletMovement:
    """One journal entry that moved an account's wallet: the signed ``amount`` it moved, the
    wallet's ledger key and the key of the other side (None when there is none)."""

    entry: JournalEntry
    amount: Decimal
    wallet_key: str
    counterpart_key: str | None


def wallet_movements(session: Session, account: Account) -> list[WalletMovement]:
    """Every journal line that moved ``account``'s wallet, newest first (two queries)."""
    wallet = ledger.wallet_of(session, account)
    rows = session.execute(
        select(JournalEntry, JournalLine.amount)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalLine.ledger_account_id == wallet.id)
        .order_by(JournalEntry.id.desc())
    ).all()
    others: dict[int, str] = {}
    if rows:
        others = dict(session.execute(
            select(JournalLine.entry_id, LedgerAccount.key)
            .join(LedgerAccount, LedgerAccount.id == JournalLine.ledger_account_id)
            .where(JournalLine.entry_id.in_([entry.id for entry, _ in rows]),
                   JournalLine.ledger_account_id != wallet.id)
        ).all())
    return [WalletMovement(entry, amount, wallet.key, others.get(entry.id)) for entry, amount in rows]


__all__ = ["MoneyTotals", "WalletMovement", "money_totals", "wallet_movements"]

"""Money as the screens show it: tournament-wide totals by kind of ledger account."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdalpha.tournament.ledger import ZERO
from crowdalpha.tournament.tables import JournalLine, LedgerAccount, LedgerKind


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


__all__ = ["MoneyTotals", "money_totals"]

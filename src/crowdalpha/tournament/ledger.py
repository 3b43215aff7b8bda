"""The double-entry ledger: every movement of money is one balanced journal entry.

Ledger accounts (``LedgerKind``): a wallet per account, a stake and a
pending-release account per model, two mints (``treasury`` for deposits,
``payout_pool`` for positive payouts) and two sinks (``burned``,
``withdrawals``). A line's amount is signed: + into the ledger account, - out.
Each entry has at least two lines summing to zero, so at all times::

    wallets + stakes + pending releases + burned = deposited + paid out - withdrawn

``audit`` proves it from the stored rows. Amounts are exact ``Decimal`` with
``MONEY_PLACES`` (9) decimal places; floats are refused. Functions take a
session and never commit; a failed operation writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdalpha.tournament.clock import Clock, ensure_utc
from crowdalpha.tournament.db import atomic
from crowdalpha.tournament.errors import (
    InsufficientFundsError,
    InvalidAmountError,
    InvalidValueError,
)
from crowdalpha.tournament.tables import (
    MONEY_MAX,
    MONEY_PLACES,
    QUANTUM,
    Account,
    EntryKind,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    LedgerKind,
    Model,
    PendingRelease,
    ReleaseStatus,
)

ZERO = Decimal(0).quantize(QUANTUM)

#: Holdings (never negative), sources (never positive) and sinks (never negative).
HOLDING_KINDS = frozenset({LedgerKind.WALLET, LedgerKind.STAKE, LedgerKind.PENDING_RELEASE})
SOURCE_KINDS = frozenset({LedgerKind.TREASURY, LedgerKind.PAYOUT_POOL})
SINK_KINDS = frozenset({LedgerKind.BURNED, LedgerKind.WITHDRAWALS})

#: For each kind of entry, the (ledger kind, sign) pairs its lines may have.
ENTRY_SHAPES: dict[EntryKind, frozenset[tuple[LedgerKind, int]]] = {
    EntryKind.DEPOSIT: frozenset({(LedgerKind.TREASURY, -1), (LedgerKind.WALLET, 1)}),
    EntryKind.WITHDRAWAL: frozenset({(LedgerKind.WALLET, -1), (LedgerKind.WITHDRAWALS, 1)}),
    EntryKind.STAKE_INCREASE: frozenset({(LedgerKind.WALLET, -1), (LedgerKind.STAKE, 1)}),
    EntryKind.STAKE_DECREASE: frozenset({(LedgerKind.STAKE, -1), (LedgerKind.PENDING_RELEASE, 1)}),
    EntryKind.STAKE_RELEASE: frozenset({(LedgerKind.PENDING_RELEASE, -1), (LedgerKind.WALLET, 1)}),
    EntryKind.PAYOUT: frozenset({(LedgerKind.PAYOUT_POOL, -1), (LedgerKind.STAKE, 1)}),
    EntryKind.BURN: frozenset(
        {(LedgerKind.STAKE, -1), (LedgerKind.PENDING_RELEASE, -1), (LedgerKind.BURNED, 1)}
    ),
}

# --- amounts -----------------------------------------------------------------


def parse_amount(value: Decimal | int | str, *, what: str = "amount") -> Decimal:
    """Validate a user-given amount: positive, finite, at most 9 decimal places; never a float."""
    if isinstance(value, float):
        raise InvalidAmountError(
            f"{what} {value!r} is a binary float; pass a Decimal or a string such as '{value}'"
        )
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidAmountError(
            f"{what} {value!r} is a {type(value).__name__}, expected a Decimal, int or str"
        )
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise InvalidAmountError(f"{what} {value!r} is not a number") from None
    if not amount.is_finite():
        raise InvalidAmountError(f"{what} {value!r} is not finite")
    if amount <= 0:
        raise InvalidAmountError(f"{what} {value} must be positive")
    if amount > MONEY_MAX:  # checked first: quantizing a huge number overflows the context
        raise InvalidAmountError(
            f"{what} {value} is larger than the maximum {format_amount(MONEY_MAX)}"
        )
    if amount != amount.quantize(QUANTUM, rounding=ROUND_DOWN):
        raise InvalidAmountError(f"{what} {value} has more than {MONEY_PLACES} decimal places")
    return amount.quantize(QUANTUM)


def quantize_amount(value: Decimal, *, rounding: str = ROUND_DOWN) -> Decimal:
    """Round a computed amount (e.g. stake * payout fraction) to the ledger's 9 places."""
    if not isinstance(value, Decimal):
        raise InvalidAmountError(
            f"computed amount {value!r} must be a Decimal, got {type(value).__name__}"
        )
    return value.quantize(QUANTUM, rounding=rounding)


def format_amount(value: Decimal) -> str:
    """Plain decimal text without trailing zeros: ``Decimal('10.500000000')`` -> ``'10.5'``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


# --- ledger accounts ---------------------------------------------------------


def account_key(kind: LedgerKind, owner_id: int | None = None) -> str:
    """The unique key of a ledger account: ``'treasury'``, ``'wallet:3'``, ``'stake:7'``."""
    return str(kind) if owner_id is None else f"{kind}:{owner_id}"


def open_wallet(session: Session, account: Account) -> LedgerAccount:
    """Create the wallet of a freshly flushed account (called by ``accounts.create_account``)."""
    wallet = LedgerAccount(
        key=account_key(LedgerKind.WALLET, account.id), kind=LedgerKind.WALLET, account_id=account.id
    )
    session.add(wallet)
    return wallet


def open_model_accounts(session: Session, model: Model) -> tuple[LedgerAccount, LedgerAccount]:
    """Create the stake and pending-release accounts of a freshly flushed model."""
    made = tuple(
        LedgerAccount(key=account_key(kind, model.id), kind=kind, model_id=model.id)
        for kind in (LedgerKind.STAKE, LedgerKind.PENDING_RELEASE)
    )
    session.add_all(made)
    return made[0], made[1]


def _by_key(session: Session, key: str, *, lock: bool = False) -> LedgerAccount:
    stmt = select(LedgerAccount).where(LedgerAccount.key == key)
    if lock:
        # Serializes balance checks on PostgreSQL; SQLite serializes writers anyway.
        stmt = stmt.with_for_update()
    found = session.scalars(stmt).one_or_none()
    if found is None:
        raise InvalidValueError(
            f"ledger account '{key}' does not exist; was the database migrated?"
        )
    return found


def wallet_of(session: Session, account: Account, *, lock: bool = False) -> LedgerAccount:
    return _by_key(session, account_key(LedgerKind.WALLET, account.id), lock=lock)


def stake_account_of(session: Session, model: Model, *, lock: bool = False) -> LedgerAccount:
    return _by_key(session, account_key(LedgerKind.STAKE, model.id), lock=lock)


def pending_account_of(session: Session, model: Model, *, lock: bool = False) -> LedgerAccount:
    return _by_key(session, account_key(LedgerKind.PENDING_RELEASE, model.id), lock=lock)


def system_account(session: Session, kind: LedgerKind) -> LedgerAccount:
    """One of the tournament-wide accounts: treasury, payout_pool, burned, withdrawals."""
    if kind in HOLDING_KINDS:
        raise InvalidValueError(
            f"ledger kind '{kind}' is per account or model, not tournament-wide"
        )
    return _by_key(session, account_key(kind))


# --- balances ----------------------------------------------------------------


def balance(
    session: Session, ledger_account: LedgerAccount, *, before: datetime | None = None
) -> Decimal:
    """Balance of a ledger account; with ``before``, only entries created strictly before it."""
    stmt = select(func.coalesce(func.sum(JournalLine.amount), 0)).where(
        JournalLine.ledger_account_id == ledger_account.id
    )
    if before is not None:
        stmt = stmt.join(JournalEntry, JournalEntry.id == JournalLine.entry_id).where(
            JournalEntry.created_at < ensure_utc(before, name="before")
        )
    session.flush()
    return session.scalar(stmt) or ZERO


def wallet_balance(session: Session, account: Account) -> Decimal:
    """Money in the account's wallet: free to withdraw or stake."""
    return balance(session, wallet_of(session, account))


# --- posting -----------------------------------------------------------------


def post_entry(
    session: Session,
    kind: EntryKind,
    lines: Sequence[tuple[LedgerAccount, Decimal]],
    *,
    clock: Clock,
    account: Account | None = None,
    model: Model | None = None,
    round_number: int | None = None,
    memo: str | None = None,
    flush: bool = True,
) -> JournalEntry:
    """Record one balanced entry (>= 2 nonzero lines summing to zero); the low-level primitive.

    Refuses entries that cannot be right (unbalanced, or lines its kind may not
    have, see ``ENTRY_SHAPES``); callers check balances and ownership first.
    ``flush=False`` leaves the insert to the caller's next flush (batches).
    """
    if len(lines) < 2 or any(amount == 0 for _, amount in lines):
        raise InvalidValueError(f"{kind} entry needs at least two nonzero lines, got {len(lines)}")
    total = sum((amount for _, amount in lines), ZERO)
    if total != 0:
        raise InvalidValueError(
            f"{kind} entry does not balance: lines sum to {format_amount(total)}"
        )
    allowed = ENTRY_SHAPES[kind]
    for la, amount in lines:
        if (la.kind, 1 if amount > 0 else -1) not in allowed:
            direction = "credit" if amount > 0 else "debit"
            raise InvalidValueError(f"a {kind} entry may not {direction} ledger account '{la.key}'")
    gross = sum((amount for _, amount in lines if amount > 0), ZERO)
    entry = JournalEntry(
        kind=kind,
        amount=gross,
        created_at=ensure_utc(clock.now(), name="clock.now()"),
        account_id=None if account is None else account.id,
        model_id=None if model is None else model.id,
        round_number=round_number,
        memo=memo,
        lines=[JournalLine(ledger_account_id=la.id, amount=amount) for la, amount in lines],
    )
    session.add(entry)
    if flush:
        session.flush()
    return entry


def require_available(
    session: Session, account: Account, amount: Decimal, *, purpose: str
) -> LedgerAccount:
    """Lock the wallet and check it holds ``amount``; raise ``InsufficientFundsError`` if not."""
    wallet = wallet_of(session, account, lock=True)
    available = balance(session, wallet)
    if amount > available:
        raise InsufficientFundsError(
            f"account '{account.name}' has {format_amount(available)} available, "
            f"{purpose} of {format_amount(amount)} requested"
        )
    return wallet


def deposit(
    session: Session,
    account: Account,
    amount: Decimal | int | str,
    *,
    clock: Clock,
    memo: str | None = None,
) -> JournalEntry:
    """Mint ``amount`` from the treasury into the account's wallet."""
    value = parse_amount(amount, what="deposit")
    with atomic(session):
        treasury = system_account(session, LedgerKind.TREASURY)
        wallet = wallet_of(session, account)
        return post_entry(
            session,
            EntryKind.DEPOSIT,
            [(treasury, -value), (wallet, value)],
            clock=clock,
            account=account,
            memo=memo,
        )


def withdraw(
    session: Session,
    account: Account,
    amount: Decimal | int | str,
    *,
    clock: Clock,
    memo: str | None = None,
) -> JournalEntry:
    """Move ``amount`` out of the wallet to the withdrawals sink; never more than it holds."""
    value = parse_amount(amount, what="withdrawal")
    with atomic(session):
        wallet = require_available(session, account, value, purpose="withdrawal")
        sink = system_account(session, LedgerKind.WITHDRAWALS)
        return post_entry(
            session,
            EntryKind.WITHDRAWAL,
            [(wallet, -value), (sink, value)],
            clock=clock,
            account=account,
            memo=memo,
        )


def journal(
    session: Session,
    *,
    account: Account | None = None,
    model: Model | None = None,
    limit: int | None = None,
) -> list[JournalEntry]:
    """Entries, newest first, optionally only those of one account or model."""
    stmt = select(JournalEntry).order_by(JournalEntry.id.desc())
    if account is not None:
        stmt = stmt.where(JournalEntry.account_id == account.id)
    if model is not None:
        stmt = stmt.where(JournalEntry.model_id == model.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


# --- audit -------------------------------------------------------------------


@dataclass(frozen=True)
class AuditReport:
    """What ``audit`` found: totals by kind of ledger account and every problem, in words."""

    entries: int
    lines: int
    wallets: Decimal
    stakes: Decimal
    pending: Decimal
    burned: Decimal
    deposited: Decimal
    paid_out: Decimal
    withdrawn: Decimal
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def minted(self) -> Decimal:
        return self.deposited + self.paid_out

    def __str__(self) -> str:
        f = format_amount
        head = (
            f"ledger audit: {self.entries} entries, {self.lines} lines; "
            f"wallets {f(self.wallets)} + stakes {f(self.stakes)} + pending {f(self.pending)} "
            f"+ burned {f(self.burned)} = minted {f(self.minted)} - withdrawn {f(self.withdrawn)}"
        )
        if self.ok:
            return head + "; OK"
        return "\n".join(
            [head + f"; {len(self.problems)} problem(s):", *(f"- {p}" for p in self.problems)]
        )


@dataclass
class _EntryLines:
    entry_id: int
    kind: str
    amount: Decimal
    created_at: datetime
    account_id: int | None
    model_id: int | None
    lines: list[tuple[int, Decimal]] = field(default_factory=list)


def audit(session: Session) -> AuditReport:
    """Re-derive every balance from the stored lines and list anything that is not right.

    Checks: each entry has >= 2 nonzero lines summing to zero, of the shape its
    kind allows, touching the account and model it names (a model's stake only
    with its owner's wallet) and moving its stated amount; no holding or sink
    ever goes negative and no mint positive; the totals identity; the pending
    release records agree with the pending-release accounts.
    """
    session.flush()
    problems: list[str] = []
    ledger = {la.id: la for la in session.scalars(select(LedgerAccount))}
    owner_of_model = dict(session.execute(select(Model.id, Model.account_id)).all())
    names = dict(session.execute(select(Account.id, Account.name)).all())
    model_names = dict(session.execute(select(Model.id, Model.name)).all())

    def label(la: LedgerAccount) -> str:
        if la.account_id is not None:
            return f"{la.kind} of account '{names.get(la.account_id, la.account_id)}'"
        if la.model_id is not None:
            return f"{la.kind} of model '{model_names.get(la.model_id, la.model_id)}'"
        return str(la.kind)

    running: dict[int, Decimal] = defaultdict(lambda: ZERO)
    went_wrong: set[int] = set()
    totals_by_kind: dict[str, Decimal] = defaultdict(lambda: ZERO)
    n_entries = n_lines = 0

    def check(e: _EntryLines) -> None:
        where = f"entry {e.entry_id} ({e.kind}, {e.created_at.isoformat()})"
        if len(e.lines) < 2:
            problems.append(f"{where} has {len(e.lines)} line(s), needs at least 2")
        total = sum((a for _, a in e.lines), ZERO)
        if total != 0:
            problems.append(f"{where} does not balance: its lines sum to {format_amount(total)}")
        gross = sum((a for _, a in e.lines if a > 0), ZERO)
        if gross != e.amount:
            problems.append(
                f"{where} states amount {format_amount(e.amount)} but moves {format_amount(gross)}"
            )
        if e.amount <= 0:
            problems.append(f"{where} has non-positive amount {format_amount(e.amount)}")
        totals_by_kind[e.kind] += e.amount
        try:
            allowed = ENTRY_SHAPES[EntryKind(e.kind)]
        except ValueError:
            problems.append(f"{where} has unknown kind '{e.kind}'")
            allowed = frozenset()
        for la_id, amount in e.lines:
            la = ledger.get(la_id)
            if la is None:
                problems.append(f"{where} has a line on unknown ledger account {la_id}")
                continue
            if amount == 0:
                problems.append(f"{where} has a zero line on {label(la)}")
                continue
            sign = 1 if amount > 0 else -1
            if (la.kind, sign) not in allowed:
                problems.append(
                    f"{where} may not {'credit' if sign > 0 else 'debit'} {label(la)} "
                    f"({format_amount(amount)})"
                )
            if la.kind == LedgerKind.WALLET:
                expected = e.account_id
                if e.model_id is not None:
                    expected = owner_of_model.get(e.model_id)
                if la.account_id != expected:
                    problems.append(
                        f"{where} touches {label(la)}, which is not the wallet of its owner"
                    )
            if la.model_id is not None and la.model_id != e.model_id:
                problems.append(f"{where} touches {label(la)} but names model {e.model_id}")
            running[la_id] += amount
            bad = running[la_id] > 0 if la.kind in SOURCE_KINDS else running[la_id] < 0
            if bad and la_id not in went_wrong:
                went_wrong.add(la_id)
                problems.append(
                    f"{label(la)} went to {format_amount(running[la_id])} at entry {e.entry_id}"
                )

    stmt = (
        select(
            JournalEntry.id,
            JournalEntry.kind,
            JournalEntry.amount,
            JournalEntry.created_at,
            JournalEntry.account_id,
            JournalEntry.model_id,
            JournalLine.ledger_account_id,
            JournalLine.amount,
        )
        .outerjoin(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .order_by(JournalEntry.id, JournalLine.id)
        .execution_options(yield_per=10_000)
    )
    current: _EntryLines | None = None
    for row in session.execute(stmt):
        entry_id, kind, amount, created_at, account_id, model_id, la_id, line_amount = row
        if current is None or current.entry_id != entry_id:
            if current is not None:
                check(current)
            n_entries += 1
            current = _EntryLines(entry_id, str(kind), amount, created_at, account_id, model_id)
        if la_id is not None:
            n_lines += 1
            current.lines.append((la_id, line_amount))
    if current is not None:
        check(current)

    by_ledger_kind: dict[LedgerKind, Decimal] = defaultdict(lambda: ZERO)
    for la_id, value in running.items():
        if la_id in ledger:
            by_ledger_kind[ledger[la_id].kind] += value

    deposited = totals_by_kind[EntryKind.DEPOSIT]
    paid_out = totals_by_kind[EntryKind.PAYOUT]
    withdrawn = totals_by_kind[EntryKind.WITHDRAWAL]
    report_totals = {
        "wallets": by_ledger_kind[LedgerKind.WALLET],
        "stakes": by_ledger_kind[LedgerKind.STAKE],
        "pending": by_ledger_kind[LedgerKind.PENDING_RELEASE],
        "burned": by_ledger_kind[LedgerKind.BURNED],
    }
    held = sum(report_totals.values(), ZERO)
    if held != deposited + paid_out - withdrawn:
        problems.append(
            f"totals identity broken: wallets + stakes + pending + burned = {format_amount(held)}, "
            f"but minted {format_amount(deposited + paid_out)} - withdrawn {format_amount(withdrawn)} "
            f"= {format_amount(deposited + paid_out - withdrawn)}"
        )
    for kind, expected, what in (
        (LedgerKind.TREASURY, -deposited, "deposit entries"),
        (LedgerKind.PAYOUT_POOL, -paid_out, "payout entries"),
        (LedgerKind.WITHDRAWALS, withdrawn, "withdrawal entries"),
        (LedgerKind.BURNED, totals_by_kind[EntryKind.BURN], "burn entries"),
    ):
        if by_ledger_kind[kind] != expected:
            problems.append(
                f"{kind} balance {format_amount(by_ledger_kind[kind])} does not match the "
                f"{what} ({format_amount(expected)})"
            )

    problems.extend(_audit_pending_releases(session, ledger, running, model_names))
    return AuditReport(
        entries=n_entries,
        lines=n_lines,
        deposited=deposited,
        paid_out=paid_out,
        withdrawn=withdrawn,
        problems=tuple(problems),
        **report_totals,
    )


def _audit_pending_releases(
    session: Session,
    ledger: dict[int, LedgerAccount],
    running: dict[int, Decimal],
    model_names: dict[int, str],
) -> list[str]:
    problems: list[str] = []
    outstanding: dict[int, Decimal] = defaultdict(lambda: ZERO)
    release_amounts = dict(
        session.execute(
            select(JournalEntry.id, JournalEntry.amount).where(
                JournalEntry.kind == EntryKind.STAKE_RELEASE
            )
        ).all()
    )
    for pr in session.scalars(select(PendingRelease).order_by(PendingRelease.id)):
        name = model_names.get(pr.model_id, pr.model_id)
        if pr.status == ReleaseStatus.PENDING:
            outstanding[pr.model_id] += pr.remaining
        elif pr.released_at is None:
            problems.append(
                f"pending release {pr.id} of model '{name}' is released but has no release time"
            )
        elif pr.remaining > 0 and release_amounts.get(pr.release_entry_id or -1) != pr.remaining:
            problems.append(
                f"pending release {pr.id} of model '{name}' released {format_amount(pr.remaining)} "
                f"but its release entry {pr.release_entry_id} does not move that amount"
            )
    for la in ledger.values():
        if la.kind == LedgerKind.PENDING_RELEASE and la.model_id is not None:
            held = running.get(la.id, ZERO)
            if held != outstanding.get(la.model_id, ZERO):
                problems.append(
                    f"pending releases of model '{model_names.get(la.model_id, la.model_id)}' add up to "
                    f"{format_amount(outstanding.get(la.model_id, ZERO))} but its pending_release account "
                    f"holds {format_amount(held)}"
                )
    return problems


__all__ = [
    "ENTRY_SHAPES",
    "HOLDING_KINDS",
    "SINK_KINDS",
    "SOURCE_KINDS",
    "ZERO",
    "AuditReport",
    "account_key",
    "audit",
    "balance",
    "deposit",
    "format_amount",
    "journal",
    "open_model_accounts",
    "open_wallet",
    "parse_amount",
    "pending_account_of",
    "post_entry",
    "quantize_amount",
    "require_available",
    "stake_account_of",
    "system_account",
    "wallet_balance",
    "wallet_of",
    "withdraw",
]

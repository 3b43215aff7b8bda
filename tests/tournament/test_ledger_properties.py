"""Random sequences of money movements never break the ledger's invariants.

A plain-Python reference model predicts every balance and every refusal; the
database must agree with it, refused operations must write nothing, the audit
must stay clean, and frozen stakes at past closes must not change.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdalpha.tournament import accounts, ledger, models, stakes
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.errors import (
    InsufficientFundsError,
    InsufficientStakeError,
    PermissionDeniedError,
)
from crowdalpha.tournament.ledger import quantize_amount
from crowdalpha.tournament.tables import JournalEntry
from tests.helpers.db import START

ACCOUNTS = 2
MODELS = 2  # model i belongs to account OWNER[i]
OWNER = (0, 1)

# Small amounts against larger deposits, few rounds: most operations succeed and interact.
amounts = st.one_of(
    st.integers(1, 40).map(Decimal),
    st.integers(1, 40 * 10**9).map(lambda n: Decimal(n).scaleb(-9)),
)
deposits = st.integers(1, 200).map(Decimal) | amounts
# Withdrawals, stake changes and burns take a percentage of what is there (up to 120%),
# so both the edge (exactly all of it) and overdraws come up often.
shares = st.sampled_from([100, 120]) | st.integers(1, 120)
rounds = st.integers(0, 3)
# Decreases and burns twice as likely as the rest: their interplay (burns reaching
# pending releases) is where the rules are subtle.
decreases = st.tuples(
    st.just("decrease"), st.integers(0, MODELS - 1), shares, st.sampled_from([None, 1, 2, 3])
)
burns = st.tuples(st.just("burn"), st.integers(0, MODELS - 1), shares, rounds)
operations = st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, ACCOUNTS - 1), deposits),
    st.tuples(st.just("withdraw"), st.integers(0, ACCOUNTS - 1), shares),
    st.tuples(st.just("increase"), st.integers(0, MODELS - 1), shares),
    st.tuples(st.just("foreign_increase"), st.integers(0, MODELS - 1), amounts),
    decreases,
    decreases,
    st.tuples(st.just("release"), rounds),
    st.tuples(st.just("payout"), st.integers(0, MODELS - 1), amounts, rounds),
    burns,
    burns,
    st.tuples(st.just("close"), st.integers(1, 48)),
    # a round's settlement: every model at once, percent of what it has at risk, signed
    st.tuples(st.just("settle"), st.integers(-120, 120), st.integers(-120, 120), rounds),
)


@dataclass
class Pending:
    model: int
    amount: Decimal
    until: int
    burned: Decimal = Decimal(0)
    released: bool = False

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.burned


@dataclass
class Reference:
    """What the ledger should hold, computed without a database."""

    wallet: list[Decimal] = field(default_factory=lambda: [Decimal(0)] * ACCOUNTS)
    stake: list[Decimal] = field(default_factory=lambda: [Decimal(0)] * MODELS)
    pending: list[Pending] = field(default_factory=list)
    burned: Decimal = Decimal(0)
    minted: Decimal = Decimal(0)
    withdrawn: Decimal = Decimal(0)

    def pending_of(self, model: int) -> Decimal:
        return sum(
            (p.remaining for p in self.pending if p.model == model and not p.released), Decimal(0)
        )

    def at_risk(self, model: int, round_number: int) -> list[Pending]:
        return [
            p for p in self.pending
            if p.model == model and not p.released and p.until >= round_number
        ]

    def reachable(self, model: int, round_number: int) -> Decimal:
        """What a burn of the round can take: the stake plus the releases still at risk."""
        return self.stake[model] + sum(
            (p.remaining for p in self.at_risk(model, round_number)), Decimal(0)
        )

    def burn(self, model: int, amount: Decimal, round_number: int) -> None:
        """The stake first, then the releases at risk, oldest first."""
        take = min(amount, self.stake[model])
        self.stake[model] -= take
        left = amount - take
        for p in self.at_risk(model, round_number):
            bite = min(left, p.remaining)
            p.burned += bite
            left -= bite
        self.burned += amount


def share(base: Decimal, percent: int) -> Decimal:
    """``percent`` % of ``base`` on the ledger's grid; never zero, so an empty base overdraws."""
    return max(quantize_amount(base * percent / 100), Decimal("0.000000001"))


def entry_count(session: Session) -> int:
    return session.scalar(select(func.count(JournalEntry.id))) or 0


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    funds=st.lists(st.integers(0, 100).map(Decimal), min_size=ACCOUNTS, max_size=ACCOUNTS),
    ops=st.lists(operations, min_size=10, max_size=40),
)
def test_random_movements_keep_the_books_straight(
    new_session: Callable[[], AbstractContextManager[Session]],
    funds: list[Decimal],
    ops: list[tuple],
) -> None:
    with new_session() as session:
        clock = ReplayClock(START)
        people = [accounts.create_account(session, f"p{i}", clock=clock) for i in range(ACCOUNTS)]
        owned = [
            models.create_model(session, people[OWNER[m]], f"m{m}", clock=clock)
            for m in range(MODELS)
        ]
        ref = Reference()
        # start with money in every wallet and half of it staked, so operations interact
        for m, model in enumerate(owned):
            owner = OWNER[m]
            if funds[owner] > 0:
                ledger.deposit(session, people[owner], funds[owner], clock=clock)
                stakes.increase_stake(
                    session, model, funds[owner] / 2, by=people[owner], clock=clock
                )
                ref.wallet[owner] += funds[owner] / 2
                ref.stake[m] += funds[owner] / 2
                ref.minted += funds[owner]
        closes: list[tuple[datetime, list[Decimal]]] = []

        for op in ops:
            kind = op[0]
            before = entry_count(session)
            refused: type[Exception] | None = None
            try:
                if kind == "deposit":
                    _, a, x = op
                    ledger.deposit(session, people[a], x, clock=clock)
                    ref.wallet[a] += x
                    ref.minted += x
                elif kind == "withdraw":
                    _, a, pct = op
                    x = share(ref.wallet[a], pct)
                    refused = InsufficientFundsError if x > ref.wallet[a] else None
                    ledger.withdraw(session, people[a], x, clock=clock)
                    ref.wallet[a] -= x
                    ref.withdrawn += x
                elif kind in ("increase", "foreign_increase"):
                    _, m, x = op
                    payer = OWNER[m] if kind == "increase" else 1 - OWNER[m]
                    if kind == "increase":
                        x = share(ref.wallet[payer], x)
                    if kind == "foreign_increase":
                        refused = PermissionDeniedError
                    elif x > ref.wallet[payer]:
                        refused = InsufficientFundsError
                    stakes.increase_stake(session, owned[m], x, by=people[payer], clock=clock)
                    ref.wallet[payer] -= x
                    ref.stake[m] += x
                elif kind == "decrease":
                    _, m, pct, until = op
                    x = share(ref.stake[m], pct)
                    refused = InsufficientStakeError if x > ref.stake[m] else None
                    stakes.decrease_stake(
                        session,
                        owned[m],
                        x,
                        by=people[OWNER[m]],
                        clock=clock,
                        at_risk_until_round=until,
                    )
                    ref.stake[m] -= x
                    if until is None:
                        ref.wallet[OWNER[m]] += x
                    else:
                        ref.pending.append(Pending(m, x, until))
                elif kind == "release":
                    _, r = op
                    stakes.release_due(session, r, clock=clock)
                    for p in ref.pending:
                        if not p.released and p.until <= r:
                            p.released = True
                            ref.wallet[OWNER[p.model]] += p.remaining
                elif kind == "payout":
                    _, m, x, r = op
                    stakes.payout(session, owned[m], x, round_number=r, clock=clock)
                    ref.stake[m] += x
                    ref.minted += x
                elif kind == "burn":
                    _, m, pct, r = op
                    reachable = ref.reachable(m, r)
                    x = share(reachable, pct)
                    refused = InsufficientStakeError if x > reachable else None
                    stakes.burn(session, owned[m], x, round_number=r, clock=clock)
                    ref.burn(m, x, r)
                elif kind == "settle":
                    _, p0, p1, r = op
                    results, expected = {}, {}
                    for m, pct in enumerate((p0, p1)):
                        reachable = ref.reachable(m, r)
                        x = share(reachable, abs(pct))
                        results[owned[m]] = x if pct >= 0 else -x
                        if pct >= 0:
                            ref.stake[m] += x
                            ref.minted += x
                            expected[m] = x
                            continue
                        x = min(x, reachable)  # a settlement burns at most what is reachable
                        ref.burn(m, x, r)
                        expected[m] = -x
                    posted = stakes.settle_round(session, results, round_number=r, clock=clock)
                    assert {m: posted[owned[m].id][0] for m in expected} == expected
                elif kind == "close":
                    _, hours = op
                    clock.advance(hours=hours)
                    closes.append((clock.now(), list(ref.stake)))
                    clock.advance(seconds=1)
            except (InsufficientFundsError, InsufficientStakeError, PermissionDeniedError) as exc:
                assert refused is not None and isinstance(exc, refused), (
                    f"{op} refused unexpectedly: {exc}"
                )
                assert entry_count(session) == before, f"refused {op} wrote entries"
            else:
                assert refused is None, f"{op} should have been refused with {refused}"

        for a, person in enumerate(people):
            assert ledger.wallet_balance(session, person) == ref.wallet[a]
        for m, model in enumerate(owned):
            assert stakes.stake_now(session, model) == ref.stake[m]
            assert stakes.pending_release_balance(session, model) == ref.pending_of(m)
            for at, frozen in closes:
                assert stakes.stake_as_of(session, model, at=at) == frozen[m]
        report = ledger.audit(session)
        assert report.ok, str(report)
        assert report.wallets == sum(ref.wallet, Decimal(0))
        assert report.stakes == sum(ref.stake, Decimal(0))
        assert report.pending == sum((ref.pending_of(m) for m in range(MODELS)), Decimal(0))
        assert (report.burned, report.minted, report.withdrawn) == (
            ref.burned,
            ref.minted,
            ref.withdrawn,
        )
        assert (
            report.wallets + report.stakes + report.pending + report.burned
            == report.minted - report.withdrawn
        )

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from crowdalpha.tournament import ledger, rounds, stakes
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.errors import (
    InsufficientStakeError,
    InvalidAmountError,
    InvalidValueError,
    PermissionDeniedError,
)
from crowdalpha.tournament.tables import EntryKind, LedgerKind, ReleaseStatus
from tests.tournament import factories

WEEK = timedelta(days=7)


def test_only_the_owner_stakes_on_a_model(session: Session, clock: ReplayClock) -> None:
    alice = factories.account(session, clock, funds="100")
    bob = factories.account(session, clock, "bob", funds="100")
    model = factories.staked_model(session, clock, alice, "alices")
    with pytest.raises(
        PermissionDeniedError,
        match=r"^permission_denied: account 'bob' does not own model 'alices'$",
    ):
        stakes.increase_stake(session, model, 10, by=bob, clock=clock)
    stakes.increase_stake(session, model, 10, by=alice, clock=clock)
    with pytest.raises(PermissionDeniedError, match=r"account 'bob' does not own model 'alices'"):
        stakes.decrease_stake(
            session, model, 5, by=bob, clock=clock, at_risk_until_round=None
        )
    assert ledger.wallet_balance(session, bob) == 100
    assert stakes.stake_now(session, model) == 10


def test_stake_at_close_counts_movements_before_the_close(
    session: Session, clock: ReplayClock
) -> None:
    alice = factories.account(session, clock, funds="1000")
    model = factories.staked_model(session, clock, alice, "m")
    close_1 = clock.now() + timedelta(days=2)  # Monday 18:00
    stakes.increase_stake(session, model, 100, by=alice, clock=clock)
    clock.set(close_1)
    stakes.increase_stake(session, model, 50, by=alice, clock=clock)  # at the close: next round
    clock.advance(days=1)
    stakes.decrease_stake(session, model, 30, by=alice, clock=clock, at_risk_until_round=1)
    close_2 = close_1 + WEEK
    clock.set(close_2 + timedelta(hours=1))
    stakes.payout(
        session, model, "7.5", round_number=1, clock=clock
    )  # after close 2: counts from round 3
    assert stakes.stake_as_of(session, model, at=close_1) == 100
    assert (
        stakes.stake_as_of(session, model, at=close_2) == 120
    )  # +50, -30 requested before the close
    assert stakes.stake_as_of(session, model, at=close_2 + WEEK) == Decimal("127.5")
    assert stakes.stake_now(session, model) == Decimal("127.5")
    assert stakes.stakes_as_of(session, at=close_2) == {model.id: 120}
    assert stakes.stakes_as_of(session, at=clock.now() - WEEK * 4) == {}
    assert stakes.pending_release_balance(session, model) == 30
    with pytest.raises(ValueError, match=r"naive_datetime"):
        stakes.stake_as_of(session, model, at=close_1.replace(tzinfo=None))


def test_decrease_is_pending_until_its_last_round_resolves(
    session: Session, clock: ReplayClock
) -> None:
    alice = factories.account(session, clock, funds="100")
    model = factories.staked_model(session, clock, alice, "m", stake="80")
    release = stakes.decrease_stake(
        session, model, 30, by=alice, clock=clock, at_risk_until_round=5
    )
    assert (release.amount, release.status, release.release_after_round) == (
        30,
        ReleaseStatus.PENDING,
        5,
    )
    assert (stakes.stake_now(session, model), ledger.wallet_balance(session, alice)) == (50, 20)
    assert stakes.release_due(session, 4, clock=clock) == []
    clock.advance(weeks=4)
    assert stakes.release_due(session, 5, clock=clock) == [release]
    assert (release.status, release.released_at) == (ReleaseStatus.RELEASED, clock.now())
    assert ledger.wallet_balance(session, alice) == 50
    assert stakes.pending_release_balance(session, model) == 0
    assert stakes.release_due(session, 6, clock=clock) == []  # released once only
    assert stakes.pending_releases(session, model) == []
    assert stakes.pending_releases(session, model, status=None) == [release]
    assert ledger.audit(session).ok


def test_decrease_at_risk_in_no_round_is_released_at_once(
    session: Session, clock: ReplayClock
) -> None:
    alice = factories.account(session, clock, funds="100")
    model = factories.staked_model(session, clock, alice, "m", stake="80")
    release = stakes.decrease_stake(
        session, model, 80, by=alice, clock=clock, at_risk_until_round=None
    )
    assert release.status == ReleaseStatus.RELEASED
    assert ledger.wallet_balance(session, alice) == 100
    kinds = [e.kind for e in ledger.journal(session, model=model)]
    assert kinds == [EntryKind.STAKE_RELEASE, EntryKind.STAKE_DECREASE, EntryKind.STAKE_INCREASE]
    assert ledger.audit(session).ok


def test_decrease_cannot_exceed_the_active_stake(session: Session, clock: ReplayClock) -> None:
    alice = factories.account(session, clock, funds="100")
    model = factories.staked_model(session, clock, alice, "m", stake="10")
    stakes.decrease_stake(session, model, 4, by=alice, clock=clock, at_risk_until_round=2)
    with pytest.raises(
        InsufficientStakeError,
        match=r"^insufficient_stake: model 'm' has 6 staked, stake decrease of 7 requested$",
    ):
        stakes.decrease_stake(
            session, model, 7, by=alice, clock=clock, at_risk_until_round=2
        )
    with pytest.raises(
        InvalidValueError, match=r"at_risk_until_round -1 must be a non-negative integer"
    ):
        stakes.decrease_stake(
            session, model, 1, by=alice, clock=clock, at_risk_until_round=-1
        )


def test_payouts_are_minted_into_the_stake(session: Session, clock: ReplayClock) -> None:
    alice = factories.account(session, clock, funds="100")
    model = factories.staked_model(session, clock, alice, "m", stake="100")
    entry = stakes.payout(session, model, "2.5", round_number=7, clock=clock)
    assert (entry.kind, entry.round_number, entry.model_id, entry.account_id) == (
        EntryKind.PAYOUT,
        7,
        model.id,
        alice.id,
    )
    assert stakes.stake_now(session, model) == Decimal("102.5")
    assert ledger.balance(
        session, ledger.system_account(session, LedgerKind.PAYOUT_POOL)
    ) == Decimal("-2.5")
    report = ledger.audit(session)
    assert (report.ok, report.minted, report.paid_out) == (True, Decimal("102.5"), Decimal("2.5"))
    with pytest.raises(InvalidValueError, match=r"round_number 'x' must be a non-negative integer"):
        stakes.payout(session, model, 1, round_number="x", clock=clock)  # type: ignore[arg-type]


def test_burns_take_the_stake_then_pending_releases_at_risk(
    session: Session, clock: ReplayClock
) -> None:
    alice = factories.account(session, clock, funds="100")
    model = factories.staked_model(session, clock, alice, "m", stake="100")
    old = stakes.decrease_stake(
        session, model, 60, by=alice, clock=clock, at_risk_until_round=4
    )
    new = stakes.decrease_stake(
        session, model, 35, by=alice, clock=clock, at_risk_until_round=6
    )
    # 5 staked; round 5 can reach the stake and the second release only
    with pytest.raises(
        InsufficientStakeError,
        match=r"^insufficient_stake: model 'm' has 40 at risk in round 5 \(5 staked\), burn of 41 requested$",
    ):
        stakes.burn(session, model, 41, round_number=5, clock=clock)
    entry = stakes.burn(session, model, 8, round_number=5, clock=clock)
    assert sorted((line.ledger_account.kind, line.amount) for line in entry.lines) == [
        (LedgerKind.BURNED, Decimal(8)),
        (LedgerKind.PENDING_RELEASE, Decimal(-3)),
        (LedgerKind.STAKE, Decimal(-5)),
    ]
    assert (old.burned, new.burned, new.remaining) == (0, 3, 32)
    stakes.burn(session, model, 61, round_number=4, clock=clock)  # reaches both: oldest first
    assert (old.burned, new.burned) == (60, 4)
    assert stakes.release_due(session, 6, clock=clock) == [old, new]
    assert ledger.wallet_balance(session, alice) == 31  # 0 of old, 31 of new
    report = ledger.audit(session)
    assert report.ok, report
    assert (report.burned, report.wallets, report.stakes, report.pending) == (69, 31, 0, 0)


def test_settle_round_posts_like_payout_and_burn_one_by_one(
    session: Session, clock: ReplayClock
) -> None:
    owner = factories.account(session, clock, "sam", funds="1000")
    paid = factories.staked_model(session, clock, owner, "paid", stake="100")
    burned = factories.staked_model(session, clock, owner, "burned", stake="100")
    deep = factories.staked_model(session, clock, owner, "deep", stake="50")
    still = factories.staked_model(session, clock, owner, "still", stake="10")
    release = stakes.decrease_stake(
        session, deep, Decimal(30), by=owner, clock=clock, at_risk_until_round=4
    )
    posted = stakes.settle_round(
        session,
        {paid: Decimal("2.5"), burned: Decimal("-1.25"), deep: Decimal("-45"), still: Decimal(0)},
        round_number=4,
        clock=clock,
    )
    assert posted[paid.id][0] == Decimal("2.5") and posted[paid.id][1].kind == EntryKind.PAYOUT
    assert posted[burned.id][0] == Decimal("-1.25")
    assert posted[still.id] == (Decimal(0), None)
    # 20 staked + 30 pending at risk: the 45 burn takes all 20, then 25 of the release
    assert posted[deep.id][0] == Decimal(-45)
    assert stakes.stake_now(session, deep) == 0
    assert release.burned == Decimal(25) and release.remaining == Decimal(5)
    assert stakes.stake_now(session, paid) == Decimal("102.5")
    assert stakes.stake_now(session, burned) == Decimal("98.75")
    # a burn beyond what is reachable takes what there is, never more
    capped = stakes.settle_round(session, {deep: Decimal(-100)}, round_number=4, clock=clock)
    assert capped[deep.id][0] == Decimal(-5) and release.remaining == 0
    assert stakes.settle_round(session, {deep: Decimal(-1)}, round_number=4, clock=clock)[
        deep.id
    ] == (Decimal(0), None)
    report = ledger.audit(session)
    assert report.ok, str(report)
    assert report.burned == Decimal("51.25")


def test_set_stake_raises_or_lowers_to_the_target_and_drain_takes_it_all(
    session: Session, clock: ReplayClock
) -> None:
    alice = factories.account(session, clock, funds="100")
    model = factories.staked_model(session, clock, alice, "m", stake="30")
    raised = stakes.set_stake(session, model, "45.5", by=alice, clock=clock, memo="set")
    assert (raised.target, raised.change, raised.release) == (Decimal("45.5"), Decimal("15.5"), None)
    assert raised.entry is not None and raised.entry.kind == EntryKind.STAKE_INCREASE
    same = stakes.set_stake(session, model, "45.500", by=alice, clock=clock)
    assert (same.change, same.entry, same.release) == (0, None, None)
    lowered = stakes.set_stake(session, model, "40", by=alice, clock=clock)
    assert lowered.change == Decimal("-5.5") and lowered.entry is None
    # at risk in no round: back in the wallet at once
    assert lowered.release is not None and lowered.release.status == ReleaseStatus.RELEASED
    assert stakes.set_stake(session, model, "0", by=alice, clock=clock).change == -40
    assert (stakes.stake_now(session, model), ledger.wallet_balance(session, alice)) == (0, 100)
    with pytest.raises(InvalidAmountError, match="stake target -1 must be positive"):
        stakes.set_stake(session, model, "-1", by=alice, clock=clock)
    with pytest.raises(InsufficientStakeError, match="model 'm' has nothing staked to drain"):
        stakes.drain_stake(session, model, by=alice, clock=clock)
    stakes.increase_stake(session, model, 12, by=alice, clock=clock)
    drained = stakes.drain_stake(session, model, by=alice, clock=clock)
    assert drained.amount == 12 and stakes.stake_now(session, model) == 0


def test_a_decrease_stays_at_risk_until_the_newest_closed_round_staked_with_it_resolves(
    session: Session, clock: ReplayClock
) -> None:
    alice = factories.account(session, clock, funds="100")
    model = factories.staked_model(session, clock, alice, "m", stake="100")
    assert stakes.last_round_at_risk(session, model) is None
    r1 = rounds.open_round(session, era="0001", clock=clock, schedule=rounds.Schedule())
    clock.set(r1.closes_at)
    rounds.close_round(session, r1, clock=clock)
    assert stakes.frozen_stakes(session, r1) == {model.id: 100}
    assert stakes.last_round_at_risk(session, model) == r1.number
    release = stakes.decrease_stake(session, model, 25, by=alice, clock=clock)
    assert (release.status, release.release_after_round) == (ReleaseStatus.PENDING, r1.number)
    assert stakes.frozen_stake(session, r1, model) == 100  # frozen: later changes don't alter it
    assert stakes.stake_now(session, model) == 75

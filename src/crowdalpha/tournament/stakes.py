"""Stakes: every stake change (increase, decrease, set, drain), releases, payouts and burns,
all via the ledger, and every way of reading a stake.

Reading a stake, by name:

* ``stake_now(session, model)``: the active stake now, what counts for the next
  round to close.
* ``stake_as_of(session, model, at=t)`` / ``stakes_as_of(session, at=t)``: the
  active stake from the movements recorded strictly before ``t``; what a round
  closing at ``t`` freezes (the round logic calls it once at the close), and
  what an open round's screens show as "would be at risk".
* ``frozen_stake(session, round, model)`` / ``frozen_stakes(session, round)``:
  the stake at risk in a round, frozen at its close into ``round_stakes``; later
  stake changes never alter it (empty while the round is open).

Timing rules (docs/tournament.md), kept explicit:

* An increase moves money from the wallet to the stake at once, so it can no
  longer be withdrawn, and counts from the next round that closes after it.
* A decrease moves the amount from the stake to the model's pending-release
  account at once: it no longer counts for rounds closing later, but it stays
  at risk in the rounds that already closed with it. It goes back to the wallet
  when the last of those resolves (``last_round_at_risk``; at once when it is
  at risk in none): the round logic calls
  ``release_due(session, resolved_round_number)`` as each round resolves.
* Setting a stake to a target is an increase or a decrease of the difference;
  draining is a decrease of the whole active stake.
* Payouts are minted from the payout pool into the stake (as Numerai does);
  burns take from the active stake first, then from pending releases still at
  risk in the burned round (oldest request first).

Only a model's owner may stake on it. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdalpha.tournament import ledger
from crowdalpha.tournament.clock import Clock, ensure_utc
from crowdalpha.tournament.db import atomic
from crowdalpha.tournament.errors import InsufficientStakeError, InvalidValueError
from crowdalpha.tournament.ledger import ZERO, format_amount
from crowdalpha.tournament.models import require_owner
from crowdalpha.tournament.tables import (
    Account,
    EntryKind,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    LedgerKind,
    Model,
    PendingRelease,
    ReleaseStatus,
    Round,
    RoundStake,
    RoundStatus,
)


def _round(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValueError(f"{what} {value!r} must be a non-negative integer round number")
    return value


def stake_now(session: Session, model: Model) -> Decimal:
    """The model's active stake now (what counts for the next round to close)."""
    return ledger.balance(session, ledger.stake_account_of(session, model))


def pending_release_balance(session: Session, model: Model) -> Decimal:
    """Requested decreases of the model not yet released to the wallet."""
    return ledger.balance(session, ledger.pending_account_of(session, model))


def stake_as_of(session: Session, model: Model, *, at: datetime) -> Decimal:
    """The active stake from movements before ``at``: the stake a round closing at ``at`` freezes."""
    return ledger.balance(
        session, ledger.stake_account_of(session, model), before=ensure_utc(at, name="at")
    )


def stakes_as_of(session: Session, *, at: datetime) -> dict[int, Decimal]:
    """``stake_as_of`` of every model with a nonzero stake at ``at``, by model id, in one query."""
    when = ensure_utc(at, name="at")
    session.flush()
    rows = session.execute(
        select(LedgerAccount.model_id, func.sum(JournalLine.amount))
        .join(JournalLine, JournalLine.ledger_account_id == LedgerAccount.id)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(LedgerAccount.kind == LedgerKind.STAKE, JournalEntry.created_at < when)
        .group_by(LedgerAccount.model_id)
    ).all()
    return {model_id: total for model_id, total in rows if model_id is not None and total != 0}


def frozen_stakes(session: Session, round: Round) -> dict[int, Decimal]:
    """The stakes at risk in ``round``, frozen at its close, by model id (empty before it closes)."""
    rows = session.execute(
        select(RoundStake.model_id, RoundStake.stake_at_risk).where(RoundStake.round_id == round.id)
    ).all()
    return {model_id: value for model_id, value in rows}


def frozen_stake(session: Session, round: Round, model: Model) -> Decimal:
    """``model``'s stake frozen at ``round``'s close; zero when it had none or the round is open."""
    value = session.scalar(
        select(RoundStake.stake_at_risk).where(
            RoundStake.round_id == round.id, RoundStake.model_id == model.id
        )
    )
    return ZERO if value is None else value


def last_round_at_risk(session: Session, model: Model) -> int | None:
    """The newest unresolved closed round in which ``model`` has stake at risk: a stake
    decrease requested now stays at risk until that round resolves (None: in no round)."""
    return session.scalar(
        select(func.max(Round.number))
        .join(RoundStake, RoundStake.round_id == Round.id)
        .where(
            RoundStake.model_id == model.id,
            Round.status.in_((RoundStatus.CLOSED, RoundStatus.SCORING)),
        )
    )


def increase_stake(
    session: Session,
    model: Model,
    amount: Decimal | int | str,
    *,
    by: Account,
    clock: Clock,
    memo: str | None = None,
) -> JournalEntry:
    """Move ``amount`` from the owner's wallet to the model's stake; counts from the next close."""
    require_owner(model, by)
    value = ledger.parse_amount(amount, what="stake increase")
    with atomic(session):
        wallet = ledger.require_available(session, by, value, purpose="stake increase")
        stake = ledger.stake_account_of(session, model)
        return ledger.post_entry(
            session,
            EntryKind.STAKE_INCREASE,
            [(wallet, -value), (stake, value)],
            clock=clock,
            account=by,
            model=model,
            memo=memo,
        )


#: ``decrease_stake``'s default: the amount stays at risk until ``last_round_at_risk`` resolves.
UNTIL_LAST_ROUND_AT_RISK = "until the last round at risk"


def decrease_stake(
    session: Session,
    model: Model,
    amount: Decimal | int | str,
    *,
    by: Account,
    clock: Clock,
    memo: str | None = None,
    at_risk_until_round: int | str | None = UNTIL_LAST_ROUND_AT_RISK,
) -> PendingRelease:
    """Take ``amount`` off the active stake now; release it to the wallet once the last round
    it is at risk in resolves (at once when it is at risk in none).

    ``at_risk_until_round`` overrides that round (None: at risk in no round); by default it
    is ``last_round_at_risk``, the newest closed round staked with it that has not resolved.
    """
    require_owner(model, by)
    value = ledger.parse_amount(amount, what="stake decrease")
    if at_risk_until_round == UNTIL_LAST_ROUND_AT_RISK:
        until = last_round_at_risk(session, model)
    elif at_risk_until_round is None:
        until = None
    else:
        until = _round(at_risk_until_round, "at_risk_until_round")
    with atomic(session):
        stake = ledger.stake_account_of(session, model, lock=True)
        staked = ledger.balance(session, stake)
        if value > staked:
            raise InsufficientStakeError(
                f"model '{model.name}' has {format_amount(staked)} staked, "
                f"stake decrease of {format_amount(value)} requested"
            )
        pending = ledger.pending_account_of(session, model)
        entry = ledger.post_entry(
            session,
            EntryKind.STAKE_DECREASE,
            [(stake, -value), (pending, value)],
            clock=clock,
            account=by,
            model=model,
            memo=memo,
        )
        release = _record_release(session, model, value, entry, clock=clock, until=until)
        if until is None:
            _release(session, release, by, pending, clock=clock)
        return release


@dataclass(frozen=True)
class StakeChange:
    """What ``set_stake`` did: ``change`` (signed) and its increase entry or decrease release."""

    target: Decimal
    change: Decimal
    entry: JournalEntry | None = None
    release: PendingRelease | None = None


def set_stake(
    session: Session, model: Model, target: Decimal | int | str, *, by: Account, clock: Clock,
    memo: str | None = None,
) -> StakeChange:
    """Raise or lower the model's active stake to ``target`` (zero or a positive amount):
    an increase or a decrease of the difference, with their timing rules."""
    require_owner(model, by)
    value = ZERO if _is_zero(target) else ledger.parse_amount(target, what="stake target")
    change = value - stake_now(session, model)
    if change > 0:
        entry = increase_stake(session, model, change, by=by, clock=clock, memo=memo)
        return StakeChange(value, change, entry=entry)
    if change < 0:
        release = decrease_stake(session, model, -change, by=by, clock=clock, memo=memo)
        return StakeChange(value, change, release=release)
    return StakeChange(value, ZERO)


def drain_stake(
    session: Session, model: Model, *, by: Account, clock: Clock, memo: str | None = "drain"
) -> PendingRelease:
    """Decrease the model's whole active stake (``InsufficientStakeError`` when it has none)."""
    require_owner(model, by)
    staked = stake_now(session, model)
    if staked <= 0:
        raise InsufficientStakeError(f"model '{model.name}' has nothing staked to drain")
    return decrease_stake(session, model, staked, by=by, clock=clock, memo=memo)


def _is_zero(amount: Decimal | int | str) -> bool:
    """True for a zero amount in any spelling ("0", "0.00", 0); ``parse_amount`` refuses zero."""
    try:
        return Decimal(str(amount).strip()) == 0
    except InvalidOperation:
        return False


def _record_release(
    session: Session,
    model: Model,
    value: Decimal,
    entry: JournalEntry,
    *,
    clock: Clock,
    until: int | None,
) -> PendingRelease:
    release = PendingRelease(
        model_id=model.id,
        amount=value,
        burned=ZERO,
        requested_at=entry.created_at,
        release_after_round=until,
        status=ReleaseStatus.PENDING,
        request_entry_id=entry.id,
    )
    session.add(release)
    session.flush()
    return release


def _release(
    session: Session,
    release: PendingRelease,
    owner: Account,
    pending: LedgerAccount,
    *,
    clock: Clock,
) -> None:
    remaining = release.remaining
    if remaining > 0:
        wallet = ledger.wallet_of(session, owner)
        entry = ledger.post_entry(
            session,
            EntryKind.STAKE_RELEASE,
            [(pending, -remaining), (wallet, remaining)],
            clock=clock,
            account=owner,
            model=release.model,
            round_number=release.release_after_round,
            memo=f"release of decrease {release.id}",
        )
        release.release_entry_id = entry.id
    release.status = ReleaseStatus.RELEASED
    release.released_at = ensure_utc(clock.now(), name="clock.now()")
    session.flush()


def release_due(
    session: Session, resolved_round_number: int, *, clock: Clock
) -> list[PendingRelease]:
    """Release to the wallets every pending decrease at risk until round ``resolved_round_number`` or earlier.

    Called by the round logic when a round resolves. Rounds resolve in number
    order (they share one scoring horizon), so ``<=`` also catches any release
    a missed call left behind. Returns the releases made.
    """
    number = _round(resolved_round_number, "resolved_round_number")
    with atomic(session):
        due = list(
            session.scalars(
                select(PendingRelease)
                .where(
                    PendingRelease.status == ReleaseStatus.PENDING,
                    PendingRelease.release_after_round <= number,
                )
                .order_by(PendingRelease.id)
                .with_for_update()
            )
        )
        for release in due:
            model = release.model
            pending = ledger.pending_account_of(session, model, lock=True)
            _release(session, release, model.account, pending, clock=clock)
        return due


def pending_releases(
    session: Session,
    model: Model | None = None,
    *,
    status: ReleaseStatus | None = ReleaseStatus.PENDING,
) -> list[PendingRelease]:
    """Decrease requests, oldest first; by default only those not yet released."""
    stmt = select(PendingRelease).order_by(PendingRelease.id)
    if model is not None:
        stmt = stmt.where(PendingRelease.model_id == model.id)
    if status is not None:
        stmt = stmt.where(PendingRelease.status == status)
    return list(session.scalars(stmt))


def payout(
    session: Session,
    model: Model,
    amount: Decimal | int | str,
    *,
    round_number: int,
    clock: Clock,
    memo: str | None = None,
) -> JournalEntry:
    """Mint a positive payout of round ``round_number`` from the payout pool into the model's stake."""
    value = ledger.parse_amount(amount, what="payout")
    number = _round(round_number, "round_number")
    with atomic(session):
        pool = ledger.system_account(session, LedgerKind.PAYOUT_POOL)
        stake = ledger.stake_account_of(session, model)
        return ledger.post_entry(
            session,
            EntryKind.PAYOUT,
            [(pool, -value), (stake, value)],
            clock=clock,
            account=model.account,
            model=model,
            round_number=number,
            memo=memo,
        )


def _releases_at_risk(session: Session, model: Model, round_number: int) -> list[PendingRelease]:
    """Pending decreases of ``model`` still at risk in round ``round_number``, oldest first."""
    return list(
        session.scalars(
            select(PendingRelease)
            .where(
                PendingRelease.model_id == model.id,
                PendingRelease.status == ReleaseStatus.PENDING,
                PendingRelease.release_after_round >= round_number,
            )
            .order_by(PendingRelease.id)
        )
    )


def _burn_lines(
    value: Decimal,
    staked: Decimal,
    at_risk: list[PendingRelease],
    stake: LedgerAccount,
    pending: LedgerAccount,
) -> list[tuple[LedgerAccount, Decimal]]:
    """The debit lines of a burn of ``value`` (the active stake first, then the pending
    releases at risk, oldest first), marking on each release what the burn took."""
    from_stake = min(value, staked)
    from_pending = value - from_stake
    lines: list[tuple[LedgerAccount, Decimal]] = []
    if from_stake > 0:
        lines.append((stake, -from_stake))
    if from_pending > 0:
        lines.append((pending, -from_pending))
        left = from_pending
        for release in at_risk:
            take = min(left, release.remaining)
            release.burned = release.burned + take
            left -= take
            if left == 0:
                break
    return lines


def settle_round(
    session: Session,
    results: dict[Model, Decimal],
    *,
    round_number: int,
    clock: Clock,
) -> dict[int, tuple[Decimal, JournalEntry | None]]:
    """Post a resolved round's payouts (> 0) and burns (< 0) for many models at once.

    The same rules as ``payout`` and ``burn``, with the ledger accounts, stake
    balances and pending releases of all the models read in a few queries and
    the entries written in one flush. A burn takes at most what is reachable
    (the stake plus pending releases at risk in the round). Returns, by model
    id, the signed amount actually posted and its entry (None for zero).
    """
    number = _round(round_number, "round_number")
    amounts = {
        m: v if v == 0 else ledger.parse_amount(abs(v), what="round result").copy_sign(v)
        for m, v in results.items()
    }
    moving = [m for m, v in amounts.items() if v != 0]
    with atomic(session):
        keys = {
            m.id: (
                ledger.account_key(LedgerKind.STAKE, m.id),
                ledger.account_key(LedgerKind.PENDING_RELEASE, m.id),
            )
            for m in moving
        }
        wanted = [k for pair in keys.values() for k in pair]
        found = {
            la.key: la
            for la in session.scalars(
                select(LedgerAccount).where(LedgerAccount.key.in_(wanted)).with_for_update()
            )
        } if wanted else {}
        stake_ids = [found[keys[m.id][0]].id for m in moving]
        balances = dict(
            session.execute(
                select(JournalLine.ledger_account_id, func.sum(JournalLine.amount))
                .where(JournalLine.ledger_account_id.in_(stake_ids))
                .group_by(JournalLine.ledger_account_id)
            ).all()
        ) if stake_ids else {}
        burning = [m.id for m in moving if amounts[m] < 0]
        releases: dict[int, list[PendingRelease]] = {}
        if burning:
            for release in session.scalars(
                select(PendingRelease)
                .where(
                    PendingRelease.model_id.in_(burning),
                    PendingRelease.status == ReleaseStatus.PENDING,
                    PendingRelease.release_after_round >= number,
                )
                .order_by(PendingRelease.id)
            ):
                releases.setdefault(release.model_id, []).append(release)
        pool = ledger.system_account(session, LedgerKind.PAYOUT_POOL)
        burned = ledger.system_account(session, LedgerKind.BURNED)
        posted: dict[int, tuple[Decimal, JournalEntry | None]] = {
            m.id: (ZERO, None) for m, v in amounts.items() if v == 0
        }
        for model in moving:
            stake, pending = (found[k] for k in keys[model.id])
            value = amounts[model]
            if value > 0:
                kind, lines = EntryKind.PAYOUT, [(pool, -value), (stake, value)]
                memo = f"round {number} payout"
            else:
                staked = balances.get(stake.id) or ZERO
                at_risk = releases.get(model.id, [])
                take = min(-value, staked + sum((r.remaining for r in at_risk), ZERO))
                if take <= 0:
                    posted[model.id] = (ZERO, None)
                    continue
                value = -take
                kind, memo = EntryKind.BURN, f"round {number} burn"
                lines = [*_burn_lines(take, staked, at_risk, stake, pending), (burned, take)]
            entry = ledger.post_entry(
                session, kind, lines, clock=clock, account=model.account, model=model,
                round_number=number, memo=memo, flush=False,
            )
            posted[model.id] = (value, entry)
        session.flush()
    return posted


def burn(
    session: Session,
    model: Model,
    amount: Decimal | int | str,
    *,
    round_number: int,
    clock: Clock,
    memo: str | None = None,
) -> JournalEntry:
    """Burn ``amount`` of the model's stake for round ``round_number`` (a negative payout).

    Takes from the active stake first, then from pending releases still at risk
    in that round (``at_risk_until_round >= round_number``), oldest first.
    """
    value = ledger.parse_amount(amount, what="burn")
    number = _round(round_number, "round_number")
    with atomic(session):
        stake = ledger.stake_account_of(session, model, lock=True)
        pending = ledger.pending_account_of(session, model, lock=True)
        staked = ledger.balance(session, stake)
        at_risk = _releases_at_risk(session, model, number)
        reachable = staked + sum((r.remaining for r in at_risk), ZERO)
        if value > reachable:
            raise InsufficientStakeError(
                f"model '{model.name}' has {format_amount(reachable)} at risk in round {number} "
                f"({format_amount(staked)} staked), burn of {format_amount(value)} requested"
            )
        lines = _burn_lines(value, staked, at_risk, stake, pending)
        lines.append((ledger.system_account(session, LedgerKind.BURNED), value))
        return ledger.post_entry(
            session,
            EntryKind.BURN,
            lines,
            clock=clock,
            account=model.account,
            model=model,
            round_number=number,
            memo=memo,
        )


__all__ = [
    "UNTIL_LAST_ROUND_AT_RISK",
    "StakeChange",
    "burn",
    "decrease_stake",
    "drain_stake",
    "frozen_stake",
    "frozen_stakes",
    "increase_stake",
    "last_round_at_risk",
    "payout",
    "pending_release_balance",
    "pending_releases",
    "release_due",
    "set_stake",
    "settle_round",
    "stake_as_of",
    "stake_now",
    "stakes_as_of",
]

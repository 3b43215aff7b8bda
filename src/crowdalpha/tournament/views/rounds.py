"""Rounds as the screens list and show them."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdalpha.tournament.payouts import PayoutRules, payout_factor
from crowdalpha.tournament.tables import Round, RoundPayout, RoundStake, RoundStatus


def round_payout_factor(session: Session, round: Round, rules: PayoutRules) -> Decimal | None:
    """The round's payout factor: fixed at the close by the total stake at risk (None while
    open); a resolved round's is the one its payouts were posted with."""
    if round.status == RoundStatus.OPEN:
        return None
    if round.status == RoundStatus.RESOLVED:
        text = session.scalar(
            select(RoundPayout.payout_factor).where(RoundPayout.round_id == round.id).limit(1)
        )
        if text is not None:
            return Decimal(text)
    total = session.scalar(
        select(func.coalesce(func.sum(RoundStake.stake_at_risk), 0)).where(
            RoundStake.round_id == round.id
        )
    )
    return payout_factor(Decimal(total or 0), rules)


__all__ = ["round_payout_factor"]

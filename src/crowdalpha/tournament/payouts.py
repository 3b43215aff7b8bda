"""Payout rules: how a round's final scores turn into payouts and burns.

    payout = stake_at_risk * clip(payout_factor * (m_corr * CORR + m_mmc * MMC), -clip, +clip)
    payout_factor = min(1, stake_threshold / total_stake_at_risk)

(docs/architecture.md, "Where each domain rule lives"). A model paid on CORR alone uses
m_mmc = 0. Everything is exact ``Decimal``: scores are taken to
``SCORE_PLACES`` decimals first, and the payout is truncated toward zero to
the ledger's quantum, so rounding never mints a token and never burns more
than the rule says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext

from crowdalpha.tournament.errors import InvalidValueError
from crowdalpha.tournament.tables import QUANTUM

#: Scores enter money arithmetic with this many decimal places.
SCORE_PLACES = 12
SCORE_QUANTUM = Decimal(1).scaleb(-SCORE_PLACES)

PAYOUT_BASES = ("corr", "corr+mmc")


@dataclass(frozen=True)
class PayoutRules:
    """The tournament's payout settings (the defaults are Numerai's)."""

    corr_multiplier: Decimal = Decimal("0.5")
    mmc_multiplier: Decimal = Decimal("2")
    clip: Decimal = Decimal("0.05")
    stake_threshold: Decimal = Decimal("72000")

    def __post_init__(self) -> None:
        for name in ("corr_multiplier", "mmc_multiplier", "clip", "stake_threshold"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise InvalidValueError(
                    f"payout rule {name} must be a non-negative Decimal, got {value!r}"
                )


def score_to_decimal(score: float, what: str = "score") -> Decimal:
    """A float score as an exact Decimal with ``SCORE_PLACES`` places."""
    if isinstance(score, Decimal):
        value = score
    else:
        if not math.isfinite(score):
            raise InvalidValueError(f"{what} {score!r} is not a finite number")
        value = Decimal(repr(float(score)))
    return value.quantize(SCORE_QUANTUM, rounding=ROUND_HALF_EVEN)


def payout_factor(total_stake_at_risk: Decimal, rules: PayoutRules = PayoutRules()) -> Decimal:
    """``min(1, threshold / total)``: scales payouts down once the total staked passes the threshold."""
    if total_stake_at_risk < 0:
        raise InvalidValueError(f"total stake at risk {total_stake_at_risk} is negative")
    if total_stake_at_risk <= rules.stake_threshold:
        return Decimal(1)
    with localcontext() as context:
        context.prec = 40
        return rules.stake_threshold / total_stake_at_risk


def payout_rate(
    corr: float, mmc: float | None, basis: str, factor: Decimal, rules: PayoutRules = PayoutRules()
) -> Decimal:
    """The clipped share of the stake paid (> 0) or burned (< 0)."""
    if basis not in PAYOUT_BASES:
        raise InvalidValueError(f"payout basis {basis!r} is not one of {', '.join(PAYOUT_BASES)}")
    with localcontext() as context:
        context.prec = 40
        raw = rules.corr_multiplier * score_to_decimal(corr, "CORR")
        if basis == "corr+mmc":
            if mmc is None:
                raise InvalidValueError("payout basis 'corr+mmc' needs an MMC score")
            raw += rules.mmc_multiplier * score_to_decimal(mmc, "MMC")
        return max(-rules.clip, min(rules.clip, factor * raw))


def payout_amount(
    stake_at_risk: Decimal,
    corr: float,
    mmc: float | None,
    basis: str,
    factor: Decimal,
    rules: PayoutRules = PayoutRules(),
) -> Decimal:
    """Signed payout for one model in one round, truncated toward zero to the ledger quantum."""
    if stake_at_risk < 0:
        raise InvalidValueError(f"stake at risk {stake_at_risk} is negative")
    with localcontext() as context:
        context.prec = 60
        amount = stake_at_risk * payout_rate(corr, mmc, basis, factor, rules)
    return amount.quantize(QUANTUM, rounding=ROUND_DOWN)


def projected_payout(
    stake_at_risk: Decimal, corr: float | None, mmc: float | None, basis: str,
    factor: Decimal, rules: PayoutRules = PayoutRules(),
) -> Decimal:
    """What a round would pay on these scores if they were final, as ``round_payouts`` pays:
    0 without a stake or a CORR, a missing MMC counting 0."""
    if stake_at_risk <= 0 or corr is None or (isinstance(corr, float) and math.isnan(corr)):
        return Decimal(0).quantize(QUANTUM)
    if mmc is None or (isinstance(mmc, float) and math.isnan(mmc)):
        mmc = 0.0
    return payout_amount(stake_at_risk, corr, mmc, basis, factor, rules)


def round_payouts(
    stakes_at_risk: Mapping[str, Decimal],
    corr: Mapping[str, float],
    mmc: Mapping[str, float | None],
    bases: Mapping[str, str],
    rules: PayoutRules = PayoutRules(),
) -> dict[str, Decimal]:
    """Payouts of every staked model of a round, keyed like ``stakes_at_risk``.

    A staked model without a final CORR (no valid submission scored) is paid 0;
    a missing MMC (NaN or None: no meta-model to compare with) counts as 0.
    """
    factor = payout_factor(sum(stakes_at_risk.values(), Decimal(0)), rules)
    payouts = {}
    for model, stake in stakes_at_risk.items():
        if stake == 0:
            payouts[model] = Decimal(0).quantize(QUANTUM)
            continue
        payouts[model] = projected_payout(
            stake, corr.get(model), mmc.get(model), bases[model], factor, rules
        )
    return payouts


__all__ = [
    "PAYOUT_BASES",
    "SCORE_PLACES",
    "SCORE_QUANTUM",
    "PayoutRules",
    "payout_amount",
    "payout_factor",
    "payout_rate",
    "projected_payout",
    "round_payouts",
    "score_to_decimal",
]

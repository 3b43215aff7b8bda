"""Payout and reputation rules, with answers worked out by hand."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from crowdalpha.tournament.errors import InvalidValueError
from crowdalpha.tournament.payouts import (
    PayoutRules,
    payout_amount,
    payout_factor,
    round_payouts,
    score_to_decimal,
)
from crowdalpha.tournament.reputation import reputation


def test_payout_by_hand() -> None:
    # 0.5 * 0.02 + 2 * 0.01 = 0.03 -> 100 * 0.03 = 3
    assert payout_amount(Decimal(100), 0.02, 0.01, "corr+mmc", Decimal(1)) == Decimal("3.000000000")
    # CORR only: 0.5 * 0.02 = 0.01
    assert payout_amount(Decimal(100), 0.02, 0.01, "corr", Decimal(1)) == Decimal("1.000000000")


def test_clip_both_ways() -> None:
    assert payout_amount(Decimal(100), 0.2, 0.0, "corr", Decimal(1)) == Decimal("5.000000000")
    assert payout_amount(Decimal(100), -0.2, -0.1, "corr+mmc", Decimal(1)) == Decimal(
        "-5.000000000"
    )


def test_payout_factor_scales_above_threshold() -> None:
    assert payout_factor(Decimal(50_000)) == 1
    assert payout_factor(Decimal(144_000)) == Decimal("0.5")
    assert payout_amount(Decimal(100), 0.04, 0, "corr", Decimal("0.5")) == Decimal("1.000000000")


def test_truncates_toward_zero_never_mints() -> None:
    # 1 * 0.5 * 0.000000001234 = 6.17e-10 -> below the quantum: 0 either way
    assert payout_amount(Decimal(1), 1.234e-9, 0, "corr", Decimal(1)) == 0
    assert payout_amount(Decimal("3"), 1 / 3, 0, "corr", Decimal(1)) == Decimal("0.150000000")
    assert payout_amount(Decimal("7"), -0.0123456789, 0, "corr", Decimal(1)) == Decimal(
        "-0.043209876"
    )


def test_round_payouts_uses_total_stake() -> None:
    stakes = {"a": Decimal(60_000), "b": Decimal(84_000), "c": Decimal(0)}
    payouts = round_payouts(
        stakes,
        {"a": 0.02, "b": -0.01, "c": 0.5},
        {"a": 0.0, "b": None, "c": 0.0},
        {"a": "corr", "b": "corr", "c": "corr"},
    )
    # factor = 72000 / 144000 = 0.5
    assert payouts == {
        "a": Decimal("300.000000000"),
        "b": Decimal("-210.000000000"),
        "c": Decimal("0E-9"),
    }


def test_bad_inputs() -> None:
    with pytest.raises(InvalidValueError, match="basis 'mmc'"):
        payout_amount(Decimal(1), 0.1, 0.1, "mmc", Decimal(1))
    with pytest.raises(InvalidValueError, match="not a finite number"):
        score_to_decimal(float("inf"))
    with pytest.raises(InvalidValueError, match="needs an MMC score"):
        payout_amount(Decimal(1), 0.1, None, "corr+mmc", Decimal(1))
    with pytest.raises(InvalidValueError, match="clip"):
        PayoutRules(clip=Decimal("-1"))


def test_reputation_window_and_penalty() -> None:
    scores = {3: 0.02, 4: 0.04, 6: -0.01}
    rounds = [1, 2, 3, 4, 5, 6]
    # rounds 3..6, round 5 missing -> penalty 0
    assert reputation(scores, rounds) == pytest.approx((0.02 + 0.04 + 0 - 0.01) / 4)
    assert reputation(scores, rounds, missing_penalty=-0.02) == pytest.approx(
        (0.02 + 0.04 - 0.02 - 0.01) / 4
    )
    assert reputation(scores, rounds, window=2) == pytest.approx(-0.005)
    assert math.isnan(reputation({}, rounds))


def test_a_missing_mmc_counts_as_zero_for_corr_plus_mmc() -> None:
    """Resolution stores a missing MMC as None; it must pay like MMC 0, not fail the round."""
    stakes = {"a": Decimal(10)}
    for missing in (None, float("nan")):
        paid = round_payouts(stakes, {"a": 0.01}, {"a": missing}, {"a": "corr+mmc"})
        assert paid == round_payouts(stakes, {"a": 0.01}, {"a": 0.0}, {"a": "corr+mmc"})

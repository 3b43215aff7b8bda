"""Reputation: a model's mean final score over its recent rounds.

The rule: the mean of a model's final scores over the last 52 weeks of
rounds, missing rounds counting as the configured penalty. The window is the
last ``window`` resolved rounds, starting no earlier than the model's first
submitted round (rounds before a model existed are not held against it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from crowdalpha.tournament.errors import InvalidValueError

DEFAULT_WINDOW = 52
DEFAULT_MISSING_PENALTY = 0.0


def reputation(
    scores: Mapping[int, float],
    resolved_rounds: Sequence[int],
    window: int = DEFAULT_WINDOW,
    missing_penalty: float = DEFAULT_MISSING_PENALTY,
) -> float:
    """Mean of ``scores`` (round number -> final score) over the last ``window``
    of ``resolved_rounds`` since the model's first scored round; NaN when the
    model has no scored round yet. NaN scores count as missing."""
    if window < 1:
        raise InvalidValueError(f"reputation window must be at least 1 round, got {window}")
    valid = {r: s for r, s in scores.items() if s is not None and not math.isnan(s)}
    if not valid:
        return math.nan
    first = min(valid)
    rounds = sorted(r for r in set(resolved_rounds) if r >= first)[-window:]
    if not rounds:
        return math.nan
    return sum(valid.get(r, missing_penalty) for r in rounds) / len(rounds)

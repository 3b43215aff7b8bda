"""Historical leaderboards: a model's reputations and ranks as the board stood at the end of
each date on which a round was scored.

That board counts the rounds resolved by then (``reputation.reputation`` over their
final scores, defaults as ``leaderboard.model_leaderboard``) and ranks every model as
``leaderboard.ranked`` does. A handful of queries whatever the history: the scoring
days, the models and ``leaderboard.final_scores`` per metric.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date

from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdalpha.tournament import leaderboard
from crowdalpha.tournament.ledger import ZERO
from crowdalpha.tournament.reputation import DEFAULT_MISSING_PENALTY, DEFAULT_WINDOW, reputation
from crowdalpha.tournament.tables import Model, ModelKind, Round, RoundDay, RoundStatus

#: Reputations a standing holds, each with its own rank.
STANDING_METRICS: tuple[str, ...] = ("corr", "mmc", "fnc")


@dataclass(frozen=True)
class Standing:
    """A model's reputation and rank per metric on ``date`` (rank None without a reputation)."""

    date: date
    reps: dict[str, tuple[float, int | None]]


_BLANK_ROW = leaderboard.ModelRow(
    rank=0, model_id=0, name="", account_id=0, account="", kind=ModelKind.PARTICIPANT,
    corr_rep=math.nan, mmc_rep=math.nan, bmc_rep=math.nan, fnc_rep=math.nan, rounds_scored=0,
    stake=ZERO, paid=ZERO, burned=ZERO, net=ZERO, at_risk=ZERO, return_on_stake=math.nan,
)


def daily_standings(session: Session, model: Model) -> list[Standing]:
    """One standing per date (UTC, from the model's creation on) on which a round was scored."""
    scored = session.execute(
        select(RoundDay.scored_at, RoundDay.day, Round.number, Round.resolves_after_days,
               Round.status)
        .join(Round, Round.id == RoundDay.round_id)
    ).all()
    since = model.created_at.astimezone(UTC).date()
    dates = sorted({d for d in (at.astimezone(UTC).date() for at, *_ in scored) if d >= since})
    if not dates:
        return []
    resolved_on = {
        number: at.astimezone(UTC).date()
        for at, day, number, last, status in scored
        if day == last and status == RoundStatus.RESOLVED
    }
    names = dict(session.execute(select(Model.id, Model.name)).all())
    finals: dict[str, dict[int, dict[int, float]]] = {}
    for metric in STANDING_METRICS:
        per_model: dict[int, dict[int, float]] = defaultdict(dict)
        for model_id, number, value in leaderboard.final_scores(session, metric).itertuples(
            index=False
        ):
            per_model[int(model_id)][int(number)] = float(value)
        finals[metric] = per_model

    standings = []
    board: dict[str, tuple[float, int | None]] = {}
    seen: tuple[int, ...] | None = None
    for day in dates:
        resolved = tuple(sorted(n for n, on in resolved_on.items() if on <= day))
        if resolved != seen:
            board, seen = _standing(model, names, finals, resolved), resolved
        standings.append(Standing(day, board))
    return standings


def _standing(
    model: Model, names: dict[int, str], finals: dict[str, dict[int, dict[int, float]]],
    resolved: tuple[int, ...],
) -> dict[str, tuple[float, int | None]]:
    """``model``'s reputation and rank per metric once the rounds ``resolved`` had resolved."""
    kept = set(resolved)

    def rep(metric: str, model_id: int) -> float:
        scores = {n: v for n, v in finals[metric].get(model_id, {}).items() if n in kept}
        return reputation(scores, resolved, DEFAULT_WINDOW, DEFAULT_MISSING_PENALTY)

    rows = [
        replace(_BLANK_ROW, model_id=model_id, name=name,
                **{f"{m}_rep": rep(m, model_id) for m in STANDING_METRICS})
        for model_id, name in names.items()
    ]
    standing = {}
    for metric in STANDING_METRICS:
        mine = next(r for r in leaderboard.ranked(rows, metric) if r.model_id == model.id)
        value = mine.rep(metric)
        standing[metric] = (value, None if math.isnan(value) else mine.rank)
    return standing


__all__ = ["STANDING_METRICS", "Standing", "daily_standings"]

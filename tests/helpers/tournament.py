"""Driving the ``tournament`` fixture's cast (tests/tournament/conftest.py) through rounds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crowdalpha.tournament import accounts, models, rounds, submissions
from crowdalpha.tournament.db import session_scope
from crowdalpha.tournament.feed import round_live_ids
from crowdalpha.tournament.runner import Tournament
from crowdalpha.tournament.tables import ModelKind


def submit_all(t: Tournament, number: int, *, noise: float = 0.3, late_model: str | None = None) -> None:
    """Every model of ``tournament``'s cast submits noisy example predictions (but ``late_model``)."""
    rng = np.random.default_rng(number)
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, number)
        ids = round_live_ids(t.store, number)
        example = t.feed.example_predictions().reindex(ids)
        owner = accounts.get_account(session, "alice")
        operator = accounts.get_operator(session)
        for model in [models.get_model(session, "bench"), *owner.models]:
            if model.name == late_model:
                continue
            values = example + rng.normal(0, noise * (model.id % 3), len(example))
            frame = pd.DataFrame({"id": ids, "prediction": values.rank(pct=True).to_numpy()})
            by = operator if model.kind == ModelKind.BENCHMARK else owner
            submissions.submit(session, t.store, model, round, frame.to_csv(index=False).encode(),
                               f"{model.name}.csv", by=by, clock=t.clock, live_ids=ids)


def close_open_round(t: Tournament) -> None:
    """Move the clock to the open round's close and close it."""
    with session_scope(t.factory) as session:
        t.clock.set(rounds.current_round(session).closes_at)
    t.close_round()

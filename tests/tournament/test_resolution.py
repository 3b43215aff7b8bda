"""Daily resolution on the small dataset, on SQLite and PostgreSQL: scores against
numerai-tools, late submissions, idempotency, and a crash half-way through a payout day."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from numerai_tools.scoring import (
    correlation_contribution,
    gaussian,
    numerai_corr,
    stake_weight,
    tie_kept_rank,
)
from sqlalchemy import func, select

from crowdalpha.data import live_targets
from crowdalpha.tournament import accounts, ledger, models, resolution, rounds, stakes, submissions
from crowdalpha.tournament.db import session_scope
from crowdalpha.tournament.errors import RoundStateError
from crowdalpha.tournament.feed import round_live_ids
from crowdalpha.tournament.runner import Tournament
from crowdalpha.tournament.tables import (
    EntryKind,
    JournalEntry,
    RoundDay,
    RoundPayout,
    RoundStatus,
    Score,
)
from tests.helpers.tournament import close_open_round, submit_all


def test_day_scores_equal_numerai_tools_on_the_revealed_targets(tournament: Tournament) -> None:
    t = tournament
    submit_all(t, 1)
    close_open_round(t)
    event = t.score_next_day(1)
    assert event.kind == "scored" and event.day == 1
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, 1)
        assert round.status == RoundStatus.SCORING and round.scoring_day == 1
        counted = submissions.counted_submissions(session, round)
        at_risk = stakes.frozen_stakes(session, round)
        preds = pd.DataFrame({
            s.model.name: submissions.read_submission(t.store, s) for s in counted
        })
        stake_by_name = pd.Series({s.model.name: float(at_risk.get(s.model_id, 0)) for s in counted})
        scores = resolution.round_scores(session, round).set_index("model")
        day = session.get(RoundDay, (round.id, 1))
        meta_corr, staked_count, count = day.meta_model_corr, day.staked_submissions, day.submissions
        era = round.era
    preds = preds.sort_index()
    target = live_targets(t.feed.version_dir, int(era), 1)["target"].reindex(preds.index)
    staked = stake_by_name[stake_by_name > 0]
    meta = stake_weight(gaussian(tie_kept_rank(preds[staked.index])), staked)
    expected_corr = numerai_corr(preds, target)
    expected_mmc = correlation_contribution(preds, meta, target)
    for name in preds.columns:
        assert scores.at[name, "corr"] == pytest.approx(expected_corr[name], abs=1e-9)
        assert scores.at[name, "mmc"] == pytest.approx(expected_mmc[name], abs=1e-9)
        assert np.isfinite(scores.at[name, "fnc"]) and 0 <= scores.at[name, "fe_max"] <= 1
    assert meta_corr == pytest.approx(numerai_corr(meta.to_frame("m"), target)["m"], abs=1e-9)
    # the benchmark is the operator's benchmark model: its BMC is zero
    assert scores.at["bench", "bmc"] == pytest.approx(0, abs=1e-12)
    assert staked_count == 4 and count == 6


def test_a_late_submission_is_scored_but_has_nothing_at_risk(tournament: Tournament) -> None:
    t = tournament
    submit_all(t, 1, late_model="m3")
    close_open_round(t)
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, 1)
        owner = accounts.get_account(session, "alice")
        model = models.get_model(session, "m3")
        ids = round_live_ids(t.store, 1)
        frame = pd.DataFrame({"id": ids, "prediction": np.linspace(0, 1, len(ids))})
        late = submissions.submit(session, t.store, model, round, frame.to_csv(index=False).encode(),
                                  "late.csv", by=owner, clock=t.clock, live_ids=ids)
        assert late.late
    events = t.resolve(1)
    assert [e.day for e in events] == list(range(1, 21)) and events[-1].kind == "resolved"
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, 1)
        results = {r.model_id: r for r in resolution.round_results(session, round)}
        m3 = models.get_model(session, "m3")
        assert results[m3.id].amount == 0 and results[m3.id].corr is None
        assert results[m3.id].entry_id is None
        assert session.scalar(select(func.count()).select_from(Score).where(
            Score.model_id == m3.id, Score.round_id == round.id)) == 20
        days = resolution.round_days(session, round)
        assert [d.staked_submissions for d in days] == [3] * 20


def _ledger_snapshot(t: Tournament) -> tuple[int, int, int, Decimal]:
    with session_scope(t.factory) as session:
        return (
            session.scalar(select(func.count()).select_from(JournalEntry)),
            session.scalar(select(func.count()).select_from(Score)),
            session.scalar(select(func.count()).select_from(RoundPayout)),
            ledger.audit(session).burned,
        )


@pytest.mark.parametrize("failing", ["settle_round", "record_scoring_day"])
def test_a_crash_on_the_payout_day_leaves_nothing_and_the_rerun_pays_once(
    tournament: Tournament, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    t = tournament
    submit_all(t, 1, noise=0.0)
    close_open_round(t)
    for _ in range(19):
        t.score_next_day(1)
    before = _ledger_snapshot(t)

    module = stakes if failing == "settle_round" else rounds
    original = getattr(module, failing)

    def crash_half_way(*args, **kwargs):
        original(*args, **kwargs)  # the payouts (or the round's state) are written, then the crash
        raise RuntimeError("injected failure between writes")

    monkeypatch.setattr(module, failing, crash_half_way)
    with pytest.raises(RuntimeError, match="injected failure"):
        t.score_next_day(1)
    assert _ledger_snapshot(t) == before
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, 1)
        assert round.scoring_day == 19 and round.status == RoundStatus.SCORING
        assert session.get(RoundDay, (round.id, 20)) is None
        assert ledger.audit(session).ok

    monkeypatch.undo()
    event = t.score_next_day(1)
    assert event.kind == "resolved" and event.day == 20
    after = _ledger_snapshot(t)
    assert t.score_next_day(1) is None  # idempotent: nothing left to do
    assert t.resolve(1) == []
    assert _ledger_snapshot(t) == after
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, 1)
        entries = session.scalars(select(JournalEntry).where(
            JournalEntry.round_number == 1,
            JournalEntry.kind.in_([EntryKind.PAYOUT, EntryKind.BURN]))).all()
        per_model = pd.Series([e.model_id for e in entries]).value_counts()
        assert (per_model == 1).all() and len(per_model) >= 1
        results = resolution.round_results(session, round)
        assert len(results) == 4
        for r in results:
            entry = next((e for e in entries if e.model_id == r.model_id), None)
            signed = Decimal(0) if entry is None else (
                entry.amount if entry.kind == EntryKind.PAYOUT else -entry.amount)
            assert signed == r.amount
        assert ledger.audit(session).ok


def test_rounds_overlap_and_advance_follows_the_calendar(tournament: Tournament) -> None:
    t = tournament
    submit_all(t, 1)
    t.clock.advance(days=2)  # Monday 18:00, after the 14:30 close
    events = t.advance()
    assert [e.kind for e in events] == ["closed"]
    t.clock.advance(days=5)  # Saturday: days 1..4 of round 1 due (Tue..Fri), round 2 opens
    kinds = [(e.kind, e.round_number, e.day) for e in t.advance()]
    assert kinds == [("scored", 1, d) for d in range(1, 5)] + [("opened", 2, None)]
    with session_scope(t.factory) as session:
        two = rounds.get_round(session, 2)
        one = rounds.get_round(session, 1)
        assert int(two.era) == int(one.era) + 1
    assert len(round_live_ids(t.store, 2)) > 0
    submit_all(t, 2)
    t.clock.advance(days=30)
    events = t.advance(open_rounds=False)
    with session_scope(t.factory) as session:
        assert rounds.get_round(session, 1).status == RoundStatus.RESOLVED
        assert rounds.get_round(session, 2).status == RoundStatus.RESOLVED
    assert sum(e.kind == "resolved" for e in events) == 2


def test_the_operator_models_submit_when_a_round_opens(tournament: Tournament) -> None:
    t = tournament
    with session_scope(t.factory) as session:
        round = rounds.get_round(session, 1)
        counted = {s.model.name: s for s in submissions.counted_submissions(session, round)}
        assert set(counted) == {"bench", "itest"}  # opened on a Saturday: both submit
        example = t.feed.example_predictions()
        stored = submissions.read_submission(t.store, counted["itest"])
        assert np.allclose(stored.to_numpy(), example.reindex(stored.index).to_numpy())
    close_open_round(t)
    t.integration_test_weekdays = (2,)  # Wednesdays only
    t.clock.advance(days=3)
    event = t.open_round()
    assert "1 operator submissions" in event.detail
    with session_scope(t.factory) as session:
        names = {s.model.name for s in submissions.counted_submissions(
            session, rounds.get_round(session, 2))}
        assert names == {"bench"}


def test_scoring_an_open_round_is_refused(tournament: Tournament) -> None:
    with pytest.raises(RoundStateError, match=r"^round_state: round 1 is open; close it before scoring"):
        tournament.score_next_day(1)

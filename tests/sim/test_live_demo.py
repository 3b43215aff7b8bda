"""The main job, live: `bash scripts/demo.sh` runs a tournament on an accelerated clock, with
simulated participants acting through numerapi; and the parts of its loop one by one."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numerapi
import numerapi.base_api
import numpy as np
import pytest
from sqlalchemy import func, select

from crowdalpha.errors import ConfigError
from crowdalpha.sim.live import (
    LIVE_FOLDER,
    MARKER,
    YOUR_ACCOUNT,
    YOUR_MODEL,
    SimulatedAccount,
    check_port_free,
    describe,
    fresh_folder,
    latest_opening,
    newest_live_files,
    poll_seconds_for,
    speed_of,
    take_turn,
    with_retries,
)
from crowdalpha.sim.participants import (
    Participant,
    StakeRule,
    StakingPolicy,
    Strategy,
    StrategyKind,
)
from crowdalpha.tournament import ledger
from crowdalpha.tournament.db import (
    make_engine,
    make_session_factory,
    resolve_settings,
    session_scope,
)
from crowdalpha.tournament.rounds import Schedule
from crowdalpha.tournament.runner import Event
from crowdalpha.tournament.tables import (
    Account,
    EntryKind,
    JournalEntry,
    Model,
    Round,
    RoundStatus,
    Score,
    Submission,
)
from tests.helpers.server import (
    add_participant,
    free_port,
    make_home,
    start_server,
    stop_server,
    tournament_of,
)

REPO = Path(__file__).resolve().parents[2]
#: One market day every 0.8 s, each round open 1 s at least (2 s with the opening's allowance,
#: instead of the 1.5 s the clock's speed gives): a round opens every 6.1 s and resolves about
#: 26 s after opening; 45 s leaves room for a slow machine.
DAY_SECONDS = 0.8
DURATION = 45
#: The operator's integration-test model and three simulated participants.
PARTICIPANTS = 4


# --- the README's main-job command, end to end ---------------------------------------------------


@pytest.fixture(scope="module")
def demo_run(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("demo-home")
    shutil.copytree(small_dataset, home / "datasets" / small_dataset.name)
    port = free_port()
    env = {**os.environ, "CROWDALPHA_HOME": str(home)}
    for name in ("CROWDALPHA_DB", "CROWDALPHA_STORE"):
        env.pop(name, None)
    finished = subprocess.run(
        ["bash", "scripts/demo.sh", "--day-seconds", str(DAY_SECONDS), "--open-seconds", "1",
         "--duration", str(DURATION),
         "--port", str(port), "--participants", str(PARTICIPANTS)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=DURATION + 120,
    )
    return home, port, finished


def test_demo_prints_the_address_and_a_key(demo_run) -> None:
    _home, port, finished = demo_run
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    out = finished.stdout
    assert f"web pages at http://127.0.0.1:{port}" in out
    assert f"http://127.0.0.1:{port}/graphql" in out
    key = re.search(r"API key: (\w+)\$(\w+)", out)
    assert key is not None, out[:2000]
    assert f'numerapi.NumerAPI("{key.group(1)}", "{key.group(2)}")' in out
    head = out[: out.index("round 1 opened")]
    assert len(head.splitlines()) <= 12  # the first screen stays short


def test_rounds_open_score_day_by_day_and_resolve(demo_run) -> None:
    _home, _port, finished = demo_run
    out = finished.stdout
    assert "round 1 opened" in out and "round 2 opened" in out and "round 1 closed" in out
    days = {int(d) for d in re.findall(r"round 1 day (\d+)/20", out)}
    assert days == set(range(1, 20))  # every trading day, in order of the clock
    assert re.search(r"round 1 resolved day 20 \(\d+ payouts", out)
    assert re.search(r"round \d+: [1-9]\d* of 3 simulated participants submitted through numerapi",
                     out)
    assert "; OK" in out


def test_the_live_database_shows_the_participants_through_the_api(demo_run) -> None:
    home, _port, _finished = demo_run
    folder = home / LIVE_FOLDER
    assert (folder / MARKER).exists()
    engine = make_engine(resolve_settings(folder, environ={}).db_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            resolved = session.scalar(select(func.count(Round.id))
                                      .where(Round.status == RoundStatus.RESOLVED))
            assert resolved >= 1
            participant_models = (select(Model.id).join(Account, Model.account_id == Account.id)
                                  .where(Account.name.not_in(("operator", YOUR_ACCOUNT))))
            uploads = session.scalars(select(Submission).where(
                Submission.model_id.in_(participant_models))).all()
            # numerapi's upload_predictions(df=...) names the file predictions.csv
            assert uploads and {s.filename for s in uploads} == {"predictions.csv"}
            assert len({s.model_id for s in uploads}) == PARTICIPANTS - 1
            resolved_ids = set(session.scalars(select(Round.id).where(
                Round.status == RoundStatus.RESOLVED)))
            on_time = [s.id for s in uploads if s.round_id in resolved_ids and not s.late]
            assert on_time  # some participant made it before a round that has resolved closed
            scored_days = set(session.scalars(select(Score.day).where(
                Score.submission_id.in_(on_time))))
            assert scored_days == set(range(1, 21))  # scored every day of the horizon
            moved = session.scalars(select(JournalEntry.kind).where(
                JournalEntry.kind.in_((EntryKind.PAYOUT, EntryKind.BURN)))).all()
            assert moved  # stakes were paid or burned
            stakes = session.scalar(select(func.count(JournalEntry.id)).where(
                JournalEntry.kind == EntryKind.STAKE_INCREASE,
                JournalEntry.model_id.in_(participant_models)))
            assert stakes >= 1  # through numerapi's stake calls
            assert session.scalar(select(Model.id).where(Model.name == YOUR_MODEL)) is not None
            report = ledger.audit(session)
            assert report.ok, str(report)
    finally:
        engine.dispose()


# --- one participant's turn against a real server -------------------------------------------------


@pytest.fixture(scope="module")
def live_server(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    home = make_home(tmp_path_factory.mktemp("turn-home"), small_dataset)
    tournament = tournament_of(home)
    tournament.open_round()
    server = start_server(home)
    previous = numerapi.base_api.API_TOURNAMENT_URL
    numerapi.base_api.API_TOURNAMENT_URL = server.graphql
    yield server, tournament
    numerapi.base_api.API_TOURNAMENT_URL = previous
    stop_server(server)


def simulated(home: Path, name: str, kind: StrategyKind = StrategyKind.RANDOM) -> SimulatedAccount:
    made = add_participant(home, name, deposit=Decimal(100))
    policy = StakingPolicy(StakeRule.HOLD, Decimal(100), Decimal("12.5"))
    member = Participant(name, made.model, Strategy(kind), policy, np.random.default_rng(0))
    return SimulatedAccount(member, made.model_id, made.token)


def test_a_turn_downloads_submits_and_stakes_through_numerapi(live_server, tmp_path: Path) -> None:
    server, _tournament = live_server
    trader = simulated(server.home, "turner")
    napi = trader.api()
    files = newest_live_files(napi)
    assert files == ("v1/live.parquet", "v1/live_example_preds.parquet")
    turn = take_turn(trader, 1, files, tmp_path, threading.Lock())
    assert turn.submitted and turn.error == "" and turn.stake == "increase 12.5"
    assert [s["round_num"] for s in napi.get_submission_filenames(model_id=trader.model_id)] == [1]
    assert napi.stake_get(trader.participant.model_name) == Decimal("12.5")
    assert list(tmp_path.iterdir()) == []  # downloads are cleaned up
    again = take_turn(trader, 1, files, tmp_path)  # HOLD: the stake is already there
    assert again.submitted and again.stake == ""


def test_a_turn_after_the_close_reports_the_refusal(live_server, tmp_path: Path) -> None:
    server, tournament = live_server
    trader = simulated(server.home, "latecomer")
    tournament.close_round(early=True)
    turn = take_turn(trader, 1, newest_live_files(trader.api()), tmp_path)
    assert not turn.submitted
    assert "upload: round_state: Current round not open for submissions" in turn.error
    assert turn.stake == "increase 12.5"  # staking goes on between rounds


# --- small parts ------------------------------------------------------------------------------------


def test_with_retries_retries_only_server_failures() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("internal error: the server could not complete this request")
        return "done"

    assert with_retries(flaky) == "done" and len(calls) == 3
    with pytest.raises(ValueError, match="round_state"):
        with_retries(lambda: (_ for _ in ()).throw(ValueError("round_state: closed")))
    with pytest.raises(ValueError, match="internal error"):
        with_retries(lambda: (_ for _ in ()).throw(ValueError("internal error")), attempts=2)


def test_latest_opening_is_the_last_saturday_1800_at_or_before_now() -> None:
    weekly = Schedule.weekly()
    assert latest_opening(weekly, datetime(2024, 1, 10, 9, tzinfo=UTC)) == datetime(2024, 1, 6, 18, tzinfo=UTC)
    assert latest_opening(weekly, datetime(2024, 1, 6, 18, tzinfo=UTC)) == datetime(2024, 1, 6, 18, tzinfo=UTC)
    assert latest_opening(weekly, datetime(2024, 1, 6, 17, tzinfo=UTC)) == datetime(2023, 12, 30, 18, tzinfo=UTC)


def test_speed_and_polling_follow_the_market_day() -> None:
    assert speed_of(5) == 17280.0 and speed_of(0.5) == 172800.0
    for bad in (0, -1, float("nan"), True, "5"):
        with pytest.raises(ConfigError, match=r"day_seconds .* must be a positive number"):
            speed_of(bad)  # type: ignore[arg-type]
    assert poll_seconds_for(5) == 0.5 and poll_seconds_for(0.1) == 0.25 and poll_seconds_for(60) == 1.0


def test_describe_gives_one_line_per_event_and_one_for_the_scored_days() -> None:
    now = datetime(2024, 1, 9, 14, 30, tzinfo=UTC)
    lines = describe([Event("closed", 2, detail="3 stakes at risk"), Event("scored", 1, 5),
                      Event("scored", 2, 1), Event("resolved", 0, 20, "2 payouts, net +1")], now, 20)
    assert lines == [
        "[Tue 2024-01-09 14:30] round 2 closed (3 stakes at risk)",
        "[Tue 2024-01-09 14:30] round 0 resolved day 20 (2 payouts, net +1)",
        "[Tue 2024-01-09 14:30] scored round 1 day 5/20, round 2 day 1/20",
    ]
    assert describe([], now, 20) == []


def test_fresh_folder_wipes_only_its_own_folder(tmp_path: Path) -> None:
    folder = fresh_folder(tmp_path / "live")
    (folder / "crowdalpha.sqlite").write_text("old")
    again = fresh_folder(folder)
    assert sorted(p.name for p in again.iterdir()) == [MARKER]
    other = tmp_path / "mine"
    other.mkdir()
    (other / "precious.txt").write_text("keep")
    with pytest.raises(ConfigError, match="is not a live demo folder"):
        fresh_folder(other)
    assert (other / "precious.txt").read_text() == "keep"


def test_a_busy_port_is_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            check_port_free("127.0.0.1", port)


def test_latest_opening_never_lies_ahead() -> None:
    now = datetime.now(UTC)
    opening = latest_opening(Schedule.weekly(), now)
    assert now - timedelta(days=7) < opening <= now and opening.weekday() == 5

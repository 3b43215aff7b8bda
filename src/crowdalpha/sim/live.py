"""The live demo: a whole tournament running on one laptop, on an accelerated clock.

``run_live_demo`` starts what a production operator runs, in one process:

- the HTTP server (``server.app.create_app``: numerapi's GraphQL endpoint, signed
  file URLs, the web pages) with uvicorn on a background thread;
- the operator's loop: ``Tournament.advance()`` whenever the clock passes the
  next due event (open, close, score a trading day, resolve), as
  ``crowdalpha admin round advance`` does from cron;
- the simulated participants (:mod:`crowdalpha.sim.participants`), each a
  numerapi client with its own API key: a watcher polls the current round and,
  when a new one opens, every participant downloads the round's live data,
  uploads its predictions and changes its stake, through the API only.

Only the clock is simulated: an :class:`~crowdalpha.tournament.clock.AcceleratedClock`
on which one market day lasts ``day_seconds`` (default 5 s), shared by the
server and the operator; it slows down while a round is open, so that each round
takes submissions for at least ``open_seconds`` wall-clock seconds (default 60 s:
a person's script polling ``check_round_open()`` has time to submit). With the
defaults the weekly schedule opens a round about every 87 s (61 s open, then five
market days and a bit at 5 s each); a round resolves 20 trading days after its
close, about 4.7 min later (three more open windows pass meanwhile).

The server expresses the round times numerapi reads (``openTime``,
``closeStakingTime``, ...) in wall-clock time (``clock.wall_time``), so numerapi's
``check_round_open()`` and ``check_new_round()``, which compare them with the
wall clock, answer right; the database keeps the clock's (market) times.

Everything lives in ``HOME/live`` (its own SQLite database, file store and a
copy of the newest dataset of ``HOME/datasets``): each start wipes it and
begins a fresh tournament, and it is left in place afterwards for inspection
(``crowdalpha --home HOME/live leaderboard``). Ctrl-C or SIGTERM stops it; either way
the result (leaderboard, audit) comes back.
"""

from __future__ import annotations

import contextlib
import math
import random
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numerapi
import numerapi.base_api
import pandas as pd
from fastapi import FastAPI
from sqlalchemy import Select, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crowdalpha.data import layout
from crowdalpha.errors import ConfigError
from crowdalpha.server.app import create_app
from crowdalpha.server.settings import ServerSettings, resolve_server_settings
from crowdalpha.sim.participants import Participant, StakeAction, make_participants
from crowdalpha.sim.season import enrol_cast
from crowdalpha.sim.validation_demo import ensure_dataset
from crowdalpha.tournament import accounts, db, keys, leaderboard, ledger, models
from crowdalpha.tournament.clock import AcceleratedClock, Clock, ReplayClock, SystemClock
from crowdalpha.tournament.feed import DatasetFeed
from crowdalpha.tournament.ledger import AuditReport
from crowdalpha.tournament.rounds import Schedule
from crowdalpha.tournament.runner import Event, Tournament
from crowdalpha.tournament.tables import Round, RoundStatus

#: The demo's folder inside HOME; wiped at every start.
LIVE_FOLDER = "live"
#: A file that marks a folder as the demo's own, so a start never wipes anything else.
MARKER = ".crowdalpha-live-demo"
DEFAULT_DAY_SECONDS = 5.0
#: Wall-clock seconds each round takes submissions, at least, whatever ``day_seconds`` is.
DEFAULT_OPEN_SECONDS = 60.0
#: Wall-clock seconds added to each open window for the operator's loop to notice the
#: opening and publish the round (archiving its live data) before it shows.
OPENING_ALLOWANCE_SECONDS = 1.0
#: The ready-made participant for the person watching the demo.
YOUR_ACCOUNT = "you"
YOUR_MODEL = "you_model"
YOUR_DEPOSIT = Decimal(1000)
#: The demo server's sign-up grant, so that a visitor who signs up in the browser can stake.
SIGNUP_GRANT = Decimal(1000)
#: Wall-clock seconds between the server answering and the first scheduled opening.
LEAD_SECONDS = 2.0
#: Longest wall-clock wait of the operator's loop (so a stop or ``duration`` is prompt).
MAX_WAIT_SECONDS = 0.5
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class SimulatedAccount:
    """A simulated participant's identity on the server: its model's id and its API key."""

    participant: Participant
    model_id: str
    token: str = field(repr=False)

    def api(self) -> numerapi.NumerAPI:
        """A numerapi client logged in with this participant's key."""
        public_id, secret = self.token.split("$", 1)
        return numerapi.NumerAPI(public_id, secret, verbosity="error", show_progress_bars=False)


@dataclass(frozen=True)
class LiveDemoInfo:
    """What the person watching needs: where the server is and the ready-made key."""

    folder: Path
    url: str
    token: str
    account: str = YOUR_ACCOUNT
    model: str = YOUR_MODEL
    signup_grant: Decimal = Decimal(0)

    @property
    def graphql(self) -> str:
        return f"{self.url}/graphql"

    def banner(self, *, day_seconds: float, participants: int) -> list[str]:
        """The first screen: addresses, the key and a numerapi snippet that uses it."""
        public_id, secret = self.token.split("$", 1)
        return [
            f"crowdalpha live demo: web pages at {self.url}  (GraphQL for numerapi: {self.graphql})",
            f"one market day every {day_seconds:g} s; {participants} simulated participants "
            f"submit and stake through numerapi; Ctrl-C stops",
            f"your account '{self.account}' (model '{self.model}', {YOUR_DEPOSIT} to stake), "
            f"API key: {self.token}",
            f'  import numerapi; numerapi.base_api.API_TOURNAMENT_URL = "{self.graphql}"',
            f'  napi = numerapi.NumerAPI("{public_id}", "{secret}")',
            f'  napi.upload_predictions(df=preds, model_id=napi.get_models()["{self.model}"])',
            f"or sign up at {self.url}/signup (new accounts get "
            f"{ledger.format_amount(self.signup_grant)} to stake); "
            f"state in {self.folder} (fresh at every start)",
        ]


@dataclass(frozen=True)
class LiveDemoResult:
    """How far the live tournament got, and the ledger audit at the end."""

    folder: Path
    url: str
    rounds_opened: int
    rounds_resolved: int
    participant_submissions: int
    missed_turns: int
    models: list[leaderboard.ModelRow]
    audit: AuditReport


# --- the schedule and the clock -----------------------------------------------------------


def latest_opening(schedule: Schedule, now: datetime) -> datetime:
    """The schedule's last opening at or before ``now``: the demo's calendar starts this week."""
    opening = schedule.next_open(now - timedelta(days=8))
    while (following := schedule.next_open(opening)) <= now:
        opening = following
    return opening


def open_windows(schedule: Schedule) -> Callable[[datetime], tuple[datetime, datetime]]:
    """The schedule's open windows as the accelerated clock asks for them: the first
    ``(opening, close)`` that ends after a given time."""

    def window(after: datetime) -> tuple[datetime, datetime]:
        opening = latest_opening(schedule, after)
        if opening + schedule.close_after <= after:
            opening = schedule.next_open(after)
        return opening, opening + schedule.close_after

    return window


def window_seconds_for(open_seconds: float) -> float:
    """How long (wall clock) the clock's open windows last for rounds open ``open_seconds``
    (0: no minimum, the windows pass at the clock's speed)."""
    if (isinstance(open_seconds, bool) or not isinstance(open_seconds, int | float)
            or not math.isfinite(open_seconds) or open_seconds < 0):
        raise ConfigError(f"open_seconds {open_seconds!r} must be a number of seconds, 0 or more")
    return float(open_seconds) + OPENING_ALLOWANCE_SECONDS if open_seconds > 0 else 0.0


def speed_of(day_seconds: float) -> float:
    """Clock speed for one market day every ``day_seconds`` wall-clock seconds."""
    if (isinstance(day_seconds, bool) or not isinstance(day_seconds, int | float)
            or not math.isfinite(day_seconds) or day_seconds <= 0):
        raise ConfigError(f"day_seconds {day_seconds!r} must be a positive number of seconds")
    return SECONDS_PER_DAY / float(day_seconds)


# --- the folder, the accounts ---------------------------------------------------------------


def fresh_folder(folder: Path) -> Path:
    """Empty ``folder`` for a new live tournament; refuses a non-empty folder that is not the demo's."""
    if folder.exists():
        if not folder.is_dir() or (any(folder.iterdir()) and not (folder / MARKER).exists()):
            raise ConfigError(f"'{folder}' exists and is not a live demo folder; move it away "
                              "or choose another --home")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("crowdalpha live demo: wiped and recreated by `crowdalpha demo`\n")
    return folder


def enrol(session: Session, cast: list[Participant], clock: Clock) -> tuple[list[SimulatedAccount], str]:
    """The season's enrolment (operator, benchmark, the cast with deposits) plus an API key per
    simulated participant, and the ready-made account for the person watching; returns the
    simulated accounts and that person's key."""
    enrol_cast(session, cast, clock)
    simulated = []
    for member in cast:
        if member.operator:
            continue  # the tournament submits the operator's models itself
        owner = accounts.get_account(session, member.name)
        key = keys.create_api_key(session, owner, clock=clock)
        model = models.get_model(session, member.model_name)
        simulated.append(SimulatedAccount(member, model.public_id, key.token))
    you = accounts.create_account(session, YOUR_ACCOUNT, clock=clock)
    ledger.deposit(session, you, YOUR_DEPOSIT, clock=clock)
    models.create_model(session, you, YOUR_MODEL, clock=clock)
    return simulated, keys.create_api_key(session, you, clock=clock).token


# --- the server ---------------------------------------------------------------------------------


class BackgroundServer:
    """uvicorn serving ``app`` on a daemon thread of this process."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        import uvicorn

        self.host, self.port = host, port
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="crowdalpha-server", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until it listens; ``ConfigError`` when it cannot."""
        check_port_free(self.host, self.port)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise ConfigError(f"the server could not start on {self.host}:{self.port} "
                                  "(see the message above)")
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"the server did not start on {self.host}:{self.port} "
                                  f"within {timeout:g} s")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)


def check_port_free(host: str, port: int) -> None:
    """``ConfigError`` naming the port when something already listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ConfigError(f"cannot listen on {host}:{port} ({error.strerror or error}); "
                              "stop what uses it or pass another --port") from None


# --- the participants ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """What one simulated participant did when a round opened."""

    model: str
    submitted: bool
    stake: str = ""  # "increase 12.5", "decrease 3" or ""
    error: str = ""


def newest_live_files(napi: numerapi.NumerAPI) -> tuple[str, str]:
    """The newest dataset version's live data and example predictions, as the server lists them."""
    names = napi.list_datasets()
    found = sorted((int(m), name.split("/", 1)[0]) for name in names
                   if name.endswith("/" + layout.LIVE) and (m := name.split("/", 1)[0][1:]).isdigit())
    if not found:
        raise ConfigError(f"the server lists no live data; files: {', '.join(names[:8])}")
    version = found[-1][1]
    return f"{version}/{layout.LIVE}", f"{version}/{layout.LIVE_EXAMPLE_PREDS}"


def last_resolved_corr(napi: numerapi.NumerAPI, model_id: str) -> float | None:
    """The model's final CORR in its newest resolved round (None before any)."""
    rows = napi.submission_scores(model_id, display_name="v2_corr20", resolved=True,
                                  last_n_rounds=1, distinct_on_round=True)
    values = [r["value"] for r in rows if r.get("value") is not None]
    return float(values[-1]) if values else None


#: How often a participant tries a request the server could not complete (then gives up).
ATTEMPTS = 4
#: What the server answers when a request failed on its side (``api.errors.INTERNAL``).
TRANSIENT = ("internal error", "database is locked")


def with_retries(call: Callable[[], object], *, attempts: int = ATTEMPTS) -> object:
    """``call()``, tried again after a short random pause while the server answers with an
    internal error, as a careful participant's script does."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ValueError as error:
            if attempt == attempts or not any(t in str(error) for t in TRANSIENT):
                raise
            time.sleep(random.uniform(0.1, 0.3) * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def take_turn(simulated: SimulatedAccount, round_number: int, files: tuple[str, str],
              workdir: Path, write_lock: threading.Lock | None = None) -> Turn:
    """One participant's turn in a new round, through numerapi only: download the round's live
    data, upload predictions, then change its stake as its policy says.

    ``write_lock``, when given, is held around the requests that write (the upload, the stake
    change): SQLite takes one writer at a time, and a writer that loses the race on a deferred
    transaction fails with "database is locked" instead of waiting, so the simulated crowd
    queues its writes (and retries what the server could not complete, see ``with_retries``).
    """
    member = simulated.participant
    writing = write_lock if write_lock is not None else contextlib.nullcontext()
    napi = simulated.api()
    submitted, stake, errors = False, "", []
    try:
        with tempfile.TemporaryDirectory(dir=workdir, prefix=f"{member.name}-") as scratch:
            live = pd.read_parquet(napi.download_dataset(
                files[0], str(Path(scratch) / "live.parquet"), round_num=round_number))
            example = pd.read_parquet(napi.download_dataset(
                files[1], str(Path(scratch) / "example.parquet"), round_num=round_number))
        predictions = member.predict(live, example[layout.PREDICTION])
        frame = pd.DataFrame({layout.ID: predictions.index.astype(str),
                              layout.PREDICTION: predictions.to_numpy()})
        with writing:
            with_retries(lambda: napi.upload_predictions(df=frame, model_id=simulated.model_id))
        submitted = True
    except Exception as error:  # a participant's failure is reported, never fatal to the demo
        errors.append(f"upload: {_short(error)}")
    try:
        balance = Decimal(str(napi.get_account()["availableNmr"]))
        current = napi.stake_get(member.model_name)
        change = member.decide_stake(balance, Decimal(0) if current is None else Decimal(str(current)),
                                     last_resolved_corr(napi, simulated.model_id))
        if change is not None:
            amount = format(change.amount.normalize(), "f")
            move = napi.stake_increase if change.action is StakeAction.INCREASE else napi.stake_decrease
            with writing:
                with_retries(lambda: move(amount, simulated.model_id))
            stake = f"{change.action.value} {amount}"
    except Exception as error:
        errors.append(f"stake: {_short(error)}")
    return Turn(member.model_name, submitted, stake, "; ".join(errors))


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:160]


class SimulatedParticipants:
    """The cast at work: a watcher polls the current round through numerapi; when a new round
    shows up every participant takes its turn on a thread pool, and one line reports the round."""

    def __init__(self, cast: list[SimulatedAccount], workdir: Path, on_event: Callable[[str], None],
                 *, poll_seconds: float) -> None:
        self.cast = cast
        self.workdir = workdir
        self.on_event = on_event
        self.poll_seconds = poll_seconds
        self.submissions = 0
        self.missed = 0
        self._stop = threading.Event()
        self._writes = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(8, len(cast))),
                                        thread_name_prefix="participant")
        self._thread = threading.Thread(target=self._watch, name="participants", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _watch(self) -> None:
        public = numerapi.NumerAPI(verbosity="error", show_progress_bars=False)
        seen: int | None = None
        complained = False
        while not self._stop.wait(self.poll_seconds):
            try:
                number = public.get_current_round()
                if number is None or number == seen:
                    continue
                seen = number
                files = newest_live_files(public)
            except Exception as error:
                if not complained:  # say it once; the watcher keeps trying
                    self.on_event(f"participants: cannot reach the server: {_short(error)}")
                    complained = True
                continue
            complained = False
            self._play(number, files)

    def _play(self, number: int, files: tuple[str, str]) -> None:
        futures = [self._pool.submit(take_turn, member, number, files, self.workdir, self._writes)
                   for member in self.cast]
        turns = [f.result() for f in futures]
        submitted = sum(t.submitted for t in turns)
        self.submissions += submitted
        self.missed += len(turns) - submitted
        changes = [t for t in turns if t.stake]
        increases = sum(t.stake.startswith("increase") for t in changes)
        line = (f"round {number}: {submitted} of {len(turns)} simulated participants submitted "
                f"through numerapi; {increases} stake increases, {len(changes) - increases} decreases")
        failed = [t for t in turns if t.error]
        if failed:
            line += f"; {len(failed)} had trouble, e.g. {failed[0].model}: {failed[0].error}"
        self.on_event(line)


def poll_seconds_for(day_seconds: float) -> float:
    """How often the participants look for a new round: a tenth of a market day, 0.25..1 s
    (unauthenticated polls from one address share its rate limit)."""
    return min(1.0, max(0.25, day_seconds / 10))


# --- the operator ------------------------------------------------------------------------------


def describe(events: list[Event], now: datetime, last_day: int) -> list[str]:
    """Printable lines for one ``advance()``: one per opening, close and resolution, and one
    line for all the trading days it scored."""
    stamp = now.strftime("%a %Y-%m-%d %H:%M")
    lines = []
    scored = [e for e in events if e.kind == "scored"]
    for event in events:
        if event.kind != "scored":
            lines.append(f"[{stamp}] {event}")
    if scored:
        days = ", ".join(f"round {e.round_number} day {e.day}/{last_day}" for e in scored)
        lines.append(f"[{stamp}] scored {days}")
    return lines


def _one_at_a_time(say: Callable[[str], None]) -> Callable[[str], None]:
    """``say`` behind a lock, so lines from several threads never interleave."""
    lock = threading.Lock()

    def locked(line: str) -> None:
        with lock:
            say(line)

    return locked


@contextlib.contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGTERM sets ``stop`` (the loop then ends as after Ctrl-C) instead of
    killing the process; only on the main thread, where Python takes signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _count(session: Session, statement: Select[tuple[int]]) -> int:
    return int(session.scalar(statement) or 0)


def run_live_demo(
    home: Path,
    *,
    day_seconds: float = DEFAULT_DAY_SECONDS,
    open_seconds: float = DEFAULT_OPEN_SECONDS,
    port: int = 8000,
    host: str = "127.0.0.1",
    seed: int = 0,
    participants: int | None = None,
    duration: float | None = None,
    on_event: Callable[[str], None] = print,
    preset: str = "small",
    progress: Callable[[int, int], None] | None = None,
    signup_grant: Decimal = SIGNUP_GRANT,
) -> LiveDemoResult:
    """Run a live tournament in ``home/live`` until Ctrl-C, SIGTERM or ``duration`` wall-clock
    seconds (counted from the first screen); returns what happened and the ledger audit.
    Each round takes submissions for at least ``open_seconds`` wall-clock seconds (0: as
    long as its window lasts at the clock's speed).

    Builds a ``preset`` dataset in ``home/datasets`` when there is none (``progress`` gets
    ``(done, total)``). Every line of output goes to ``on_event``. The server's settings
    are the defaults (none of this process's ``CROWDALPHA_*`` variables) with ``host``,
    ``port`` and ``signup_grant``: what each account made on the sign-up page gets.
    """
    speed = speed_of(day_seconds)
    window_seconds = window_seconds_for(open_seconds)
    on_event = _one_at_a_time(on_event)  # the operator and the participants report from two threads
    if duration is not None and (not isinstance(duration, int | float) or not duration > 0):
        raise ConfigError(f"duration {duration!r} must be a positive number of seconds")
    home = Path(home)
    check_port_free(host, port)  # before wiping the previous demo's folder
    dataset = ensure_dataset(home / "datasets", preset, seed, progress)
    on_event(f"preparing a fresh live tournament in {home / LIVE_FOLDER} on a copy of {dataset} ...")
    folder = fresh_folder(home / LIVE_FOLDER)
    version = folder / "datasets" / dataset.name
    shutil.copytree(dataset, version)
    settings: ServerSettings = replace(
        resolve_server_settings(folder, host=host, port=port, signup_grant=signup_grant,
                                environ={}),
        # signed URLs expire on the server's accelerated clock: give them an hour of wall time
        url_ttl_seconds=math.ceil(ServerSettings.url_ttl_seconds * speed),
    )
    db.prepare_home(settings.home)
    engine = db.make_engine(settings.home.db_url)
    previous_url = numerapi.base_api.API_TOURNAMENT_URL
    server: BackgroundServer | None = None
    crowd: SimulatedParticipants | None = None
    stop = threading.Event()
    sigterm = contextlib.ExitStack()  # SIGTERM ends the demo as Ctrl-C does, result included
    try:
        sigterm.enter_context(_stop_on_sigterm(stop))
        db.migrate(engine)
        factory = db.make_session_factory(engine)
        schedule = Schedule.weekly()
        first_open = latest_opening(schedule, SystemClock().now())
        start = first_open - timedelta(seconds=LEAD_SECONDS * speed)
        cast = make_participants(version, seed, participants)
        feed = DatasetFeed(version)
        _ = feed.simulator  # replay the market once now, not while the first round waits for it
        with db.session_scope(factory) as session:
            simulated, your_token = enrol(session, cast, ReplayClock(start))
        clock = AcceleratedClock(start, speed, windows=open_windows(schedule),
                                 window_seconds=window_seconds)
        tournament = Tournament(factory, db.open_store(settings.home), feed, clock,
                                schedule)
        server = BackgroundServer(create_app(settings, clock=clock), host, port)
        server.start()
        info = LiveDemoInfo(folder, settings.public_url, your_token,
                            signup_grant=settings.signup_grant)
        for line in info.banner(day_seconds=day_seconds, participants=len(simulated)):
            on_event(line)
        numerapi.base_api.API_TOURNAMENT_URL = info.graphql
        workdir = folder / "participants"
        workdir.mkdir()
        crowd = SimulatedParticipants(simulated, workdir, on_event,
                                      poll_seconds=poll_seconds_for(day_seconds))
        crowd.start()
        began = time.monotonic()
        first = True
        try:
            while not stop.is_set() and (duration is None or time.monotonic() - began < duration):
                # before the first opening the schedule has nothing to go by: wait for its time
                due = first_open if first else tournament.next_event_time()
                now = clock.now()
                if due is not None and now >= due:
                    try:
                        events = tournament.advance()
                    except OperationalError as error:  # e.g. SQLite busy for too long: retry
                        on_event(f"operator: {_short(error)}; retrying")
                        time.sleep(1.0)
                        continue
                    first = False
                    for line in describe(events, now, schedule.resolves_after_days):
                        on_event(line)
                    continue
                wait = MAX_WAIT_SECONDS if due is None else clock.wall_seconds_until(due)
                if duration is not None:
                    wait = min(wait, duration - (time.monotonic() - began))
                time.sleep(min(max(wait, 0.01), MAX_WAIT_SECONDS))
        except KeyboardInterrupt:
            stop.set()
        if stop.is_set():
            on_event("stopping ...")
    finally:
        if crowd is not None:
            crowd.stop()
        if server is not None:
            server.stop()
        numerapi.base_api.API_TOURNAMENT_URL = previous_url
        sigterm.close()
    try:
        with db.session_scope(db.make_session_factory(engine)) as session:
            audit = ledger.audit(session)
            ranked = leaderboard.model_leaderboard(session)
            opened = _count(session, select(func.count(Round.id)))
            resolved = _count(session, select(func.count(Round.id))
                              .where(Round.status == RoundStatus.RESOLVED))
    finally:
        engine.dispose()
    return LiveDemoResult(folder, settings.public_url, opened, resolved,
                          crowd.submissions if crowd else 0, crowd.missed if crowd else 0,
                          ranked, audit)


__all__ = [
    "DEFAULT_DAY_SECONDS",
    "DEFAULT_OPEN_SECONDS",
    "LIVE_FOLDER",
    "YOUR_ACCOUNT",
    "YOUR_MODEL",
    "BackgroundServer",
    "LiveDemoInfo",
    "LiveDemoResult",
    "SimulatedAccount",
    "SimulatedParticipants",
    "Turn",
    "check_port_free",
    "describe",
    "enrol",
    "fresh_folder",
    "latest_opening",
    "newest_live_files",
    "open_windows",
    "poll_seconds_for",
    "run_live_demo",
    "speed_of",
    "take_turn",
    "window_seconds_for",
    "with_retries",
]

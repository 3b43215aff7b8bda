"""Submission uploads through the real server: N numerapi clients against ``crowdalpha serve``.

Run: ``.venv/bin/python benchmarks/bench_upload.py [--backend sqlite|postgresql|both] [--quick]``

Measured: ``--clients`` (8; a list such as ``1,8`` gives one run set each)
concurrent numerapi clients, spread over ``--client-processes`` (2) processes,
each calling ``NumerAPI.upload_predictions(file_path=..., model_id=...)`` in a
loop (``submission_upload_auth``, the signed PUT, ``create_submission``: three
HTTP requests on fresh connections, as numerapi does) against a real
``crowdalpha serve --workers W`` process on loopback, for each W in
``--workers`` (1,2). Each upload is a 5,000-row CSV (``id,prediction``, as
numerapi users write them: 181 KB) for a round whose live era has 5,004 ids,
written to disk before timing. Each measured run lasts ``--duration`` (30) s
after a start signal (every client has done one warm-up upload before it);
``--repeat`` (2) runs per server and client count. Reported per run: accepted
submissions per second (accepted / time from the start signal to the last
reply), p50 and p99 latency of one whole ``upload_predictions`` call, errors
(with the server log's account of them: exception, SQL statement and
crowdalpha frame, e.g. SQLite's 'database is locked'), and the CPU the server
processes, the client processes and (when this script started it) PostgreSQL
used, as cores (CPU seconds / wall seconds) on this 2-core machine. An upload
counts as accepted when it returned a submission id; the ids are then looked
up in the ``submissions`` table, and the table's row count must have grown by
exactly the accepted uploads (plus the warm-ups): any difference is printed.

Baselines, same run and same database, one call at a time in this process:

- the bare domain call: ``submissions.submit`` (parse, check, write the parquet
  file and the scoring copy, insert the row) plus the commit, for the same
  file bytes, a session per call. This is the floor the HTTP path is measured
  against: reported as ms per submission, ``1 / that`` (submissions per second
  on one core) and the ratios HTTP latency / floor, unloaded and under load;
- the server's GraphQL path without HTTP: ``route.execute`` of the two GraphQL
  requests on the app's own services, with the upload handler's store write
  between them, and the SQL statements each request sends;
- one numerapi client on the idle server, sequential uploads with
  ``file_path=`` and with ``df=`` (numerapi writes the frame to CSV itself).

Setup (not measured): a dataset with a 5,004-id live era (a small simulated
market of ``--stocks`` (5,026) stocks and 40 features, built once in about
20 s and cached under ``--cache``), a home folder with the database migrated
(SQLite: a file in the home; PostgreSQL: a new schema in a private server from
``scripts/ci_postgres.sh``, or ``--pg-url``), round 1 opened by the operator's
``Tournament.open_round``, and ``--participants`` (64) accounts each with one
model and an API key (the clients go round their participants, so no key nears
the default rate limit of 600 requests a minute).

``--profile`` adds one more run per server (not in the figures) with py-spy
sampling the server processes, and prints where their busy samples go
(inclusive, self, and the callees of the request handlers), plus cProfiles of
the two in-process baselines. Results go to ``benchmarks/results/upload.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing as mp
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PRESET = "bench_upload"
TOURNAMENT = 8


# --- the dataset --------------------------------------------------------------------------


def ensure_dataset(cache: Path, n_stocks: int, seed: int) -> Path:
    """A dataset version with a ~5,000-id live era, built once into ``cache``.

    The ``small`` preset has 2,500 stocks and ``medium`` 3,000; ``large`` has 5,000
    but also 1,050 features and 600 eras, a long build for what uploads need. This
    is a ``small``-like market with ``n_stocks`` stocks, 40 features and 33 eras
    (about 20 s), registered as preset ``bench_upload`` in this process only: the
    server never replays the version's simulator to take submissions.
    """
    from crowdalpha.data import PRESETS, Preset, build_dataset, layout
    from crowdalpha.data.market import MarketConfig

    PRESETS.setdefault(PRESET, Preset(
        PRESET, MarketConfig(n_stocks=n_stocks, n_features=40, n_groups=4),
        n_train_eras=24, n_validation_eras=4, ranking_eras=20,
        model_params={"num_boost_round": 30},
    ))
    folder = cache / f"dataset-{n_stocks}-s{seed}"
    versions = layout.versions(folder) if folder.exists() else []
    if versions:
        return layout.latest_version(folder)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    version = build_dataset(folder, PRESET, seed=seed)
    print(f"built the dataset {version} in {time.perf_counter() - start:.1f} s", flush=True)
    return version


def prediction_files(folder: Path, live_ids: pd.Index, n_files: int, rows: int, seed: int) -> list[Path]:
    """``n_files`` CSVs of ``rows`` of the live ids (shuffled) with random predictions."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.asarray(live_ids.astype(str))
    paths = []
    for i in range(n_files):
        chosen = rng.permutation(len(ids))[:rows]
        frame = pd.DataFrame({"id": ids[chosen], "prediction": rng.random(rows)})
        path = folder / f"predictions_{i:03d}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


# --- databases ----------------------------------------------------------------------------


@contextmanager
def database_url(backend: str, pg_url: str | None) -> Iterator[tuple[str | None, int | None]]:
    """None for SQLite (the home's own file); for PostgreSQL a URL whose search_path is a
    new schema, dropped afterwards (the server reads it from ``CROWDALPHA_DB``), and the
    PostgreSQL server's pid when this script started it."""
    if backend == "sqlite":
        yield None, None
        return
    from pg_server import new_schema, postgres_server

    with postgres_server(pg_url, port=54351) as server, new_schema(server.url) as url:
        yield url, server.postmaster_pid


# --- the home -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Participant:
    public_id: str
    secret: str
    model_id: str  # the model's public id (what numerapi passes)
    file: str = ""  # the prediction file it uploads


def home_environ(home: Path, db_url: str | None) -> dict[str, str]:
    env = {"CROWDALPHA_HOME": str(home)}
    if db_url:
        env["CROWDALPHA_DB"] = db_url
    return env


def prepare_home(home: Path, dataset: Path, env: dict[str, str],
                 n_participants: int) -> tuple[list[Participant], str]:
    """Copy the dataset, migrate, open round 1, create ``n_participants`` + 1 participants
    (one model, one key; the last is the in-process baselines'); the opening's detail."""
    from crowdalpha.tournament import accounts, keys, models
    from crowdalpha.tournament.clock import SystemClock
    from crowdalpha.tournament.db import (
        make_engine,
        make_session_factory,
        migrate,
        open_store,
        resolve_settings,
        session_scope,
    )
    from crowdalpha.tournament.feed import DatasetFeed
    from crowdalpha.tournament.runner import Tournament

    (home / "datasets").mkdir(parents=True, exist_ok=True)
    shutil.copytree(dataset, home / "datasets" / dataset.name)
    settings = resolve_settings(home, environ=env)
    engine = make_engine(settings.db_url)
    migrate(engine)
    factory = make_session_factory(engine)
    clock = SystemClock()
    tournament = Tournament(factory, open_store(settings), DatasetFeed.latest(home / "datasets"), clock)
    opened = tournament.open_round()
    participants = []
    with session_scope(factory) as session:
        for i in range(n_participants + 1):  # the last one is the in-process baseline's
            account = accounts.create_account(session, f"bench{i:04d}", clock=clock)
            model = models.create_model(session, account, f"bench{i:04d}_m1", clock=clock)
            key = keys.create_api_key(session, account, clock=clock)
            session.flush()
            public_id, secret = key.token.split("$")
            participants.append(Participant(public_id, secret, model.public_id))
    engine.dispose()
    return participants, opened.detail


def submission_rows(engine: Any) -> int:
    from sqlalchemy import func, select

    from crowdalpha.tournament.tables import Submission

    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Submission)))


def known_ids(engine: Any, ids: list[str]) -> int:
    """How many of ``ids`` are submissions in the table."""
    from sqlalchemy import func, select

    from crowdalpha.tournament.tables import Submission

    found = 0
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            found += int(conn.scalar(select(func.count()).select_from(Submission)
                                     .where(Submission.public_id.in_(chunk))))
    return found


# --- baseline: the domain call in-process -------------------------------------------------


def baseline_inprocess(env: dict[str, str], participant: Participant, repeats: int,
                       profile: bool) -> dict[str, Any]:
    """``submissions.submit`` + commit for one file, one call at a time, a session per call
    (as a request has), with the round's live ids read once (as the server caches them)."""
    from sqlalchemy import event, select

    from crowdalpha.tournament import rounds, submissions
    from crowdalpha.tournament.clock import SystemClock
    from crowdalpha.tournament.db import (
        make_engine,
        make_session_factory,
        open_store,
        resolve_settings,
    )
    from crowdalpha.tournament.feed import round_live_ids
    from crowdalpha.tournament.tables import Model

    settings = resolve_settings(env["CROWDALPHA_HOME"], environ=env)
    engine = make_engine(settings.db_url)
    factory = make_session_factory(engine)
    store = open_store(settings)
    clock = SystemClock()
    data = Path(participant.file).read_bytes()
    name = Path(participant.file).name
    with factory() as session:
        number = rounds.current_round(session).number
    live_ids = round_live_ids(store, number)
    parse_s, submit_s, total_s = [], [], []
    profiler = cProfile.Profile() if profile else None
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    for r in range(repeats + 2):  # the first two warm up
        mark = time.perf_counter()
        submissions.parse_submission(data, name, round_number=number, live_ids=live_ids)
        parsed = time.perf_counter() - mark
        if r == 2:
            statements[0] = 0
        if profiler and r >= 2:
            profiler.enable()
        start = time.perf_counter()
        with factory() as session:
            model = session.scalars(select(Model).where(Model.public_id == participant.model_id)).one()
            round_ = rounds.current_round(session)
            submissions.submit(session, store, model, round_, data, name, by=model.account,
                               clock=clock, live_ids=live_ids)
            mark = time.perf_counter()
            session.commit()
        end = time.perf_counter()
        if profiler:
            profiler.disable()
        if r >= 2:
            parse_s.append(parsed)
            submit_s.append(mark - start)
            total_s.append(end - start)
    engine.dispose()
    out = {"repeats": repeats, "parse_p50_s": statistics.median(parse_s),
           "submit_p50_s": statistics.median(submit_s), "total_p50_s": statistics.median(total_s),
           "total_min_s": min(total_s), "bytes": len(data), "uploads": repeats + 2,
           "statements": statements[0] / repeats}
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        out["cprofile"] = text.getvalue()
    return out


# numerapi 3.1.1's two GraphQL documents of upload_predictions
AUTH_QUERY = """query($filename: String! $tournament: Int! $modelId: String) {
    submission_upload_auth(filename: $filename tournament: $tournament modelId: $modelId) { filename url }
}"""
CREATE_QUERY = """mutation($filename: String! $tournament: Int! $modelId: String $triggerId: String
                  $dataDatestamp: Int) {
    create_submission(filename: $filename tournament: $tournament modelId: $modelId triggerId: $triggerId
                      source: "numerapi" dataDatestamp: $dataDatestamp) { id }
}"""


def graphql_inprocess(env: dict[str, str], participant: Participant, repeats: int,
                      profile: bool) -> dict[str, Any]:
    """The server's work for one upload without HTTP: ``route.execute`` of the two GraphQL
    requests on the app's own services, and the upload handler's store write in between;
    one at a time, with the SQL statements each request sends."""
    from sqlalchemy import event

    from crowdalpha.api.graphql.route import execute
    from crowdalpha.server.app import create_app
    from crowdalpha.server.settings import resolve_server_settings
    from crowdalpha.tournament import store as file_store

    app = create_app(resolve_server_settings(env["CROWDALPHA_HOME"], environ={**os.environ, **env}))
    services = app.state.services
    engine = services.factory.kw["bind"]
    statements = {"auth": 0, "create": 0}
    phase = ["auth"]

    def count(*_: Any) -> None:
        statements[phase[0]] += 1

    event.listen(engine, "before_cursor_execute", count)
    token = f"Token {participant.public_id}${participant.secret}"
    data, name = Path(participant.file).read_bytes(), Path(participant.file).name
    variables = {"filename": name, "tournament": TOURNAMENT, "modelId": participant.model_id}
    times: dict[str, list[float]] = {"auth": [], "put": [], "create": [], "total": []}
    profiler = cProfile.Profile() if profile else None
    for r in range(repeats + 2):  # the first two warm up
        if r == 2:
            statements.update(auth=0, create=0)
            if profiler:
                profiler.enable()
        t0 = time.perf_counter()
        phase[0] = "auth"
        reply = execute(services, {"query": AUTH_QUERY, "variables": variables}, token)
        slot = reply["data"]["submission_upload_auth"]["filename"]
        t1 = time.perf_counter()
        file_store.write_bytes(services.store, f"uploads/{slot}", data)
        t2 = time.perf_counter()
        phase[0] = "create"
        reply = execute(services, {"query": CREATE_QUERY, "variables": {**variables, "filename": slot}}, token)
        t3 = time.perf_counter()
        if reply.get("errors") or not reply["data"]["create_submission"]["id"]:
            raise RuntimeError(f"in-process create_submission failed: {reply}")
        if r >= 2:
            for key, value in (("auth", t1 - t0), ("put", t2 - t1), ("create", t3 - t2), ("total", t3 - t0)):
                times[key].append(value)
    if profiler:
        profiler.disable()
    event.remove(engine, "before_cursor_execute", count)
    engine.dispose()
    out: dict[str, Any] = {f"{k}_p50_s": statistics.median(v) for k, v in times.items()}
    out.update(uploads=repeats + 2, statements_auth=statements["auth"] / repeats,
               statements_create=statements["create"] / repeats)
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
        out["cprofile"] = text.getvalue()
    return out


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    workers: int


def start_server(home: Path, env: dict[str, str], workers: int, cpus: set[int] | None) -> Server:
    """``crowdalpha serve --workers W`` on ``home``; waits until every worker answers."""
    import httpx

    port = free_port()
    log = home / f"serve-{port}-w{workers}.log"
    environ = {**os.environ, **env}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "crowdalpha", "serve", "--port", str(port), "--workers", str(workers)],
            stdout=out, stderr=subprocess.STDOUT, env=environ,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            httpx.post(f"{url}/graphql", json={"query": "{ __typename }"}, timeout=2)
            if len(process_tree(process.pid)) >= (1 if workers == 1 else workers + 1):
                time.sleep(1.0 if workers > 1 else 0)  # let the last worker finish its start-up
                return Server(url, process, log, workers)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start in 90 s: {log.read_text()}")


def stop_server(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's workers are children of the supervisor)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += parents.get(p, [])
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds each process has used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            found[p] = (int(fields[11]) + int(fields[12])) / ticks
        except OSError:
            pass
    return found


def cpu_used(before: dict[int, float], root: int | None) -> float | None:
    """CPU seconds used since ``before`` by ``root``'s process tree as it is now (a process
    that ended meanwhile is missed: PostgreSQL backends of closed connections)."""
    if root is None:
        return None
    now = cpu_seconds(process_tree(root))
    return sum(value - before.get(pid, 0.0) for pid, value in now.items())


_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout)): ")
_OUR_FRAME = re.compile(r'File ".*/src/crowdalpha/([\w/]+\.py)", line (\d+), in (\w+)')
_MARKERS = ("resolver failed", "request failed")


def log_problems(log: Path, offset: int) -> tuple[Counter[str], int]:
    """The failures the server logged since ``offset`` (crowdalpha logs each once, as
    'resolver failed' or 'request failed', with its traceback), by exception, SQL statement
    and the deepest crowdalpha frames it passed through."""
    raw = log.read_bytes()[offset:]
    lines = raw.decode(errors="replace").splitlines()
    found: Counter[str] = Counter()
    for i, line in enumerate(lines):
        if line.strip() not in _MARKERS:
            continue
        where, exception, sql = [], None, ""
        for follow in lines[i + 1:i + 300]:
            if follow.strip() in _MARKERS:
                break
            frame = _OUR_FRAME.search(follow)
            if frame and not (exception or "").startswith("sqlalchemy."):
                where.append(f"{frame.group(1)}:{frame.group(2)} {frame.group(3)}")
            hit = _EXCEPTION.match(follow)
            if hit and (exception is None or not exception.startswith("sqlalchemy.")) \
                    and not hit.group(1).startswith(("sqlite3.", "psycopg.")):
                exception = follow.strip()[:120]
            elif hit and exception is None:
                exception = follow.strip()[:120]
            if follow.startswith("[SQL: ") and not sql:
                sql = " ".join(follow[6:].split()[:3])
            if exception and exception.startswith("sqlalchemy.") and sql:
                break
        path = " > ".join(where[-2:]) if where else "?"
        found[f"{line.strip()} in {path}: {exception}" + (f" [SQL: {sql} ...]" if sql else "")] += 1
    return found, offset + len(raw)


# --- the clients --------------------------------------------------------------------------


def client_process(graphql: str, jobs: list[list[dict[str, str]]], duration: float, warmup: int,
                   cpus: list[int] | None, ready: Any, go: Any, start_at: Any, results: Any) -> None:
    """One client process: a thread per job, each job a client going round its participants
    and uploading until ``duration`` seconds after the start signal."""
    import threading

    import numerapi
    import numerapi.base_api

    if cpus:
        os.sched_setaffinity(0, set(cpus))
    numerapi.base_api.API_TOURNAMENT_URL = graphql
    started = threading.Barrier(len(jobs) + 1)

    warmed: list[bool] = []

    def upload_loop(people: list[dict[str, str]], out: list[Any]) -> None:
        apis = [numerapi.NumerAPI(p["public_id"], p["secret"], show_progress_bars=False,
                                  verbosity="critical") for p in people]
        for i in range(warmup):
            try:
                apis[i % len(apis)].upload_predictions(file_path=people[i % len(people)]["file"],
                                                       model_id=people[i % len(people)]["model_id"])
                warmed.append(True)
            except Exception:  # counted: the row check needs it
                warmed.append(False)
        started.wait()
        go.wait()
        deadline = start_at.value + duration
        i = 0
        while time.monotonic() < deadline:
            j = i % len(people)
            i += 1
            start = time.monotonic()
            try:
                sid = apis[j].upload_predictions(file_path=people[j]["file"], model_id=people[j]["model_id"])
                out.append((start, time.monotonic(), sid, None))
            except Exception as error:  # counted, reported by message
                out.append((start, time.monotonic(), None, f"{type(error).__name__}: {error}"[:200]))

    outs: list[list[Any]] = [[] for _ in jobs]
    threads = [threading.Thread(target=upload_loop, args=(people, outs[j]))
               for j, people in enumerate(jobs)]
    for t in threads:
        t.start()
    started.wait()  # every thread has warmed up
    usage = os.times()
    ready.put(os.getpid())
    for t in threads:
        t.join()
    after = os.times()
    cpu = (after.user - usage.user) + (after.system - usage.system)
    results.put({"pid": os.getpid(), "cpu_s": cpu, "calls": [c for out in outs for c in out],
                 "warmup_accepted": sum(warmed), "warmup_failed": warmed.count(False)})


def run_clients(server: Server, participants: list[Participant], args: argparse.Namespace,
                n_clients: int, label: str, warmup: int = 1,
                profile_to: Path | None = None, db_pid: int | None = None) -> dict[str, Any]:
    """One measured run: the clients upload for ``args.duration`` seconds from the start signal
    (an upload started before then is waited for); each client warms up first."""
    people = [asdict(p) for p in participants[:args.participants]]
    jobs = [[people[i] for i in range(c, len(people), n_clients)] for c in range(n_clients)]
    n_proc = min(args.client_processes, n_clients)
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    start_at = ctx.Value("d", 0.0)
    procs = [ctx.Process(target=client_process,
                         args=(f"{server.url}/graphql", jobs[k::n_proc], args.duration, warmup,
                               args.client_cpus, ready, go, start_at, results))
             for k in range(n_proc)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=300)
    spy = None
    if profile_to is not None:
        spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "-p",
                                str(server.process.pid), "--subprocesses", "--format", "raw",
                                "-r", "250", "-o", str(profile_to), "--nonblocking", "--full-filenames"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
    load = os.getloadavg()[0]
    server_cpu = cpu_seconds(process_tree(server.process.pid))
    db_cpu = cpu_seconds(process_tree(db_pid)) if db_pid else {}
    start = time.monotonic()
    start_at.value = start
    go.set()
    collected = [results.get(timeout=1800) for _ in procs]
    server_cpu = cpu_used(server_cpu, server.process.pid)
    db_cpu = cpu_used(db_cpu, db_pid)
    for p in procs:
        p.join()
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=120)
        if not profile_to.exists():
            print(f"py-spy wrote nothing (exit {spy.returncode}): {err.decode()[-500:]}", flush=True)
    calls = [c for r in collected for c in r["calls"]]
    ok = [c for c in calls if c[2]]
    end = max(c[1] for c in calls)
    wall = end - start
    latencies = np.array([c[1] - c[0] for c in ok]) if ok else np.array([np.nan])
    failed = [c[1] - c[0] for c in calls if not c[2]]
    errors = Counter(c[3] for c in calls if not c[2])
    client_cpu = sum(r["cpu_s"] for r in collected)
    return {
        "label": label, "workers": server.workers, "clients": n_clients, "client_processes": n_proc,
        "uploads": len(calls), "accepted": len(ok), "errors": dict(errors), "wall_s": wall,
        "subs_per_s": len(ok) / wall, "p50_s": float(np.percentile(latencies, 50)),
        "p99_s": float(np.percentile(latencies, 99)), "max_s": float(latencies.max()),
        "error_p50_s": statistics.median(failed) if failed else None,
        "server_cpu_s": server_cpu, "client_cpu_s": client_cpu,
        "server_cores": server_cpu / wall, "client_cores": client_cpu / wall,
        "server_cpu_ms_per_sub": 1000 * server_cpu / max(len(ok), 1),
        "db_cores": db_cpu / wall if db_cpu is not None else None,
        "load_avg_1min_before": load, "ids": [c[2] for c in ok],
        "warmup_accepted": sum(r["warmup_accepted"] for r in collected),
        "warmup_failed": sum(r["warmup_failed"] for r in collected), "profiled": profile_to is not None,
    }


def sequential_uploads(server: Server, participant: Participant, n: int) -> dict[str, Any]:
    """One client, one upload at a time, idle server: with ``file_path=`` and with ``df=``."""
    import numerapi
    import numerapi.base_api

    previous = numerapi.base_api.API_TOURNAMENT_URL
    numerapi.base_api.API_TOURNAMENT_URL = f"{server.url}/graphql"
    api = numerapi.NumerAPI(participant.public_id, participant.secret, show_progress_bars=False,
                            verbosity="critical")
    frame = pd.read_csv(participant.file, dtype={"id": str})
    timings: dict[str, list[float]] = {"file": [], "df": []}
    try:
        for i in range(n + 1):  # the first of each warms up
            for kind in ("file", "df"):
                start = time.perf_counter()
                if kind == "file":
                    api.upload_predictions(file_path=participant.file, model_id=participant.model_id)
                else:
                    api.upload_predictions(df=frame, model_id=participant.model_id)
                if i:
                    timings[kind].append(time.perf_counter() - start)
    finally:
        numerapi.base_api.API_TOURNAMENT_URL = previous
    return {"file_p50_s": statistics.median(timings["file"]), "df_p50_s": statistics.median(timings["df"]),
            "uploads": 2 * (n + 1)}


# --- profile ------------------------------------------------------------------------------


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
#: Leaf frames where a thread waits (a socket, a lock, the event loop's poll): not CPU.
WAITS = ("EpollSelector.select", "Connection.wait", "Condition.wait", "Queue.get", "Event.wait",
         "Thread.join", "wait (psycopg/waiting.py)")
#: Functions whose direct callees are listed (where their time goes).
BREAKDOWN = ("execute (api/graphql/route.py)", "resolve_create_submission (api/graphql/submissions.py)",
             "submit (tournament/submissions.py)", "resolve_upload_auth (api/graphql/submissions.py)",
             "authenticate (tournament/keys.py)", "upload (api/files.py)")


def _frame_name(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    file = match.group("file")
    if "/src/crowdalpha/" in file:
        file = file.split("/src/crowdalpha/", 1)[1]
    elif "/site-packages/" in file:
        file = file.split("/site-packages/", 1)[1]
    elif "/lib/python3" in file:  # the standard library
        file = file.split("/lib/python3", 1)[1].split("/", 1)[-1]
    return f"{match.group('func')} ({file})"


def summarize_pyspy(raw: Path, top: int) -> dict[str, Any]:
    """Shares of the samples (py-spy's raw collapsed stacks of the server processes) that were
    not waiting: by function, inclusive and self, and the callees of a few functions."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    callees: dict[str, Counter[str]] = {name: Counter() for name in BREAKDOWN}
    total = waiting = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        names = [_frame_name(f) for f in stack.split(";") if _FRAME.match(f)]
        if not names:
            continue
        total += n
        if any(names[-1].startswith(w) or w in names[-1] for w in WAITS):
            waiting += n
            continue
        for name in set(names):
            inclusive[name] += n
        own[names[-1]] += n
        for wanted, counter in callees.items():
            if wanted in names:
                i = names.index(wanted)
                counter[names[i + 1] if i + 1 < len(names) else "(itself)"] += n
    busy = max(total - waiting, 1)
    return {"samples": total, "waiting_share": waiting / max(total, 1),
            "inclusive": [(name, n / busy) for name, n in inclusive.most_common(top)],
            "self": [(name, n / busy) for name, n in own.most_common(top)],
            "callees": {k: [(name, n / busy) for name, n in c.most_common(10)] for k, c in callees.items() if c}}


# --- per backend --------------------------------------------------------------------------


@contextmanager
def kept_folder(parent: str | None, keep: bool) -> Iterator[str]:
    """A temporary folder, removed afterwards unless ``keep``."""
    folder = tempfile.mkdtemp(prefix="bench_upload_", dir=parent)
    try:
        yield folder
    finally:
        if keep:
            print(f"kept {folder}", flush=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def run_backend(backend: str, args: argparse.Namespace, dataset: Path) -> dict[str, Any]:
    from crowdalpha.tournament.db import make_engine, open_store, resolve_settings
    from crowdalpha.tournament.feed import round_live_ids

    result: dict[str, Any] = {"backend": backend, "runs": []}
    with kept_folder(args.tmp, args.keep) as tmp, \
            database_url(backend, args.pg_url) as (db_url, postmaster):
        home = Path(tmp) / "home"
        env = home_environ(home, db_url)
        started = time.perf_counter()
        participants, opened = prepare_home(home, dataset, env, args.participants)
        settings = resolve_settings(home, environ=env)
        live_ids = round_live_ids(open_store(settings), 1)  # known once the round is open
        files = prediction_files(Path(tmp) / "files", live_ids, args.files, args.rows, args.seed)
        participants = [Participant(p.public_id, p.secret, p.model_id, str(files[i % len(files)]))
                        for i, p in enumerate(participants)]
        result["live_ids"] = len(live_ids)
        result["file_bytes"] = files[0].stat().st_size
        print(f"[{backend}] setup {time.perf_counter() - started:.1f} s: {opened}; "
              f"{args.participants} participants, {args.files} files of {args.rows} rows "
              f"({result['file_bytes'] / 1000:.0f} KB)", flush=True)
        engine = make_engine(settings.db_url)
        rows_before = submission_rows(engine)
        result["baseline"] = baseline = baseline_inprocess(env, participants[-1], args.baseline_repeats,
                                                           args.profile)
        print(f"[{backend}] in-process submit+commit p50 {1000 * baseline['total_p50_s']:.1f} ms "
              f"(parse {1000 * baseline['parse_p50_s']:.1f} ms, submit {1000 * baseline['submit_p50_s']:.1f} ms) "
              f"= {1 / baseline['total_p50_s']:.0f} subs/s on one core", flush=True)
        result["graphql"] = graphql = graphql_inprocess(env, participants[-1], args.baseline_repeats,
                                                        args.profile)
        print(f"[{backend}] in-process GraphQL path (route.execute, no HTTP) p50 "
              f"{1000 * graphql['total_p50_s']:.1f} ms: upload_auth {1000 * graphql['auth_p50_s']:.1f}, "
              f"store write {1000 * graphql['put_p50_s']:.1f}, create_submission "
              f"{1000 * graphql['create_p50_s']:.1f}; SQL statements per upload: upload_auth "
              f"{graphql['statements_auth']:.1f}, create_submission {graphql['statements_create']:.1f}",
              flush=True)
        expected = rows_before + baseline["uploads"] + graphql["uploads"]
        for workers in args.workers:
            server = start_server(home, env, workers, set(args.server_cpus) if args.server_cpus else None)
            offset = 0
            try:
                if workers == args.workers[0]:
                    seq = sequential_uploads(server, participants[-1], args.sequential)
                    result["sequential"] = {**seq, "workers": workers}
                    expected += seq["uploads"]
                    print(f"[{backend}] one client, idle server: upload_predictions(file_path=) "
                          f"p50 {1000 * seq['file_p50_s']:.1f} ms, (df=) {1000 * seq['df_p50_s']:.1f} ms",
                          flush=True)
                runs = [(clients, f"run {r + 1}", None) for clients in args.clients for r in range(args.repeat)]
                if args.profile:
                    runs.append((args.clients[-1], "profiled",
                                 Path(args.profile_dir) / f"pyspy.{backend}.w{workers}.txt"))
                for clients, label, prof in runs:
                    if prof:
                        prof.parent.mkdir(parents=True, exist_ok=True)
                    run = run_clients(server, participants, args, clients, label, profile_to=prof,
                                      db_pid=postmaster)
                    problems, offset = log_problems(server.log, offset)
                    run["server_log"] = dict(problems)
                    expected += run["accepted"] + run["warmup_accepted"]
                    rows = submission_rows(engine)
                    run["rows_check"] = {"rows": rows - rows_before, "expected": expected - rows_before,
                                         "ids_found": known_ids(engine, run["ids"])}
                    expected = rows  # a mismatch is reported once, not carried into the next run
                    del run["ids"]
                    result["runs"].append(run)
                    print(f"[{backend}] workers {workers}, {clients} clients, {label}: "
                          f"{run['accepted']}/{run['uploads']} accepted, "
                          f"{run['subs_per_s']:.1f} subs/s, p50 {1000 * run['p50_s']:.0f} ms, "
                          f"p99 {1000 * run['p99_s']:.0f} ms, server {run['server_cores']:.2f} cores "
                          f"({run['server_cpu_ms_per_sub']:.1f} ms CPU/sub), clients "
                          f"{run['client_cores']:.2f} cores"
                          + (f", PostgreSQL {run['db_cores']:.2f} cores" if run["db_cores"] is not None else "")
                          + f", load {run['load_avg_1min_before']:.1f}"
                          + (f", errors (p50 {1000 * run['error_p50_s']:.0f} ms) "
                             f"{dict(Counter(run['errors']).most_common(3))}" if run["errors"] else "")
                          + (f", {run['warmup_failed']} warm-ups failed" if run["warmup_failed"] else "")
                          + (f", server log {dict(problems)}" if problems else ""), flush=True)
                    if run["rows_check"]["ids_found"] != run["accepted"] or \
                            run["rows_check"]["rows"] != run["rows_check"]["expected"]:
                        print(f"[{backend}] ROW CHECK FAILED: {run['rows_check']}", flush=True)
                    if prof and prof.exists():
                        run["pyspy"] = summarize_pyspy(prof, args.top)
            finally:
                stop_server(server)
        engine.dispose()
    return result


# --- report -------------------------------------------------------------------------------


def print_table(results: list[dict[str, Any]]) -> None:
    head = ["backend", "workers", "clients", "run", "accepted/uploads", "subs/s", "p50 ms", "p99 ms",
            "errors (p50 ms)", "server cores", "client cores", "PostgreSQL cores", "server CPU ms/sub",
            "p50 / in-process", "load"]
    print("\n" + " | ".join(head))
    for res in results:
        base = res["baseline"]["total_p50_s"]
        for r in res["runs"]:
            if r["profiled"]:
                continue
            print(" | ".join([
                res["backend"], str(r["workers"]), f"{r['clients']} in {r['client_processes']} proc",
                r["label"], f"{r['accepted']}/{r['uploads']}", f"{r['subs_per_s']:.1f}",
                f"{1000 * r['p50_s']:.0f}", f"{1000 * r['p99_s']:.0f}",
                f"{sum(r['errors'].values())}" + (f" ({1000 * r['error_p50_s']:.0f})" if r["errors"] else ""),
                f"{r['server_cores']:.2f}", f"{r['client_cores']:.2f}",
                "-" if r["db_cores"] is None else f"{r['db_cores']:.2f}", f"{r['server_cpu_ms_per_sub']:.1f}",
                f"{r['p50_s'] / base:.1f}x", f"{r['load_avg_1min_before']:.1f}"]))
    print("\nbaseline (in-process submissions.submit + commit, one thread) and one client on an idle server")
    for res in results:
        b, s, g = res["baseline"], res.get("sequential", {}), res["graphql"]
        line = (f"{res['backend']}: in-process {1000 * b['total_p50_s']:.1f} ms/sub "
                f"({1 / b['total_p50_s']:.0f} subs/s on one core; parse alone {1000 * b['parse_p50_s']:.1f} ms, "
                f"{b['statements']:.0f} SQL statements); GraphQL path without HTTP {1000 * g['total_p50_s']:.1f} ms "
                f"= {g['total_p50_s'] / b['total_p50_s']:.1f}x, "
                f"{g['statements_auth'] + g['statements_create']:.0f} SQL statements")
        if s:
            line += (f"; one client upload_predictions(file_path=) {1000 * s['file_p50_s']:.1f} ms "
                     f"= {s['file_p50_s'] / b['total_p50_s']:.1f}x in-process; (df=) {1000 * s['df_p50_s']:.1f} ms")
        print(line)
    for res in results:
        for r in res["runs"]:
            if "pyspy" in r:
                p = r["pyspy"]
                print(f"\npy-spy, {res['backend']}, server workers {r['workers']}, {r['clients']} clients: "
                      f"{p['samples']} samples of the server processes' threads, {p['waiting_share']:.0%} "
                      "waiting (socket, lock, poll); shares of the rest. Inclusive:")
                for name, share in p["inclusive"]:
                    print(f"  {share:6.1%}  {name}")
                print("  self:")
                for name, share in p["self"][:20]:
                    print(f"  {share:6.1%}  {name}")
                for name, callees in p["callees"].items():
                    print(f"  callees of {name}:")
                    for callee, share in callees:
                        print(f"    {share:6.1%}  {callee}")
        for part in ("baseline", "graphql"):
            if "cprofile" in res.get(part, {}):
                print(f"\ncProfile of the in-process {part}, {res['backend']} (cumulative):")
                print("\n".join(res[part]["cprofile"].splitlines()[:40]))


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", help="use this PostgreSQL (a new schema in it) instead of starting one")
    parser.add_argument("--workers", type=_ints, default=[1, 2], help="server processes, e.g. 1,2")
    parser.add_argument("--clients", type=_ints, default=[8], help="concurrent numerapi clients, e.g. 1,8")
    parser.add_argument("--client-processes", type=int, default=2, help="processes the clients run in")
    parser.add_argument("--participants", type=int, default=64, help="accounts (one model, one key each)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of each measured run")
    parser.add_argument("--repeat", type=int, default=2, help="measured runs per server")
    parser.add_argument("--rows", type=int, default=5000, help="rows of each prediction file")
    parser.add_argument("--files", type=int, default=16, help="distinct prediction files")
    parser.add_argument("--stocks", type=int, default=5026,
                        help="stocks of the simulated market (5,026: a live era of 5,004 ids)")
    parser.add_argument("--baseline-repeats", type=int, default=40)
    parser.add_argument("--sequential", type=int, default=10, help="sequential uploads of one client")
    parser.add_argument("--server-cpus", type=_ints, help="pin the server to these CPUs, e.g. 0")
    parser.add_argument("--client-cpus", type=_ints, help="pin the client processes to these CPUs, e.g. 1")
    parser.add_argument("--quick", action="store_true", help="10-s runs, 1 per server, to check the script")
    parser.add_argument("--profile", action="store_true",
                        help="one more run per server under py-spy (not in the figures), and cProfile the baseline")
    parser.add_argument("--profile-dir", default=str(Path(tempfile.gettempdir()) / "bench_upload_profiles"))
    parser.add_argument("--top", type=int, default=40, help="functions listed from the py-spy profile")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "crowdalpha-bench-upload"),
                        help="where the dataset is built once and kept")
    parser.add_argument("--tmp", help="folder for the homes (default: the system's)")
    parser.add_argument("--keep", action="store_true", help="keep the homes (server logs, database)")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "upload.json"))
    args = parser.parse_args()
    if args.quick:
        args.duration, args.repeat = min(args.duration, 10.0), 1
        args.baseline_repeats, args.sequential = min(args.baseline_repeats, 10), min(args.sequential, 3)
    if args.participants < max(args.clients):
        parser.error("--participants must be at least --clients (each client has its own participants)")
    dataset = ensure_dataset(Path(args.cache), args.stocks, args.seed)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [run_backend(b, args, dataset) for b in backends]
    print_table(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump({"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.node(),
                   "cpus": os.cpu_count(), "args": vars(args), "results": results},
                  handle, indent=2, default=str)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

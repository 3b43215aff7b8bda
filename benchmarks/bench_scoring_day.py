"""One scoring day of a round at tournament size, and where its time goes.

Run: ``.venv/bin/python benchmarks/bench_scoring_day.py [--backend sqlite|postgresql|both] [--quick]``

A round of ``--submissions`` (10,000) counted submissions of ``--ids`` (5,000)
live ids, scored on ``--features`` (400) int8 features (values 0..4): the
measured call is the real ``resolution.score_day`` (CORR, MMC, BMC, FNC and
feature exposure; then the day's scores written) followed by the caller's
commit, on SQLite (a file) and on PostgreSQL (a private server started with
``scripts/ci_postgres.sh``, or ``--pg-url``). ``DayOutcome.timings`` splits it
into database_read, file_read, targets, scoring and database_write.

Baseline, same run, timed right after each measured day (so both see the
same machine load): the scoring alone, ``score_eras`` on the same in-memory
prediction matrix with the same target, meta-model, benchmark, features and
metrics as ``score_day`` passes it (the stored CORR is checked against it).
The goal: the database and file work should not dominate, reported as
(database_read + file_read + database_write + commit) / baseline, as
total / baseline and as each phase's share of the total.

Setup (not measured): through the domain functions, accounts of 10 models each
(the per-account limit; 999 accounts at the default size) with stakes on
``--staked-fraction`` (25 %) of the models, 10 benchmark models of the
operator whose predictions go through ``submissions.submit``, and the
participants' predictions written in bulk in the same format ``submit``
writes (a frame indexed by ``id`` with one column ``prediction``, in live-id
order). Day 1 is measured ``--repeat`` times (the day's rows deleted in
between, not timed); then the round is moved to day 19 and day 20, the final
day that also posts every staked model's payout or burn, is measured once.
The file store and SQLite live in one temporary folder on local disk; the
prediction files are in the page cache (they were just written). Each
measured day also records the SQL statements it sent and the 1-minute load
average before and after it (the machine is shared: see README.md).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
from pg_server import new_schema, postgres_server
from sqlalchemy import Engine, delete, event, insert, select, update

from crowdalpha.scoring import score_eras, stake_weighted_meta_model
from crowdalpha.tournament import accounts, ledger, models, resolution, rounds, stakes, submissions
from crowdalpha.tournament import feed as feed_mod
from crowdalpha.tournament import store as file_store
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.db import make_engine, make_session_factory, migrate, session_scope
from crowdalpha.tournament.tables import ModelKind, Round, RoundDay, RoundStatus, Score, Submission

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2024, 1, 6, 18, 0, tzinfo=UTC)  # a Saturday, when a weekly round opens
BINS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
BIN_SHARES = np.array([0.05, 0.2, 0.5, 0.2, 0.05])
MODELS_PER_ACCOUNT = models.DEFAULT_MAX_MODELS
BENCHMARK_MODELS = 10
STAKE = Decimal("100")
PHASES = ("database_read", "file_read", "targets", "scoring", "database_write", "commit")


class BinnedTargets:
    """The feed's part resolution needs: one binned target (5/20/50/20/5 %) for the round's ids.

    Each day re-draws 5 % of the ids, so days differ a little, as resolving targets do.
    """

    def __init__(self, base: pd.Series, seed: int) -> None:
        self.base = base
        self.seed = seed

    def targets(self, era: str, day: int) -> pd.Series:
        rng = np.random.default_rng((self.seed, day))
        values = self.base.to_numpy().copy()
        moved = rng.random(len(values)) < 0.05
        values[moved] = rng.choice(BINS, size=int(moved.sum()), p=BIN_SHARES)
        return pd.Series(values, index=self.base.index, name="target")


# --- the round's data ---------------------------------------------------------------------


def round_data(n_ids: int, n_features: int, seed: int) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Live frame (index ``id``: era + int8 features), example predictions, base target."""
    rng = np.random.default_rng(seed)
    raw = rng.choice(2**60, size=n_ids, replace=False)
    ids = pd.Index([f"n{v:015x}" for v in raw.tolist()], name="id")
    features = rng.integers(0, 5, size=(n_ids, n_features), dtype=np.int8)
    live = pd.DataFrame(features, index=ids, columns=[f"feature_{i:04d}" for i in range(n_features)])
    live.insert(0, "era", "0001")
    target = pd.Series(rng.choice(BINS, size=n_ids, p=BIN_SHARES), index=ids, name="target")
    # the target leaks a little into the features, so FNC differs from CORR
    example = pd.Series(rng.random(n_ids) * 0.9 + 0.1 * target.to_numpy(), index=ids, name="prediction")
    return live, example, target


def prediction_matrix(target: np.ndarray, k: int, seed: int) -> np.ndarray:
    """ids x k predictions in [0, 1], each model tied to the target (or against it) by a skill
    in [-0.1, 0.2], so that on the final day some staked models are paid and some burned."""
    rng = np.random.default_rng(seed)
    n = len(target)
    matrix = np.empty((n, k))
    for start in range(0, k, 1000):
        stop = min(k, start + 1000)
        skill = rng.uniform(-0.1, 0.2, size=stop - start)
        signal = np.where(skill > 0, target[:, None], 1 - target[:, None])
        strength = np.abs(skill)
        matrix[:, start:stop] = rng.random((n, stop - start)) * (1 - strength) + strength * signal
    return matrix


# --- databases ----------------------------------------------------------------------------


@contextmanager
def database(backend: str, folder: Path, pg_url: str | None) -> Iterator[Engine]:
    """A freshly migrated database: a SQLite file in ``folder``, or a new PostgreSQL schema."""
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{folder / 'crowdalpha.sqlite'}"
        else:
            server = stack.enter_context(postgres_server(pg_url, port=54341))
            url = stack.enter_context(new_schema(server.url))
        engine = make_engine(url)
        try:
            migrate(engine)
            yield engine
        finally:
            engine.dispose()


# --- setup --------------------------------------------------------------------------------


def setup_round(engine: Engine, store: file_store.Store, args: argparse.Namespace,
                live: pd.DataFrame, example: pd.Series, matrix: np.ndarray) -> dict[str, Any]:
    """Accounts, models, stakes, an open round with every model's submission, then the close.

    Column j of ``matrix`` becomes the predictions of the j-th model by id; the
    last ``BENCHMARK_MODELS`` columns are the operator's benchmark models.
    """
    factory = make_session_factory(engine)
    clock = ReplayClock(START)
    k = matrix.shape[1]
    n_participant = k - BENCHMARK_MODELS
    rng = np.random.default_rng(args.seed + 7)
    staked = set(rng.choice(n_participant, size=round(args.staked_fraction * n_participant),
                            replace=False).tolist())
    timings: dict[str, float] = {}

    mark = time.perf_counter()
    model_ids: list[int] = []
    with session_scope(factory) as session:
        operator = accounts.ensure_operator(session, clock=clock)
        for a in range(math.ceil(n_participant / MODELS_PER_ACCOUNT)):
            owner = accounts.create_account(session, f"acct_{a:05d}", clock=clock)
            owned = range(a * MODELS_PER_ACCOUNT, min(n_participant, (a + 1) * MODELS_PER_ACCOUNT))
            if staked.intersection(owned):
                ledger.deposit(session, owner, STAKE * MODELS_PER_ACCOUNT, clock=clock)
            for j in owned:
                model = models.create_model(session, owner, f"model_{j:05d}", clock=clock,
                                            payout_basis="corr+mmc" if j % 2 else "corr")
                if j in staked:
                    stakes.increase_stake(session, model, STAKE, by=owner, clock=clock)
                model_ids.append(model.id)
        benchmark_models = [
            models.create_model(session, operator, f"benchmark_{b:02d}", clock=clock,
                                kind=ModelKind.BENCHMARK)
            for b in range(BENCHMARK_MODELS)
        ]
        model_ids += [m.id for m in benchmark_models]
    timings["accounts_models_stakes"] = time.perf_counter() - mark

    mark = time.perf_counter()
    with session_scope(factory) as session:
        opened = rounds.open_round(session, era="0001", clock=clock, schedule=rounds.Schedule.weekly())
        number, round_id, closes_at = opened.number, opened.id, opened.closes_at
    feed_mod.archive_round_data(store, number, live, [c for c in live.columns if c != "era"], example)
    clock.advance(hours=1)
    ids = live.index

    # the operator's benchmark models: the real path (parse, check, write, record)
    with session_scope(factory) as session:
        operator = accounts.get_operator(session)
        opened = rounds.get_round(session, number)
        live_ids = feed_mod.round_live_ids(store, number)
        for j in range(n_participant, k):
            frame = pd.DataFrame({"id": ids, "prediction": matrix[:, j]})
            submissions.submit(session, store, models.get_model(session, f"benchmark_{j - n_participant:02d}"),
                               opened, frame.to_csv(index=False).encode(), "predictions.csv",
                               by=operator, clock=clock, live_ids=live_ids)

    # the participants: the same files and rows, written in bulk
    index = pd.Index(ids, name="id")
    fingerprint = submissions.ids_fingerprint(pd.Index(live_ids.astype(str)))

    def write(j: int) -> dict[str, Any]:
        relative = f"submissions/round_{number}/model_{model_ids[j]}/{uuid.uuid4().hex}.parquet"
        file_store.write_parquet(store, relative, pd.DataFrame({"prediction": matrix[:, j]}, index=index))
        copy = io.BytesIO()
        np.save(copy, pd.Series(matrix[:, j], index=index).reindex(live_ids).to_numpy(), allow_pickle=False)
        file_store.write_bytes(store, submissions.scoring_copy_path(relative, fingerprint), copy.getvalue())
        return {"model_id": model_ids[j], "round_id": round_id, "path": relative, "rows": len(ids),
                "created_at": clock.now(), "late": False, "valid": True}

    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(write, range(n_participant)))
    with session_scope(factory) as session:
        for start in range(0, len(rows), 2000):
            session.execute(insert(Submission), rows[start:start + 2000])
    timings["submissions"] = time.perf_counter() - mark

    mark = time.perf_counter()
    clock.set(closes_at + timedelta(minutes=1))
    with session_scope(factory) as session:
        frozen = rounds.close_round(session, rounds.get_round(session, number), clock=clock)
    timings["close"] = time.perf_counter() - mark
    return {"factory": factory, "clock": clock, "number": number, "round_id": round_id,
            "staked_columns": sorted(staked), "stakes_frozen": len(frozen), "setup_s": timings}


# --- measurement --------------------------------------------------------------------------


def measure_day(world: dict[str, Any], store: file_store.Store, feed: BinnedTargets,
                profile: str | None = None) -> dict[str, Any]:
    """Time ``score_day`` and the caller's commit, as the runner does it."""
    factory, clock = world["factory"], world["clock"]
    profiler = cProfile.Profile() if profile else None
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    with factory() as session:
        engine = session.get_bind()
        round_ = rounds.get_round(session, world["number"])
        clock.set(max(clock.now(), rounds.scoring_day_due(round_, round_.scoring_day + 1)))
        load_before = os.getloadavg()[0]
        event.listen(engine, "before_cursor_execute", count)  # executemany counts once
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        outcome = resolution.score_day(session, store, feed, round_, clock=clock)
        mark = time.perf_counter()
        session.commit()
        if profiler:
            profiler.disable()
        end = time.perf_counter()
        event.remove(engine, "before_cursor_execute", count)
    if outcome is None:
        raise RuntimeError("score_day scored nothing; the round was not ready")
    if profiler:
        profiler.dump_stats(profile)
    timings = dict(outcome.timings)
    timings["commit"] = end - mark
    timings["total"] = end - start
    paid = list(outcome.payouts.values())
    return {"day": outcome.day, "submissions": outcome.submissions, "resolved": outcome.resolved,
            "payouts": sum(1 for v in paid if v > 0), "burns": sum(1 for v in paid if v < 0),
            "profiled": profiler is not None, "load_avg_1min": [load_before, os.getloadavg()[0]],
            "sql_statements": statements[0],
            "timings": timings}


def reset_day(world: dict[str, Any], day: int) -> None:
    """Forget scoring day ``day`` (not timed), so the same day can be measured again."""
    with session_scope(world["factory"]) as session:
        rid = world["round_id"]
        session.execute(delete(Score).where(Score.round_id == rid, Score.day == day))
        session.execute(delete(RoundDay).where(RoundDay.round_id == rid, RoundDay.day == day))
        session.execute(update(Round).where(Round.id == rid)
                        .values(scoring_day=day - 1,
                                status=RoundStatus.CLOSED if day == 1 else RoundStatus.SCORING))


class Baseline:
    """``score_eras`` alone, on the inputs ``score_day`` builds for it; only that call is timed."""

    def __init__(self, matrix: np.ndarray, live: pd.DataFrame, staked_columns: list[int]) -> None:
        k = matrix.shape[1]
        weights = np.full(len(staked_columns), float(STAKE))
        self.meta = stake_weighted_meta_model(matrix[:, staked_columns], weights)
        self.benchmark = stake_weighted_meta_model(matrix[:, k - BENCHMARK_MODELS:],
                                                   np.ones(BENCHMARK_MODELS))
        self.features = live.drop(columns=["era"]).to_numpy(np.float64)
        self.columns = np.column_stack([matrix, self.meta, self.benchmark])
        self.names = [str(i) for i in range(k)] + ["meta", "benchmark"]
        self.ids = live.index

    def run(self, feed: BinnedTargets, day: int) -> tuple[float, pd.DataFrame]:
        target = feed.targets("0001", day).reindex(self.ids).to_numpy(np.float64)
        start = time.perf_counter()
        scores = score_eras(self.columns, target, meta_model=self.meta, benchmark=self.benchmark,
                            features=self.features, metrics=list(resolution.SCORE_METRICS),
                            models=self.names, on_insufficient="nan")
        return time.perf_counter() - start, scores


def check_scores(world: dict[str, Any], baseline: pd.DataFrame, day: int) -> float:
    """Largest difference between the CORR ``score_day`` stored for ``day`` and the baseline's."""
    with world["factory"]() as session:
        stored = session.execute(select(Score.model_id, Score.corr)
                                 .where(Score.round_id == world["round_id"], Score.day == day)
                                 .order_by(Score.model_id)).all()
    ours = np.array([c for _, c in stored], dtype=float)
    theirs = baseline[baseline.metric == "corr"].set_index("model")["value"]
    theirs = theirs.loc[[str(i) for i in range(len(ours))]].to_numpy()
    return float(np.nanmax(np.abs(ours - theirs)))


def measure_with_baseline(world: dict[str, Any], store: file_store.Store, feed: BinnedTargets,
                          baseline: Baseline, profile: str | None, label: str) -> dict[str, Any]:
    """One ``score_day`` and, right after it (same machine load), the baseline on the same day."""
    day = measure_day(world, store, feed, profile)
    day["baseline_s"], scores = baseline.run(feed, day["day"])
    day["max_corr_difference_vs_baseline"] = check_scores(world, scores, day["day"])
    t = day["timings"]
    extra = f", {day['payouts']} payouts, {day['burns']} burns" if day["resolved"] else ""
    extra += f", {day['sql_statements']} SQL statements"
    print(f"{label}: {t['total']:.2f} s, baseline {day['baseline_s']:.2f} s{extra} "
          f"(load {day['load_avg_1min'][0]:.1f})", flush=True)
    return day


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    live, example, target = round_data(args.ids, args.features, args.seed)
    feed = BinnedTargets(target, args.seed)
    matrix = prediction_matrix(target.to_numpy(), args.submissions, args.seed + 1)
    with tempfile.TemporaryDirectory(prefix="bench_scoring_day_", dir=args.tmp) as tmp:
        folder = Path(tmp)
        store = fsspec.core.url_to_fs(str(folder / "store"))
        with database(backend, folder, args.pg_url) as engine:
            started = time.perf_counter()
            world = setup_round(engine, store, args, live, example, matrix)
            print(f"[{backend}] setup {time.perf_counter() - started:.1f} s "
                  f"({', '.join(f'{k} {v:.1f}' for k, v in world['setup_s'].items())})", flush=True)
            baseline = Baseline(matrix, live, world["staked_columns"])
            day1 = []
            for r in range(args.repeat):
                if r:
                    reset_day(world, 1)
                profile = f"{args.profile}.{backend}.day1.prof" if args.profile and r == 0 else None
                day1.append(measure_with_baseline(world, store, feed, baseline, profile,
                                                  f"[{backend}] day 1 run {r + 1}"))
            final = None
            if not args.skip_final:
                with session_scope(world["factory"]) as session:
                    session.execute(update(Round).where(Round.id == world["round_id"])
                                    .values(scoring_day=19, status=RoundStatus.SCORING))
                profile = f"{args.profile}.{backend}.day20.prof" if args.profile else None
                final = measure_with_baseline(world, store, feed, baseline, profile,
                                              f"[{backend}] day 20")
    return {"backend": backend, "setup_s": world["setup_s"], "stakes_frozen": world["stakes_frozen"],
            "day1": day1, "day20": final}


# --- report -------------------------------------------------------------------------------


def summarize(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per measured day: phases, shares of the total, overhead ratio to the baseline."""
    rows = []
    days = [(f"day 1 (run {i + 1})", d) for i, d in enumerate(result["day1"])]
    if result["day20"]:
        days.append(("day 20 (payouts)", result["day20"]))
    for label, day in days:
        t = day["timings"]
        overhead = t["database_read"] + t["file_read"] + t["database_write"] + t["commit"]
        label += " [profiled]" if day["profiled"] else ""
        baseline = day["baseline_s"]
        rows.append({"backend": result["backend"], "day": label, **{p: t[p] for p in PHASES},
                     "total": t["total"], "baseline": baseline, "overhead_ratio": overhead / baseline,
                     "total_ratio": t["total"] / baseline,
                     "share": {p: t[p] / t["total"] for p in PHASES}})
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ["backend", "day", *PHASES, "total", "baseline", "(db+file)/base", "total/base"]
    print("\nseconds (share of total)")
    print(" | ".join(head))
    for r in rows:
        cells = [r["backend"], r["day"]]
        cells += [f"{r[p]:.2f} ({r['share'][p]:.0%})" for p in PHASES]
        cells += [f"{r['total']:.2f}", f"{r['baseline']:.2f}", f"{r['overhead_ratio']:.2f}x",
                  f"{r['total_ratio']:.2f}x"]
        print(" | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--ids", type=int, default=5_000)
    parser.add_argument("--features", type=int, default=400)
    parser.add_argument("--staked-fraction", type=float, default=0.25)
    parser.add_argument("--quick", action="store_true", help="1,000 submissions, to check the script")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", help="use this PostgreSQL (a new schema in it) instead of starting one")
    parser.add_argument("--repeat", type=int, default=2, help="measurements of day 1 (default 2)")
    parser.add_argument("--skip-final", action="store_true", help="do not measure day 20")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tmp", help="folder for the store and the SQLite file (default: the system's)")
    parser.add_argument("--profile", help="write cProfile stats of the first day-1 run and of day 20 to "
                        "PREFIX.<backend>.day*.prof (those runs are slowed down: not for figures)")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "scoring_day.json"))
    args = parser.parse_args()
    if args.quick:
        args.submissions = min(args.submissions, 1_000)
    if args.submissions <= BENCHMARK_MODELS:
        parser.error(f"--submissions {args.submissions} must be more than the {BENCHMARK_MODELS} benchmark models")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [run_backend(b, args) for b in backends]
    rows = [row for result in results for row in summarize(result)]
    print_table(rows)
    worst = max(r["max_corr_difference_vs_baseline"] for res in results
                for r in [*res["day1"], *([res["day20"]] if res["day20"] else [])])
    print(f"largest |CORR stored by score_day - CORR of the baseline| = {worst:.2e}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump({"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.node(),
                   "cpus": os.cpu_count(), "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
                   "args": {k: v for k, v in vars(args).items()}, "results": results, "summary": rows},
                  handle, indent=2, default=str)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""Database fixtures: every test runs on SQLite and on a real PostgreSQL, rolled back after.

PostgreSQL comes from ``CROWDALPHA_TEST_PG_URL`` when set (CI starts it with
``scripts/ci_postgres.sh``); otherwise the same script starts a private cluster
for this test session if PostgreSQL's binaries are installed. Only when neither
works are the PostgreSQL variants skipped, with the reason. Each engine lives in
its own schema (PostgreSQL) or file (SQLite), migrated once per session; each
test gets a session inside an outer transaction that is rolled back.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from pathlib import Path

import fsspec
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crowdalpha.tournament import accounts, ledger, models, stakes
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.db import make_engine, make_session_factory, migrate, session_scope
from crowdalpha.tournament.feed import DatasetFeed
from crowdalpha.tournament.runner import Tournament
from crowdalpha.tournament.tables import ModelKind
from tests.helpers.db import START, pg_schema_engine

PG_ENV = "CROWDALPHA_TEST_PG_URL"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ci_postgres.sh"


def _parse_exports(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            found[key] = shlex.split(value)[0]
    return found


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL: from the environment, or a private cluster started for this session."""
    url = os.environ.get(PG_ENV)
    if url:
        yield url
        return
    try:
        proc = subprocess.run(
            [
                "bash",
                str(SCRIPT),
                "start",
                "--no-install",
                "--port",
                "54339",
                "--owner-pid",
                str(os.getpid()),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"PostgreSQL tests skipped: cannot run {SCRIPT.name} ({exc}); set {PG_ENV}")
    if proc.returncode == 3:
        reason = (proc.stderr.strip().splitlines() or ["no PostgreSQL"])[-1]
        pytest.skip(f"PostgreSQL tests skipped: {reason}; install PostgreSQL or set {PG_ENV}")
    if proc.returncode != 0:
        pytest.fail(f"{SCRIPT.name} start failed (exit {proc.returncode}):\n{proc.stderr}")
    exports = _parse_exports(proc.stdout)
    try:
        yield exports[PG_ENV]
    finally:
        subprocess.run(
            ["bash", str(SCRIPT), "stop", exports["CROWDALPHA_TEST_PG_DIR"]],
            capture_output=True,
            timeout=120,
            check=False,
        )


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)],
)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def blank_engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, never migrated database of the current backend (for migration tests)."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'blank.sqlite'}")
        yield engine
        engine.dispose()
    else:
        with pg_schema_engine(request.getfixturevalue("pg_url")) as engine:
            yield engine


@pytest.fixture(scope="session")
def engine(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database of the current backend, shared by the session's tests."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "crowdalpha.sqlite"
        engine = make_engine(f"sqlite:///{path}")
        migrate(engine)
        yield engine
        engine.dispose()
    else:
        with pg_schema_engine(request.getfixturevalue("pg_url")) as engine:
            migrate(engine)
            yield engine


@pytest.fixture
def new_session(engine: Engine) -> Callable[[], AbstractContextManager[Session]]:
    """Factory of sessions whose work is rolled back on exit; one per hypothesis example."""

    @contextmanager
    def scoped() -> Iterator[Session]:
        with engine.connect() as conn:
            outer = conn.begin()
            session = Session(bind=conn, join_transaction_mode="create_savepoint")
            try:
                yield session
            finally:
                session.close()
                outer.rollback()

    return scoped


@pytest.fixture
def session(new_session: Callable[[], AbstractContextManager[Session]]) -> Iterator[Session]:
    """A session on the migrated database; everything it does is rolled back after the test."""
    with new_session() as session:
        yield session


@pytest.fixture
def clock() -> ReplayClock:
    return ReplayClock(START)


@pytest.fixture
def tournament(
    blank_engine: Engine, small_dataset: Path, tmp_path: Path
) -> Iterator[Tournament]:
    """A fresh tournament on a copy of the small dataset, with four staked models and an
    operator benchmark model, and round 1 open."""
    version = tmp_path / "datasets" / small_dataset.name
    shutil.copytree(small_dataset, version)
    migrate(blank_engine)
    clock = ReplayClock(START)
    store = fsspec.core.url_to_fs(str(tmp_path / "store"))
    t = Tournament(make_session_factory(blank_engine), store, DatasetFeed(version), clock)
    with session_scope(t.factory) as session:
        operator = accounts.ensure_operator(session, clock=clock)
        models.create_model(session, operator, "bench", clock=clock, kind=ModelKind.BENCHMARK)
        models.create_model(session, operator, "itest", clock=clock,
                            kind=ModelKind.INTEGRATION_TEST)
        owner = accounts.create_account(session, "alice", clock=clock)
        ledger.deposit(session, owner, Decimal(10_000), clock=clock)
        for i, basis in enumerate(["corr", "corr+mmc", "corr", "corr+mmc"]):
            model = models.create_model(session, owner, f"m{i}", clock=clock, payout_basis=basis)
            stakes.increase_stake(session, model, Decimal(100 * (i + 1)), by=owner, clock=clock)
    t.open_round()
    yield t

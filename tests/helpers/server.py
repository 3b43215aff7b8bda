"""A ``crowdalpha serve`` process on loopback and what it serves: a migrated home with a
copy of a dataset, the home's tournament, and participants made straight in the database.

``start_server`` runs the server on any home (the API tests' session server, a test's own
home whose rounds it drives through scoring, the browser tests' server); ``add_participant``
makes an account with models, money and an API key, as its owner would through the API.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import numerapi

from crowdalpha.tournament import accounts, keys, ledger
from crowdalpha.tournament import models as models_mod
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running ``crowdalpha serve`` process."""

    home: Path
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def graphql(self) -> str:
        return f"{self.url}/graphql"


def make_home(root: Path, dataset: Path) -> Path:
    """A migrated tournament home whose datasets folder holds a copy of ``dataset``."""
    home = root
    (home / "datasets").mkdir(parents=True, exist_ok=True)
    shutil.copytree(dataset, home / "datasets" / dataset.name)
    engine = make_engine(resolve_settings(home).db_url)
    migrate(engine)
    engine.dispose()
    return home


def tournament_of(home: Path, **kwargs: object) -> Tournament:
    """The home's tournament on the wall clock (what the operator's CLI uses)."""
    settings = resolve_settings(home)
    factory = make_session_factory(make_engine(settings.db_url))
    return Tournament(factory, open_store(settings), DatasetFeed.latest(home / "datasets"),
                      SystemClock(), **kwargs)


def start_server(home: Path, *, env: dict[str, str] | None = None) -> Server:
    """Run ``crowdalpha serve`` on ``home`` and wait until it answers."""
    port = free_port()
    log = home / f"serve-{port}.log"
    environ = {**os.environ, "CROWDALPHA_HOME": str(home), **(env or {})}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "crowdalpha", "serve", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=environ,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            httpx.post(f"{url}/graphql", json={"query": "{ __typename }"}, timeout=2)
            return Server(home, url, process, log)
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start in 60 s: {log.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


@dataclass(frozen=True)
class Participant:
    """An account with one model, a funded wallet and an API key."""

    account: str
    model: str
    model_id: str
    token: str

    def api(self) -> numerapi.NumerAPI:
        public_id, secret = self.token.split("$")
        return numerapi.NumerAPI(public_id, secret, show_progress_bars=False, verbosity="error")


def add_participant(
    home: Path, name: str, *, deposit: Decimal = Decimal(100), scopes: tuple[str, ...] | None = None,
    models: int = 1,
) -> Participant:
    """Create ``name`` with ``models`` models (``name_m1``...), ``deposit`` and a key, in the database."""
    settings = resolve_settings(home)
    engine = make_engine(settings.db_url)
    clock = SystemClock()
    try:
        with session_scope(make_session_factory(engine)) as session:
            account = accounts.create_account(session, name, clock=clock)
            created = [
                models_mod.create_model(session, account, f"{name}_m{i + 1}", clock=clock)
                for i in range(models)
            ]
            if deposit > 0:
                ledger.deposit(session, account, deposit, clock=clock)
            key = keys.create_api_key(
                session, account, clock=clock, **({} if scopes is None else {"scopes": scopes})
            )
            first = created[0] if created else None
            return Participant(
                name, first.name if first else "", first.public_id if first else "", key.token
            )
    finally:
        engine.dispose()

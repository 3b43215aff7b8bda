"""On PostgreSQL, concurrent transactions cannot overdraw a wallet or pass the model limit.

These tests commit for real, in a schema of their own, so they use two sessions
at once: the first holds the row lock, the second must wait for it and then
see the first one's effect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from crowdalpha.tournament import accounts, ledger, models, rounds
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.db import make_session_factory, migrate, session_scope
from crowdalpha.tournament.errors import (
    InsufficientFundsError,
    ModelLimitError,
    RoundAlreadyOpenError,
)
from tests.helpers.db import START, pg_schema_engine

pytestmark = pytest.mark.service


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    with pg_schema_engine(pg_url) as engine:
        migrate(engine)
        yield engine


def blocked(engine: Engine) -> bool:
    """True when some session of this database waits on a lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with engine.connect() as conn:
        return bool(conn.execute(query).scalar())


def race(
    factory: sessionmaker[Session],
    engine: Engine,
    first: Callable[[Session], object],
    second: Callable[[Session], object],
) -> object:
    """Run ``first`` (uncommitted), start ``second`` in a thread, commit first; return second's outcome."""
    outcome: dict[str, object] = {}
    holder = factory()
    try:
        first(holder)

        def run_second() -> None:
            with factory() as session:
                try:
                    outcome["result"] = second(session)
                    session.commit()
                except Exception as exc:
                    outcome["result"] = exc

        thread = threading.Thread(target=run_second, daemon=True)
        thread.start()
        # Poll (bounded; nothing about time is asserted) until the second waits for the lock.
        for _ in range(600):
            if blocked(engine) or not thread.is_alive():
                break
            time.sleep(0.05)
        assert thread.is_alive(), f"the second transaction did not wait for the lock: {outcome}"
        holder.commit()
    finally:
        holder.close()
    thread.join(60)
    assert not thread.is_alive(), "the second transaction never finished"
    return outcome["result"]


def test_concurrent_withdrawals_cannot_overdraw(pg_engine: Engine) -> None:
    factory = make_session_factory(pg_engine)
    clock = ReplayClock(START)
    with session_scope(factory) as session:
        ledger.deposit(
            session, accounts.create_account(session, "alice", clock=clock), 10, clock=clock
        )

    def withdraw_all(session: Session) -> object:
        return ledger.withdraw(session, accounts.get_account(session, "alice"), 10, clock=clock)

    result = race(factory, pg_engine, withdraw_all, withdraw_all)
    assert isinstance(result, InsufficientFundsError)
    assert (
        str(result)
        == "insufficient_funds: account 'alice' has 0 available, withdrawal of 10 requested"
    )
    with factory() as session:
        assert ledger.wallet_balance(session, accounts.get_account(session, "alice")) == 0
        assert ledger.audit(session).ok


def test_concurrent_model_creation_respects_the_limit(pg_engine: Engine) -> None:
    factory = make_session_factory(pg_engine)
    clock = ReplayClock(START)
    with session_scope(factory) as session:
        accounts.create_account(session, "alice", clock=clock)

    def create(name: str) -> Callable[[Session], object]:
        def run(session: Session) -> object:
            owner = accounts.get_account(session, "alice")
            return models.create_model(session, owner, name, clock=clock, max_models=1)

        return run

    result = race(factory, pg_engine, create("first"), create("second"))
    assert isinstance(result, ModelLimitError)
    with factory() as session:
        assert [m.name for m in models.list_models(session)] == ["first"]


def test_concurrent_round_openings_open_one(pg_engine: Engine) -> None:
    factory = make_session_factory(pg_engine)
    clock = ReplayClock(START)

    def open_one(era: str) -> Callable[[Session], object]:
        def run(session: Session) -> object:
            return rounds.open_round(session, era=era, clock=clock, schedule=rounds.Schedule())

        return run

    result = race(factory, pg_engine, open_one("0001"), open_one("0002"))
    assert isinstance(result, RoundAlreadyOpenError)
    assert "another round was opened at the same time; era '0002'" in str(result)
    with factory() as session:
        assert rounds.current_round(session).era == "0001"

"""A request's unit of work: when a mutation takes SQLite's write lock.

A mutation takes the lock at its first query (``writes``), so it never fails
midway; one that declares ``reads_first`` (a submission: read, then check and
store a file, then write) takes it only at ``begin_writing``, and then sees
what other writers committed meanwhile.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text

from crowdalpha.server.context import RequestContext, begin_writing
from crowdalpha.tournament.db import make_engine, make_session_factory


def context(path: Path) -> RequestContext:
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS note (x INTEGER)"))
    services: Any = SimpleNamespace(factory=make_session_factory(engine))
    return RequestContext(services, None, writes=True)


def other_writer_can_start(path: Path) -> bool:
    """True when another connection can take the write lock right now."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO note VALUES (1)")
        other.execute("COMMIT")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


def count(ctx: RequestContext) -> int:
    return int(ctx.session.execute(text("SELECT count(*) FROM note")).scalar_one())


def test_a_mutation_takes_the_write_lock_at_its_first_query(tmp_path: Path) -> None:
    ctx = context(tmp_path / "db.sqlite")
    count(ctx)
    assert not other_writer_can_start(tmp_path / "db.sqlite")
    ctx.finish(commit=True)
    assert other_writer_can_start(tmp_path / "db.sqlite")


def test_reads_first_takes_the_lock_at_begin_writing_and_sees_what_others_wrote(tmp_path: Path) -> None:
    ctx = context(tmp_path / "db.sqlite")
    ctx.reads_first()
    assert count(ctx) == 0
    assert other_writer_can_start(tmp_path / "db.sqlite")  # the slow part holds nobody up
    assert count(ctx) == 0  # one snapshot for the reads
    ctx.begin_writing()
    assert not other_writer_can_start(tmp_path / "db.sqlite")
    assert count(ctx) == 1  # the checks before writing see the current state
    ctx.session.execute(text("INSERT INTO note VALUES (2)"))
    ctx.finish(commit=True)
    assert other_writer_can_start(tmp_path / "db.sqlite")
    ctx = context(tmp_path / "db.sqlite")
    assert count(ctx) == 3
    ctx.finish(commit=False)


def test_reads_first_comes_before_any_query(tmp_path: Path) -> None:
    ctx = context(tmp_path / "db.sqlite")
    count(ctx)
    with pytest.raises(RuntimeError, match="before the request's first query"):
        ctx.reads_first()
    ctx.finish(commit=False)


def test_begin_writing_without_a_query_yet_takes_the_lock_at_the_first(tmp_path: Path) -> None:
    ctx = context(tmp_path / "db.sqlite")
    ctx.reads_first()
    ctx.begin_writing()
    count(ctx)
    assert not other_writer_can_start(tmp_path / "db.sqlite")
    ctx.finish(commit=False)


def test_begin_writing_turns_a_form_sessions_reads_into_the_writer(tmp_path: Path) -> None:
    """A form's reads-first session (``ReadsFirstSession``) works as ``reads_first`` does."""
    path = tmp_path / "db.sqlite"
    services = context(path).services
    with services.factory() as session:
        assert session.execute(text("SELECT count(*) FROM note")).scalar_one() == 0
        assert other_writer_can_start(path)
        begin_writing(session)
        assert not other_writer_can_start(path)
        assert session.execute(text("SELECT count(*) FROM note")).scalar_one() == 1
        session.commit()
    assert other_writer_can_start(path)

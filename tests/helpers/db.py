"""Database helpers: the tournament tests' start time, a PostgreSQL schema of one's own, and
whether SQLite's write lock is free."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from crowdalpha.tournament.db import make_engine

START = datetime(2024, 1, 6, 18, 0, tzinfo=UTC)  # a Saturday, when a weekly round opens


@contextmanager
def pg_schema_engine(url: str) -> Iterator[Engine]:
    """An engine whose connections live in a fresh, empty schema (dropped afterwards)."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def other_writer_can_start(path: str | Path) -> bool:
    """True when another connection can take the SQLite database's write lock right now."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()

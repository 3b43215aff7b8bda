"""Database helpers: the tournament tests' start time and a PostgreSQL schema of one's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

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

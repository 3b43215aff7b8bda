"""What a request handler needs: the server's services and the caller's identity.

``Services`` is built once per process (database, file store, clock, settings).
``RequestContext`` lives for one request: it opens a database session only
when a resolver asks for one, authenticates only when a resolver needs a key,
and commits (or rolls back) once at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from crowdalpha.api.settings import ApiSettings
from crowdalpha.tournament import keys
from crowdalpha.tournament.clock import Clock
from crowdalpha.tournament.db import WRITE_TRANSACTION
from crowdalpha.tournament.feed import DatasetFeed, round_live_ids
from crowdalpha.tournament.keys import Principal
from crowdalpha.tournament.payouts import PayoutRules
from crowdalpha.tournament.rounds import Schedule
from crowdalpha.tournament.store import Store
from crowdalpha.tournament.submissions import ids_fingerprint


@dataclass
class Services:
    """The server's long-lived parts, shared by all requests of a process."""

    settings: ApiSettings
    factory: sessionmaker[Session]
    store: Store
    clock: Clock
    schedule: Schedule
    rules: PayoutRules = field(default_factory=PayoutRules)

    @property
    def datasets_dir(self) -> Path:
        return self.settings.datasets_dir

    def feed(self) -> DatasetFeed:
        """The newest dataset version (read fresh: the operator may publish meanwhile)."""
        return DatasetFeed.latest(self.datasets_dir)

    def __post_init__(self) -> None:
        # A round's archived live ids never change once it opens: read them once per process.
        self.live_ids: Callable[[int], pd.Index] = lru_cache(maxsize=8)(
            lambda number: pd.Index(round_live_ids(self.store, number).astype(str))
        )
        self.live_fingerprint: Callable[[int], str] = lru_cache(maxsize=8)(
            lambda number: ids_fingerprint(self.live_ids(number))
        )


@dataclass
class RequestContext:
    """One request's session and caller; ``finish`` ends the unit of work.

    ``writes`` marks a request that will write (a GraphQL mutation): on SQLite its
    transaction takes the write lock from the start.
    """

    services: Services
    authorization: str | None
    writes: bool = False
    _session: Session | None = None
    _principal: Principal | None = None
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self.services.factory()
            if self.writes:
                self._session.connection(execution_options=WRITE_TRANSACTION)
        return self._session

    def reads_first(self) -> None:
        """Declare a mutation that reads, then does slow work without the database (checks
        and stores a file), then writes: on SQLite its write lock waits for ``begin_writing``
        instead of being taken at the first query, so other writers are not held up meanwhile."""
        if self._session is not None:
            raise RuntimeError("reads_first() must come before the request's first query")
        self.writes = False

    def begin_writing(self) -> None:
        """Start the writes of a ``reads_first`` mutation. On SQLite the reads' transaction
        ends (what it loaded reloads on next use, so checks see the current state) and the
        write lock is taken (BEGIN IMMEDIATE); other databases lock rows, not the whole
        database, and go on in the same transaction."""
        self.writes = True
        session = self._session
        if session is None or session.get_bind().dialect.name != "sqlite":
            return
        session.commit()
        session.connection(execution_options=WRITE_TRANSACTION)

    def principal(self, scope: str = "read") -> Principal:
        """The authenticated caller, whose key must have ``scope``."""
        if self._principal is None:
            self._principal = keys.authenticate(self.session, self.authorization)
        keys.require_scope(self._principal, scope)
        return self._principal

    def finish(self, *, commit: bool) -> None:
        if self._session is None:
            return
        try:
            if commit:
                self._session.commit()
            else:
                self._session.rollback()
        finally:
            self._session.close()
            self._session = None
        if commit:
            for action in self.after_commit:
                action()

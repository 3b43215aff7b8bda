"""What a request handler needs, as FastAPI dependencies: the server's services, a database
session, and the caller's identity.

``RequestContext`` lives for one GraphQL request: it opens a database session only
when a resolver asks for one, authenticates only when a resolver needs a key, and
commits (or rolls back) once at the end. Page and form handlers take ``ReadSession``
(never committed) or ``WriteSession`` (the handler commits; a POST takes SQLite's
write lock at the start, so it waits for another writer instead of failing half-way).
A form that reads, then does slow work without the database (checks and stores an
uploaded file), then writes, takes ``ReadsFirstSession`` and calls ``begin_writing``
before its writes, as a ``reads_first`` GraphQL mutation does: other writers are not
held up by the slow part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from crowdalpha.server.services import Services
from crowdalpha.tournament import keys
from crowdalpha.tournament.db import WRITE_TRANSACTION
from crowdalpha.tournament.keys import Principal


def get_services(request: Request) -> Services:
    """The services of the server handling ``request``."""
    return request.app.state.services


def read_session(request: Request) -> Iterator[Session]:
    """One session for the request; read only (closed, never committed)."""
    with get_services(request).factory() as session:
        yield session


def write_session(request: Request) -> Iterator[Session]:
    """The request's one unit of work: the handler commits; anything left rolls back.

    A POST writes, so on SQLite its transaction takes the write lock at the start
    (``WRITE_TRANSACTION``): it waits for another writer instead of failing half-way.
    """
    with get_services(request).factory() as session:
        try:
            if request.method == "POST":
                session.connection(execution_options=WRITE_TRANSACTION)
            yield session
        finally:
            session.rollback()


def begin_writing(session: Session) -> None:
    """Turn ``session``'s unit of work from reading to writing, before its first write.

    On SQLite the reads' transaction ends (what it loaded reloads on next use, so
    checks see the current state) and the write lock is taken (BEGIN IMMEDIATE);
    other databases lock rows, not the whole database, and go on in the same
    transaction.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    session.commit()
    session.connection(execution_options=WRITE_TRANSACTION)


def reads_first_session(request: Request) -> Iterator[Session]:
    """The unit of work of a form that reads first: no write lock until the handler calls
    ``begin_writing(session)``; the handler commits; anything left rolls back."""
    with get_services(request).factory() as session:
        try:
            yield session
        finally:
            session.rollback()


ServicesDep = Annotated[Services, Depends(get_services)]
ReadSession = Annotated[Session, Depends(read_session)]
WriteSession = Annotated[Session, Depends(write_session)]
ReadsFirstSession = Annotated[Session, Depends(reads_first_session)]


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
        """Start the writes of a ``reads_first`` mutation (the module's ``begin_writing``)."""
        self.writes = True
        if self._session is not None:
            begin_writing(self._session)

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

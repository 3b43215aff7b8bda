"""Where the tournament's state lives, and how to open it.

Settings come from ``--home DIR`` or ``CROWDALPHA_HOME`` (default
``./crowdalpha-home``), a folder holding ``crowdalpha.sqlite`` and ``store/``;
``CROWDALPHA_DB`` (a SQLAlchemy URL) and ``CROWDALPHA_STORE`` (an fsspec URL)
override those two. The schema is created and upgraded by the Alembic
migrations shipped inside this package (``migrate``), configured in code: no
``alembic.ini``. Sessions never commit inside domain functions; the caller
commits once (``session_scope``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from crowdalpha.errors import ConfigError

DEFAULT_HOME = "crowdalpha-home"
DB_FILENAME = "crowdalpha.sqlite"
STORE_DIRNAME = "store"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class Settings:
    """Resolved locations: the home folder, the database URL and the file store URL."""

    home: Path
    db_url: str
    store_url: str

    @property
    def db_is_default(self) -> bool:
        """True when the database is the SQLite file inside the home folder."""
        return self.db_url == _sqlite_url(self.home / DB_FILENAME)


def _sqlite_url(path: Path) -> str:
    return URL.create("sqlite+pysqlite", database=str(path)).render_as_string(hide_password=False)


def resolve_settings(
    home: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve the settings from ``home`` (the ``--home`` option) and the environment."""
    env = os.environ if environ is None else environ
    raw_home = (
        home if home is not None and str(home) != "" else env.get("CROWDALPHA_HOME") or DEFAULT_HOME
    )
    home_path = Path(raw_home).expanduser().absolute()
    if home_path.exists() and not home_path.is_dir():
        raise ConfigError(f"home folder '{home_path}' exists and is not a folder")
    db_url = env.get("CROWDALPHA_DB") or _sqlite_url(home_path / DB_FILENAME)
    try:
        make_url(db_url)
    except ArgumentError as exc:
        raise ConfigError(f"CROWDALPHA_DB '{db_url}' is not a SQLAlchemy URL ({exc})") from None
    store_url = env.get("CROWDALPHA_STORE") or str(home_path / STORE_DIRNAME)
    return Settings(home=home_path, db_url=db_url, store_url=store_url)


def prepare_home(settings: Settings) -> None:
    """Create the home folder and, when local, the store folder and the SQLite file's folder."""
    settings.home.mkdir(parents=True, exist_ok=True)
    fs, root = open_store(settings)
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if protocols & {"file", "local"}:
        fs.makedirs(root, exist_ok=True)
    _ensure_sqlite_folder(settings.db_url)


def open_store(settings: Settings) -> tuple[fsspec.AbstractFileSystem, str]:
    """The file store as an fsspec filesystem and the root path inside it."""
    try:
        fs, root = fsspec.core.url_to_fs(settings.store_url)
    except (ValueError, ImportError) as exc:
        raise ConfigError(
            f"CROWDALPHA_STORE '{settings.store_url}' cannot be opened ({exc})"
        ) from None
    return fs, root


def _ensure_sqlite_folder(url: str | URL) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not parsed.database.startswith("file:"):
            Path(parsed.database).expanduser().absolute().parent.mkdir(parents=True, exist_ok=True)


#: Execution option naming the statement that opens a SQLite transaction.
SQLITE_BEGIN_OPTION = "crowdalpha_sqlite_begin"
#: Pass to ``Session.connection(execution_options=...)`` before a unit of work that writes.
WRITE_TRANSACTION = {SQLITE_BEGIN_OPTION: "BEGIN IMMEDIATE"}


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys, real BEGIN/SAVEPOINT handling and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database URL '{url}' is not a SQLAlchemy URL ({exc})") from None
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **kwargs)

    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", 30)
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    on_disk = parsed.database not in (None, "", ":memory:") and "mode=memory" not in str(parsed)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from sqlite3 so SAVEPOINTs work (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        if on_disk:
            # Write-ahead log: readers and the one writer do not block each other (the
            # server answers reads while a submission commits). It persists in the file.
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A unit of work that will write asks for IMMEDIATE (``WRITE_TRANSACTION``): it takes
        # the write lock up front, waiting out the busy timeout, instead of failing with
        # "database is locked" when it later tries to upgrade a read lock another writer blocks.
        conn.exec_driver_sql(conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "BEGIN"))

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``."""
    return sessionmaker(engine)


@contextmanager
def session_scope(factory: sessionmaker[Session], *, writes: bool = False) -> Iterator[Session]:
    """One unit of work: yields a session, commits once at the end, rolls back on error.

    ``writes``: the unit will write; on SQLite it takes the write lock from the start
    (``WRITE_TRANSACTION``), so it waits for other writers instead of failing midway.
    """
    with factory() as session:
        if writes:
            session.connection(execution_options=WRITE_TRANSACTION)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def atomic(session: Session) -> Iterator[Session]:
    """Run one domain operation inside a SAVEPOINT: on error it leaves nothing behind.

    The caller's transaction stays usable and still decides whether to commit.
    """
    with session.begin_nested():
        yield session


def alembic_config(connection: Connection | None = None, *, url: str | URL | None = None) -> Config:
    """Alembic configuration built in code, pointing at the migrations inside this package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # configparser interpolates '%': escape it so passwords survive.
        cfg.set_main_option(
            "sqlalchemy.url",
            str(make_url(url).render_as_string(hide_password=False)).replace("%", "%%"),
        )
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@contextmanager
def _engine_for(target: str | URL | Engine) -> Iterator[Engine]:
    if isinstance(target, Engine):
        yield target
        return
    _ensure_sqlite_folder(target)
    engine = make_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


def migrate(target: str | URL | Engine, revision: str = "head") -> None:
    """Upgrade the database at ``target`` (URL or engine) to ``revision``, in one transaction."""
    with _engine_for(target) as engine, engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(target: str | URL | Engine, revision: str) -> None:
    """Downgrade the database at ``target`` to ``revision`` (``"base"`` drops everything)."""
    with _engine_for(target) as engine, engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def head_revision() -> str:
    """The newest migration revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise ConfigError(f"no migrations found in '{MIGRATIONS_DIR}'")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_current_schema(engine: Engine) -> None:
    """Raise ``ConfigError`` unless the database is migrated to the code's head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        raise ConfigError(
            f"database '{where}' is at revision {current or 'none (empty)'}, this code needs {head}; "
            "run the migrations (crowdalpha.tournament.db.migrate)"
        )


__all__ = [
    "DB_FILENAME",
    "DEFAULT_HOME",
    "MIGRATIONS_DIR",
    "STORE_DIRNAME",
    "Settings",
    "alembic_config",
    "atomic",
    "current_revision",
    "downgrade",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "migrate",
    "open_store",
    "prepare_home",
    "require_current_schema",
    "resolve_settings",
    "session_scope",
]

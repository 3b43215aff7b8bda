from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from crowdalpha.errors import ConfigError
from crowdalpha.tournament import db
from crowdalpha.tournament.errors import NaiveDatetimeError
from crowdalpha.tournament.tables import (
    Account,
    AccountRole,
    Base,
    EntryKind,
    JournalEntry,
    LedgerAccount,
    Model,
    ModelKind,
    PayoutBasis,
)

T0 = datetime(2024, 1, 6, 18, tzinfo=UTC)


# --- settings ------------------------------------------------------------------


def test_settings_default_to_a_home_folder_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = db.resolve_settings(environ={})
    assert settings.home == tmp_path / "crowdalpha-home"
    assert settings.db_url == f"sqlite+pysqlite:///{tmp_path}/crowdalpha-home/crowdalpha.sqlite"
    assert settings.store_url == f"{tmp_path}/crowdalpha-home/store"
    assert settings.db_is_default


def test_home_option_beats_environment_and_urls_override(tmp_path: Path) -> None:
    env = {"CROWDALPHA_HOME": str(tmp_path / "from-env")}
    assert db.resolve_settings(tmp_path / "opt", environ=env).home == tmp_path / "opt"
    assert db.resolve_settings(None, environ=env).home == tmp_path / "from-env"
    assert db.resolve_settings("", environ=env).home == tmp_path / "from-env"
    env |= {"CROWDALPHA_DB": "postgresql+psycopg://u:p@h/db", "CROWDALPHA_STORE": "s3://bucket/x"}
    settings = db.resolve_settings(environ=env)
    assert (settings.db_url, settings.store_url) == (
        "postgresql+psycopg://u:p@h/db",
        "s3://bucket/x",
    )
    assert not settings.db_is_default


def test_bad_settings_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"^invalid_config: CROWDALPHA_DB 'not a url' is not a SQLAlchemy URL"
    ):
        db.resolve_settings(tmp_path, environ={"CROWDALPHA_DB": "not a url"})
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"home folder .*file' exists and is not a folder"):
        db.resolve_settings(tmp_path / "file", environ={})


def test_prepare_home_migrate_and_session_scope(tmp_path: Path) -> None:
    settings = db.resolve_settings(tmp_path / "home", environ={})
    db.prepare_home(settings)
    assert (tmp_path / "home" / "store").is_dir()
    db.migrate(settings.db_url)
    engine = db.make_engine(settings.db_url)
    try:
        db.require_current_schema(engine)
        factory = db.make_session_factory(engine)
        with db.session_scope(factory) as session:
            session.add(Account(name="kept", role=AccountRole.PARTICIPANT, created_at=T0))
        with pytest.raises(RuntimeError), db.session_scope(factory) as session:
            session.add(Account(name="dropped", role=AccountRole.PARTICIPANT, created_at=T0))
            session.flush()
            raise RuntimeError("boom")
        with factory() as session:
            assert session.scalars(select(Account.name)).all() == ["kept"]
    finally:
        engine.dispose()
    assert (tmp_path / "home" / "crowdalpha.sqlite").is_file()


# --- migrations, on both backends ----------------------------------------------


def test_migrations_match_the_tables_and_go_down_and_up(blank_engine: Engine) -> None:
    with pytest.raises(ConfigError, match=r"is at revision none \(empty\), this code needs 0005"):
        db.require_current_schema(blank_engine)
    db.migrate(blank_engine)
    assert db.current_revision(blank_engine) == db.head_revision() == "0005"
    db.require_current_schema(blank_engine)
    with blank_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        keys = conn.execute(select(LedgerAccount.key).order_by(LedgerAccount.key)).scalars().all()
    assert keys == ["burned", "payout_pool", "treasury", "withdrawals"]

    db.downgrade(blank_engine, "base")
    assert db.current_revision(blank_engine) is None
    assert set(inspect(blank_engine).get_table_names()) <= {"alembic_version"}
    db.migrate(blank_engine)
    assert set(Base.metadata.tables) <= set(inspect(blank_engine).get_table_names())


def test_public_ids_are_given_to_existing_models_and_submissions(blank_engine: Engine) -> None:
    """Migration 0004 gives rows made before it distinct UUIDs, then requires them."""
    db.migrate(blank_engine, "0003")
    with blank_engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO accounts (id, name, role, created_at) VALUES (1, 'old', 'participant', :t)"
        ), {"t": T0})
        for model_id in (1, 2):
            conn.execute(text(
                "INSERT INTO models (id, name, account_id, kind, payout_basis, created_at) "
                "VALUES (:i, :n, 1, 'participant', 'corr', :t)"
            ), {"i": model_id, "n": f"m{model_id}", "t": T0})
    db.migrate(blank_engine)
    with blank_engine.connect() as conn:
        ids = conn.execute(text("SELECT public_id FROM models ORDER BY id")).scalars().all()
    assert len(set(ids)) == 2 and all(uuid.UUID(i).version == 4 for i in ids)
    db.downgrade(blank_engine, "0003")
    assert "public_id" not in {c["name"] for c in inspect(blank_engine).get_columns("models")}


# --- column types and transactions, on both backends ---------------------------


def test_money_is_exact_and_sums_exactly(session: Session) -> None:
    big = Decimal("123456789.123456789")
    for amount in (big, Decimal("0.000000001"), Decimal("0.000000002")):
        session.add(JournalEntry(kind=EntryKind.DEPOSIT, amount=amount, created_at=T0))
    session.flush()
    session.expire_all()
    amounts = session.scalars(select(JournalEntry.amount).order_by(JournalEntry.id)).all()
    assert amounts == [big, Decimal("1E-9"), Decimal("2E-9")]
    assert all(isinstance(a, Decimal) for a in amounts)
    assert session.scalar(select(func.sum(JournalEntry.amount))) == Decimal("123456789.123456792")


def test_money_refuses_floats_and_excess_precision(session: Session) -> None:
    session.add(JournalEntry(kind=EntryKind.DEPOSIT, amount=0.1, created_at=T0))  # type: ignore[arg-type]
    with pytest.raises(StatementError, match=r"Money column takes Decimal or int, got float"):
        session.flush()
    session.rollback()
    session.add(JournalEntry(kind=EntryKind.DEPOSIT, amount=Decimal("1e-10"), created_at=T0))
    with pytest.raises(StatementError, match=r"more than 9 decimal places"):
        session.flush()


def test_datetimes_come_back_aware_utc(session: Session) -> None:
    paris = timezone(timedelta(hours=1))
    session.add(
        Account(
            name="tz",
            role=AccountRole.PARTICIPANT,
            created_at=datetime(2024, 1, 6, 19, tzinfo=paris),
        )
    )
    session.flush()
    session.expire_all()
    created = session.scalars(select(Account.created_at)).one()
    assert created == T0
    assert created.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(session: Session) -> None:
    session.add(
        Account(name="naive", role=AccountRole.PARTICIPANT, created_at=datetime(2024, 1, 6))
    )
    with pytest.raises(StatementError, match=r"naive_datetime") as caught:
        session.flush()
    assert isinstance(caught.value.orig, NaiveDatetimeError)


def test_foreign_keys_and_checks_are_enforced(session: Session) -> None:
    session.add(
        Model(
            name="orphan",
            account_id=999,
            kind=ModelKind.PARTICIPANT,
            payout_basis=PayoutBasis.CORR,
            created_at=T0,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_atomic_leaves_nothing_behind_and_the_session_usable(session: Session) -> None:
    with pytest.raises(RuntimeError, match=r"midway"), db.atomic(session):
        session.add(Account(name="half", role=AccountRole.PARTICIPANT, created_at=T0))
        session.flush()
        raise RuntimeError("midway")
    assert session.scalar(select(func.count(Account.id))) == 0
    session.add(Account(name="whole", role=AccountRole.PARTICIPANT, created_at=T0))
    session.flush()
    assert session.scalars(select(Account.name)).all() == ["whole"]

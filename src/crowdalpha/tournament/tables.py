"""The tournament's tables (SQLAlchemy 2 ORM) and the two column types they rely on.

Money is stored as integer nano-units (``BIGINT``, 9 decimal places): exact on
SQLite and PostgreSQL alike, summable in SQL without floats, room for 9.2e9
tokens. Timestamps are stored in UTC and always come back timezone-aware.
The schema itself is created by the Alembic migrations in ``migrations/``; a
test checks that they and these classes agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar
from uuid import uuid4

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crowdalpha.tournament.errors import InvalidValueError, NaiveDatetimeError

#: Decimal places of every amount of money; the smallest amount is ``QUANTUM``.
MONEY_PLACES = 9
QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
#: Largest absolute amount one BIGINT column or SQL sum can hold, in tokens.
MONEY_MAX = Decimal(2**63 - 1).scaleb(-MONEY_PLACES).quantize(QUANTUM)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Money(TypeDecorator[Decimal]):
    """Exact Decimal amount stored as a BIGINT count of nano-units (``QUANTUM``)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(
                f"Money column takes Decimal or int, got {type(value).__name__} {value!r}"
            )
        units = Decimal(value).scaleb(MONEY_PLACES)
        if units != units.to_integral_value():
            raise ValueError(f"amount {value} has more than {MONEY_PLACES} decimal places")
        return int(units)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-MONEY_PLACES).quantize(QUANTUM)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetime stored in UTC; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(f"{value!r} has no time zone; store aware UTC datetimes")
        value = value.astimezone(UTC)
        # SQLite keeps text without an offset: store UTC wall time so text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class AccountRole(StrEnum):
    PARTICIPANT = "participant"
    OPERATOR = "operator"


class ModelKind(StrEnum):
    PARTICIPANT = "participant"
    BENCHMARK = "benchmark"
    INTEGRATION_TEST = "integration_test"


class PayoutBasis(StrEnum):
    CORR = "corr"
    CORR_MMC = "corr+mmc"


class LedgerKind(StrEnum):
    """Kinds of ledger account: holdings, the two mints (sources) and the two sinks."""

    WALLET = "wallet"  # one per account: free money
    STAKE = "stake"  # one per model: active stake
    PENDING_RELEASE = "pending_release"  # one per model: requested decreases awaiting release
    TREASURY = "treasury"  # source of deposits (balance = -deposited)
    PAYOUT_POOL = "payout_pool"  # source of positive payouts (balance = -paid out)
    BURNED = "burned"  # sink of burns
    WITHDRAWALS = "withdrawals"  # sink of withdrawals


class EntryKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    STAKE_INCREASE = "stake_increase"
    STAKE_DECREASE = "stake_decrease"
    STAKE_RELEASE = "stake_release"
    PAYOUT = "payout"
    BURN = "burn"


class ReleaseStatus(StrEnum):
    PENDING = "pending"
    RELEASED = "released"


_E = TypeVar("_E", bound=StrEnum)


def parse_enum(cls: type[_E], value: _E | str, what: str) -> _E:
    """``value`` as a member of ``cls``; ``InvalidValueError`` naming the allowed values otherwise."""
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise InvalidValueError(f"{what} {value!r} is not one of {allowed}") from None


def _enum(cls: type[StrEnum], name: str) -> Enum:
    """A portable (VARCHAR + CHECK) enum column storing the values, not the member names."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def new_public_id() -> str:
    """A fresh UUID4 text: how the API names models, submissions and diagnostics runs."""
    return str(uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Account(Base):
    """A participant or the operator; owns models, API keys and a wallet."""

    __tablename__ = "accounts"
    __table_args__ = (
        Index(
            "uq_accounts_one_operator",
            "role",
            unique=True,
            sqlite_where=text("role = 'operator'"),
            postgresql_where=text("role = 'operator'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[AccountRole] = mapped_column(_enum(AccountRole, "account_role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_hash: Mapped[str | None] = mapped_column(String(200))  # scrypt$n$r$p$salt$hash

    models: Mapped[list[Model]] = relationship(back_populates="account", order_by="Model.id")
    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="account", order_by="ApiKey.id")

    def __repr__(self) -> str:
        return f"Account(id={self.id!r}, name={self.name!r}, role={self.role!r})"


class ApiKey(Base):
    """An API key: public id plus the hash of its secret, with scopes; revocable."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[str] = mapped_column(String(64))  # sorted, comma-separated
    label: Mapped[str | None] = mapped_column(String(100))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    account: Mapped[Account] = relationship(back_populates="api_keys")

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)

    def __repr__(self) -> str:
        return f"ApiKey(public_id={self.public_id!r}, scopes={self.scopes!r}, revoked={self.revoked_at is not None})"


class Model(Base):
    """A tournament model (a participant's ML model), owned by one account."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    submission_webhook: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[ModelKind] = mapped_column(_enum(ModelKind, "model_kind"))
    payout_basis: Mapped[PayoutBasis] = mapped_column(_enum(PayoutBasis, "payout_basis"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    account: Mapped[Account] = relationship(back_populates="models")

    def __repr__(self) -> str:
        return f"Model(id={self.id!r}, name={self.name!r}, kind={self.kind!r})"


class LedgerAccount(Base):
    """One account of the double-entry ledger (a wallet, a stake, a mint or a sink)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'wallet' AND account_id IS NOT NULL AND model_id IS NULL)"
            " OR (kind IN ('stake', 'pending_release') AND model_id IS NOT NULL AND account_id IS NULL)"
            " OR (kind IN ('treasury', 'payout_pool', 'burned', 'withdrawals')"
            " AND account_id IS NULL AND model_id IS NULL)",
            name="owner",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # 'wallet:3', 'stake:7', 'treasury'
    kind: Mapped[LedgerKind] = mapped_column(_enum(LedgerKind, "ledger_kind"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"), index=True)

    def __repr__(self) -> str:
        return f"LedgerAccount(key={self.key!r})"


class JournalEntry(Base):
    """One money movement: its lines sum to zero; ``amount`` is the gross amount moved."""

    __tablename__ = "journal_entries"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind, "entry_kind"))
    amount: Mapped[Decimal] = mapped_column(Money())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"), index=True)
    round_number: Mapped[int | None] = mapped_column(Integer)
    memo: Mapped[str | None] = mapped_column(String(200))

    lines: Mapped[list[JournalLine]] = relationship(
        back_populates="entry", order_by="JournalLine.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"JournalEntry(id={self.id!r}, kind={self.kind!r}, amount={self.amount!r})"


class JournalLine(Base):
    """One side of an entry: a signed amount into (+) or out of (-) a ledger account."""

    __tablename__ = "journal_lines"
    __table_args__ = (CheckConstraint("amount <> 0", name="amount_nonzero"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    ledger_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
    ledger_account: Mapped[LedgerAccount] = relationship()


class PendingRelease(Base):
    """A requested stake decrease, held until the last round it is at risk in resolves."""

    __tablename__ = "pending_releases"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("burned >= 0 AND burned <= amount", name="burned_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())  # requested
    burned: Mapped[Decimal] = mapped_column(Money())  # taken by burns while pending
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    release_after_round: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[ReleaseStatus] = mapped_column(
        _enum(ReleaseStatus, "release_status"), index=True
    )
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    request_entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    release_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))

    model: Mapped[Model] = relationship()

    @property
    def remaining(self) -> Decimal:
        """What will go back to the wallet: the request minus burns taken from it."""
        return self.amount - self.burned

    def __repr__(self) -> str:
        return (
            f"PendingRelease(id={self.id!r}, model_id={self.model_id!r}, amount={self.amount!r}, "
            f"burned={self.burned!r}, status={self.status!r})"
        )


class RoundStatus(StrEnum):
    """A round's life: open (taking submissions) -> closed -> scoring (day 1..N) -> resolved."""

    OPEN = "open"
    CLOSED = "closed"
    SCORING = "scoring"
    RESOLVED = "resolved"


class Round(Base):
    """One tournament round: a live era taking submissions until its close, then scored daily."""

    __tablename__ = "rounds"
    __table_args__ = (
        Index(
            "uq_rounds_one_open",
            "status",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
        CheckConstraint("resolves_after_days > 0", name="resolves_after_days_positive"),
        CheckConstraint("scoring_day >= 0", name="scoring_day_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    era: Mapped[str] = mapped_column(String(16))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolves_after_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[RoundStatus] = mapped_column(_enum(RoundStatus, "round_status"))
    scoring_day: Mapped[int] = mapped_column(Integer)  # last day scored, 0 before day 1
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"Round(number={self.number!r}, era={self.era!r}, status={self.status!r})"


class RoundStake(Base):
    """A model's stake at risk in a round, frozen when the round closes."""

    __tablename__ = "round_stakes"
    __table_args__ = (CheckConstraint("stake_at_risk > 0", name="stake_positive"),)

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True, index=True)
    stake_at_risk: Mapped[Decimal] = mapped_column(Money())

    def __repr__(self) -> str:
        return (
            f"RoundStake(round_id={self.round_id!r}, model_id={self.model_id!r}, "
            f"stake_at_risk={self.stake_at_risk!r})"
        )


class Submission(Base):
    """One accepted prediction file of a model in a round, stored as parquet in the file store."""

    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_model_id_round_id", "model_id", "round_id"),
        CheckConstraint("rows > 0", name="rows_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    path: Mapped[str] = mapped_column(String(500), unique=True)  # relative to the store root
    filename: Mapped[str | None] = mapped_column(String(255))  # as uploaded
    rows: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    late: Mapped[bool] = mapped_column(Boolean())
    valid: Mapped[bool] = mapped_column(Boolean())

    model: Mapped[Model] = relationship()
    round: Mapped[Round] = relationship()

    def __repr__(self) -> str:
        return (
            f"Submission(id={self.id!r}, model_id={self.model_id!r}, round_id={self.round_id!r}, "
            f"rows={self.rows!r}, late={self.late!r}, valid={self.valid!r})"
        )


class Score(Base):
    """One scoring day of one counted submission; a metric that cannot be computed is NULL."""

    __tablename__ = "scores"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    corr: Mapped[float | None] = mapped_column(Double())
    mmc: Mapped[float | None] = mapped_column(Double())
    bmc: Mapped[float | None] = mapped_column(Double())
    fnc: Mapped[float | None] = mapped_column(Double())
    fe_max: Mapped[float | None] = mapped_column(Double())
    fe_rms: Mapped[float | None] = mapped_column(Double())

    def __repr__(self) -> str:
        return (
            f"Score(submission_id={self.submission_id!r}, day={self.day!r}, corr={self.corr!r}, "
            f"mmc={self.mmc!r})"
        )


class RoundDay(Base):
    """A scoring day of a round, written in the same transaction as its scores (done = present)."""

    __tablename__ = "round_days"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submissions: Mapped[int] = mapped_column(Integer)
    staked_submissions: Mapped[int] = mapped_column(Integer)
    total_stake_at_risk: Mapped[Decimal] = mapped_column(Money())
    meta_model_corr: Mapped[float | None] = mapped_column(Double())
    benchmark_corr: Mapped[float | None] = mapped_column(Double())

    def __repr__(self) -> str:
        return f"RoundDay(round_id={self.round_id!r}, day={self.day!r})"


class RoundPayout(Base):
    """A staked model's result in a resolved round: the inputs of its payout and the entry posted."""

    __tablename__ = "round_payouts"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True, index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    stake_at_risk: Mapped[Decimal] = mapped_column(Money())
    corr: Mapped[float | None] = mapped_column(Double())
    mmc: Mapped[float | None] = mapped_column(Double())
    payout_basis: Mapped[PayoutBasis] = mapped_column(_enum(PayoutBasis, "payout_basis"))
    payout_factor: Mapped[str] = mapped_column(String(64))  # exact decimal text
    amount: Mapped[Decimal] = mapped_column(Money())  # > 0 paid, < 0 burned, 0 neither
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))

    def __repr__(self) -> str:
        return (
            f"RoundPayout(round_id={self.round_id!r}, model_id={self.model_id!r}, "
            f"amount={self.amount!r})"
        )


class DiagnosticsRun(Base):
    """Validation diagnostics of a model's uploaded validation predictions (numerapi's diagnostics)."""

    __tablename__ = "diagnostics"
    __table_args__ = (CheckConstraint("status IN ('done', 'failed')", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    dataset_version: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))  # 'done' or 'failed'
    message: Mapped[str | None] = mapped_column(String(1000))
    results: Mapped[str | None] = mapped_column(Text())  # JSON of the diagnostics

    model: Mapped[Model] = relationship()

    def __repr__(self) -> str:
        return f"DiagnosticsRun(public_id={self.public_id!r}, status={self.status!r})"


#: Ledger accounts that exist once per tournament (created by the first migration).
SYSTEM_LEDGER_KINDS = (
    LedgerKind.TREASURY,
    LedgerKind.PAYOUT_POOL,
    LedgerKind.BURNED,
    LedgerKind.WITHDRAWALS,
)

__all__ = [
    "MONEY_MAX",
    "MONEY_PLACES",
    "NAMING_CONVENTION",
    "QUANTUM",
    "SYSTEM_LEDGER_KINDS",
    "Account",
    "AccountRole",
    "ApiKey",
    "Base",
    "DiagnosticsRun",
    "EntryKind",
    "JournalEntry",
    "JournalLine",
    "LedgerAccount",
    "LedgerKind",
    "Model",
    "ModelKind",
    "Money",
    "PayoutBasis",
    "PendingRelease",
    "ReleaseStatus",
    "Round",
    "RoundDay",
    "RoundPayout",
    "RoundStake",
    "RoundStatus",
    "Score",
    "Submission",
    "UTCDateTime",
    "new_public_id",
    "parse_enum",
]

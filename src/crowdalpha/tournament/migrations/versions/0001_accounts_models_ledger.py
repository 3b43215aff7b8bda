"""Accounts, API keys, models, the double-entry ledger and pending stake releases.

Revision ID: 0001
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
MONEY = sa.BigInteger()  # nano-units, see crowdalpha.tournament.tables.Money


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("name", name="uq_accounts_name"),
        sa.CheckConstraint(
            _in("role", ("participant", "operator")), name="ck_accounts_account_role"
        ),
    )
    op.create_index(
        "uq_accounts_one_operator",
        "accounts",
        ["role"],
        unique=True,
        sqlite_where=sa.text("role = 'operator'"),
        postgresql_where=sa.text("role = 'operator'"),
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("public_id", name="uq_api_keys_public_id"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_api_keys_account_id_accounts"
        ),
    )
    op.create_index("ix_api_keys_account_id", "api_keys", ["account_id"])

    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payout_basis", sa.String(32), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sa.UniqueConstraint("name", name="uq_models_name"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_models_account_id_accounts"
        ),
        sa.CheckConstraint(
            _in("kind", ("participant", "benchmark", "integration_test")),
            name="ck_models_model_kind",
        ),
        sa.CheckConstraint(
            _in("payout_basis", ("corr", "corr+mmc")), name="ck_models_payout_basis"
        ),
    )
    op.create_index("ix_models_account_id", "models", ["account_id"])

    ledger_kinds = (
        "wallet",
        "stake",
        "pending_release",
        "treasury",
        "payout_pool",
        "burned",
        "withdrawals",
    )
    ledger_accounts = op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_accounts"),
        sa.UniqueConstraint("key", name="uq_ledger_accounts_key"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_ledger_accounts_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_ledger_accounts_model_id_models"
        ),
        sa.CheckConstraint(_in("kind", ledger_kinds), name="ck_ledger_accounts_ledger_kind"),
        sa.CheckConstraint(
            "(kind = 'wallet' AND account_id IS NOT NULL AND model_id IS NULL)"
            " OR (kind IN ('stake', 'pending_release') AND model_id IS NOT NULL AND account_id IS NULL)"
            " OR (kind IN ('treasury', 'payout_pool', 'burned', 'withdrawals')"
            " AND account_id IS NULL AND model_id IS NULL)",
            name="ck_ledger_accounts_owner",
        ),
    )
    op.create_index("ix_ledger_accounts_account_id", "ledger_accounts", ["account_id"])
    op.create_index("ix_ledger_accounts_model_id", "ledger_accounts", ["model_id"])

    entry_kinds = (
        "deposit",
        "withdrawal",
        "stake_increase",
        "stake_decrease",
        "stake_release",
        "payout",
        "burn",
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("round_number", sa.Integer(), nullable=True),
        sa.Column("memo", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_journal_entries"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_journal_entries_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_journal_entries_model_id_models"
        ),
        sa.CheckConstraint(_in("kind", entry_kinds), name="ck_journal_entries_entry_kind"),
        sa.CheckConstraint("amount > 0", name="ck_journal_entries_amount_positive"),
    )
    op.create_index("ix_journal_entries_created_at", "journal_entries", ["created_at"])
    op.create_index("ix_journal_entries_account_id", "journal_entries", ["account_id"])
    op.create_index("ix_journal_entries_model_id", "journal_entries", ["model_id"])

    op.create_table(
        "journal_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("ledger_account_id", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journal_lines"),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.id"], name="fk_journal_lines_entry_id_journal_entries"
        ),
        sa.ForeignKeyConstraint(
            ["ledger_account_id"],
            ["ledger_accounts.id"],
            name="fk_journal_lines_ledger_account_id_ledger_accounts",
        ),
        sa.CheckConstraint("amount <> 0", name="ck_journal_lines_amount_nonzero"),
    )
    op.create_index("ix_journal_lines_entry_id", "journal_lines", ["entry_id"])
    op.create_index("ix_journal_lines_ledger_account_id", "journal_lines", ["ledger_account_id"])

    op.create_table(
        "pending_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("burned", MONEY, nullable=False),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("release_after_round", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("released_at", TZ, nullable=True),
        sa.Column("request_entry_id", sa.Integer(), nullable=False),
        sa.Column("release_entry_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pending_releases"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_pending_releases_model_id_models"
        ),
        sa.ForeignKeyConstraint(
            ["request_entry_id"],
            ["journal_entries.id"],
            name="fk_pending_releases_request_entry_id_journal_entries",
        ),
        sa.ForeignKeyConstraint(
            ["release_entry_id"],
            ["journal_entries.id"],
            name="fk_pending_releases_release_entry_id_journal_entries",
        ),
        sa.CheckConstraint(
            _in("status", ("pending", "released")), name="ck_pending_releases_release_status"
        ),
        sa.CheckConstraint("amount > 0", name="ck_pending_releases_amount_positive"),
        sa.CheckConstraint(
            "burned >= 0 AND burned <= amount", name="ck_pending_releases_burned_range"
        ),
    )
    op.create_index("ix_pending_releases_model_id", "pending_releases", ["model_id"])
    op.create_index("ix_pending_releases_status", "pending_releases", ["status"])

    # The tournament-wide ledger accounts: the two mints and the two sinks.
    op.bulk_insert(
        ledger_accounts,
        [
            {"key": kind, "kind": kind}
            for kind in ("treasury", "payout_pool", "burned", "withdrawals")
        ],
    )


def downgrade() -> None:
    for table in (
        "pending_releases",
        "journal_lines",
        "journal_entries",
        "ledger_accounts",
        "models",
        "api_keys",
    ):
        op.drop_table(table)
    op.drop_index("uq_accounts_one_operator", table_name="accounts")
    op.drop_table("accounts")

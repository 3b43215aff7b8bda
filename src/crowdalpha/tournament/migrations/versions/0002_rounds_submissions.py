"""Rounds, the stakes frozen at each round's close, and submissions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
MONEY = sa.BigInteger()  # nano-units, see crowdalpha.tournament.tables.Money
ROUND_STATUSES = ("open", "closed", "scoring", "resolved")


def upgrade() -> None:
    op.create_table(
        "rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("era", sa.String(16), nullable=False),
        sa.Column("opens_at", TZ, nullable=False),
        sa.Column("closes_at", TZ, nullable=False),
        sa.Column("resolves_after_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("scoring_day", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rounds"),
        sa.UniqueConstraint("number", name="uq_rounds_number"),
        sa.CheckConstraint(
            f"status IN ({', '.join(repr(s) for s in ROUND_STATUSES)})",
            name="ck_rounds_round_status",
        ),
        sa.CheckConstraint("closes_at > opens_at", name="ck_rounds_closes_after_opening"),
        sa.CheckConstraint(
            "resolves_after_days > 0", name="ck_rounds_resolves_after_days_positive"
        ),
        sa.CheckConstraint("scoring_day >= 0", name="ck_rounds_scoring_day_nonnegative"),
    )
    op.create_index(
        "uq_rounds_one_open",
        "rounds",
        ["status"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )

    op.create_table(
        "round_stakes",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("stake_at_risk", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("round_id", "model_id", name="pk_round_stakes"),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name="fk_round_stakes_round_id_rounds"
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_round_stakes_model_id_models"
        ),
        sa.CheckConstraint("stake_at_risk > 0", name="ck_round_stakes_stake_positive"),
    )
    op.create_index("ix_round_stakes_model_id", "round_stakes", ["model_id"])

    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_submissions"),
        sa.UniqueConstraint("path", name="uq_submissions_path"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_submissions_model_id_models"),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name="fk_submissions_round_id_rounds"),
        sa.CheckConstraint("rows > 0", name="ck_submissions_rows_positive"),
    )
    op.create_index("ix_submissions_model_id_round_id", "submissions", ["model_id", "round_id"])
    op.create_index("ix_submissions_round_id", "submissions", ["round_id"])


def downgrade() -> None:
    op.drop_table("submissions")
    op.drop_table("round_stakes")
    op.drop_index("uq_rounds_one_open", table_name="rounds")
    op.drop_table("rounds")

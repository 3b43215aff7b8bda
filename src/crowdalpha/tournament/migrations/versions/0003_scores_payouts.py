"""Daily scores of submissions, the scored days of each round, and round payouts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
MONEY = sa.BigInteger()  # nano-units, see crowdalpha.tournament.tables.Money
METRICS = ("corr", "mmc", "bmc", "fnc", "fe_max", "fe_rms")


def upgrade() -> None:
    op.create_table(
        "scores",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Double(), nullable=True) for name in METRICS),
        sa.PrimaryKeyConstraint("submission_id", "day", name="pk_scores"),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name="fk_scores_submission_id_submissions"
        ),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name="fk_scores_round_id_rounds"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_scores_model_id_models"),
    )
    op.create_index("ix_scores_round_id", "scores", ["round_id"])
    op.create_index("ix_scores_model_id", "scores", ["model_id"])

    op.create_table(
        "round_days",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("scored_at", TZ, nullable=False),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("staked_submissions", sa.Integer(), nullable=False),
        sa.Column("total_stake_at_risk", MONEY, nullable=False),
        sa.Column("meta_model_corr", sa.Double(), nullable=True),
        sa.Column("benchmark_corr", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("round_id", "day", name="pk_round_days"),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name="fk_round_days_round_id_rounds"),
    )

    op.create_table(
        "round_payouts",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("stake_at_risk", MONEY, nullable=False),
        sa.Column("corr", sa.Double(), nullable=True),
        sa.Column("mmc", sa.Double(), nullable=True),
        sa.Column("payout_basis", sa.String(32), nullable=False),
        sa.Column("payout_factor", sa.String(64), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("round_id", "model_id", name="pk_round_payouts"),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name="fk_round_payouts_round_id_rounds"
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_round_payouts_model_id_models"
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name="fk_round_payouts_submission_id_submissions",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.id"], name="fk_round_payouts_entry_id_journal_entries"
        ),
        sa.CheckConstraint(
            "payout_basis IN ('corr', 'corr+mmc')", name="ck_round_payouts_payout_basis"
        ),
    )
    op.create_index("ix_round_payouts_model_id", "round_payouts", ["model_id"])


def downgrade() -> None:
    op.drop_table("round_payouts")
    op.drop_table("round_days")
    op.drop_table("scores")

"""Public (UUID) ids of models and submissions, submission file names, model webhooks,
and validation diagnostics runs.

The API names models and submissions by UUID, as Numerai does, so that ids
are not guessable and do not leak counts. Existing rows get fresh UUIDs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _add_public_id(table: str) -> None:
    """Add ``public_id``, give every existing row a UUID, then make it required and unique."""
    op.add_column(table, sa.Column("public_id", sa.String(36), nullable=True))
    rows = sa.table(table, sa.column("id", sa.Integer()), sa.column("public_id", sa.String(36)))
    bind = op.get_bind()
    for (row_id,) in bind.execute(sa.select(rows.c.id)).all():
        bind.execute(
            rows.update().where(rows.c.id == row_id).values(public_id=str(uuid.uuid4()))
        )
    with op.batch_alter_table(table) as batch:
        batch.alter_column("public_id", existing_type=sa.String(36), nullable=False)
        batch.create_unique_constraint(f"uq_{table}_public_id", ["public_id"])


def upgrade() -> None:
    _add_public_id("models")
    _add_public_id("submissions")
    op.add_column("models", sa.Column("submission_webhook", sa.String(500), nullable=True))
    op.add_column("submissions", sa.Column("filename", sa.String(255), nullable=True))

    op.create_table(
        "diagnostics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(36), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("dataset_version", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.String(1000), nullable=True),
        sa.Column("results", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_diagnostics"),
        sa.UniqueConstraint("public_id", name="uq_diagnostics_public_id"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_diagnostics_model_id_models"
        ),
        sa.CheckConstraint("status IN ('done', 'failed')", name="ck_diagnostics_status"),
    )
    op.create_index("ix_diagnostics_model_id", "diagnostics", ["model_id"])


def downgrade() -> None:
    op.drop_index("ix_diagnostics_model_id", table_name="diagnostics")
    op.drop_table("diagnostics")
    for table in ("submissions", "models"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_public_id", type_="unique")
            batch.drop_column("public_id")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("filename")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("submission_webhook")

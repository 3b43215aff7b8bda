"""Account passwords, for signing in to the web pages.

``accounts.password_hash`` holds ``scrypt$n$r$p$salt$hash`` (see
``tournament.accounts``); it stays NULL for accounts that only use API keys
(e.g. made with ``crowdalpha admin create-account``), which cannot sign in.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("password_hash", sa.String(200), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite >= 3.35): a batch copy would drop ``accounts``, which
    # SQLite's foreign keys refuse while models refer to it.
    op.drop_column("accounts", "password_hash")

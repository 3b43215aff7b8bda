"""Alembic migrations of the tournament schema; run them with ``crowdalpha.tournament.db.migrate``."""

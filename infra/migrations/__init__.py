"""Alembic migrations of the ledger (SQLite and PostgreSQL share them)."""

"""Engine and session factory for the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["create_ledger_engine", "create_schema", "redacted_url", "session_factory"]


def create_ledger_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and foreign keys, so concurrent readers don't block."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit is durable against a crash of the process, and the file
            # never corrupts; only an OS crash or power cut can drop the last commits. That
            # halves the fsyncs per sealed upload (docs/benchmarks.md); evidence files are
            # fsynced by the store before their row is written, so a lost row leaves an
            # unserved orphan, never a row without its file.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Bring the schema to the newest migration (the same path for SQLite and PostgreSQL)."""
    from infra.migrate import upgrade_schema

    upgrade_schema(engine)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def redacted_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for logs and ``orderseal db current``)."""
    return make_url(url).render_as_string(hide_password=True)

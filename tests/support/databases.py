"""Fresh ledger databases for tests: SQLite by default, PostgreSQL when asked.

``ORDERSEAL_TEST_DATABASE=postgres`` makes every test home use its own database on the
machine's PostgreSQL server (``ORDERSEAL_TEST_POSTGRES_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), dropped afterwards. A missing
server fails the run: it never skips.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["backend", "fresh_database_url"]

_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def backend() -> str:
    """``sqlite`` or ``postgres``."""
    return os.environ.get("ORDERSEAL_TEST_DATABASE", "sqlite").lower()


@contextmanager
def fresh_database_url() -> Iterator[str]:
    """Yield a URL to a new empty database ("" means the home's SQLite file)."""
    if backend() != "postgres":
        yield ""
        return
    admin_url = os.environ.get("ORDERSEAL_TEST_POSTGRES_URL", _ADMIN_URL)
    name = f"orderseal_t_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

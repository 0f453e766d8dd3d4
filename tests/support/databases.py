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

from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from infra.settings import Settings

__all__ = ["backend", "fresh_database_url", "settings_env", "storage_backend"]

_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def storage_backend() -> str:
    """``local`` or ``s3`` (SeaweedFS started by the test session)."""
    return os.environ.get("ORDERSEAL_TEST_STORAGE", "local").lower()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a subprocess needs to see the same settings."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        env[f"ORDERSEAL_{name.upper()}"] = str(raw)
    return env


def backend() -> str:
    """``sqlite`` or ``postgres``."""
    return os.environ.get("ORDERSEAL_TEST_DATABASE", "sqlite").lower()


@contextmanager
def fresh_database_url(*, postgres: bool | None = None) -> Iterator[str]:
    """Yield a URL to a new empty database ("" means the home's SQLite file).

    ``postgres`` forces the choice; by default ``ORDERSEAL_TEST_DATABASE`` decides.
    """
    if not (postgres if postgres is not None else backend() == "postgres"):
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

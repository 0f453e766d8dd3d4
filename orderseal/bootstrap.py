"""First-run setup of ``ORDERSEAL_HOME``: development CA, ledger and operator credentials."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from infra.db import create_ledger_engine, create_schema, session_factory
from infra.ledger.api_keys import API_ROLES
from infra.ledger.merchants import DEFAULT_MERCHANT
from infra.ledger.repository import Ledger
from infra.settings import Settings
from keys.store import DevelopmentCAWarning, KeyStore
from orderseal.services import utc_now

__all__ = ["API_ROLES", "initialize_home", "load_credentials"]


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def initialize_home(settings: Settings, *, quiet_dev_warning: bool = False) -> Path:
    """Create keys, ledger schema and API keys if missing; return the credentials file.

    The credentials file (mode 0600) is the operator's only copy of the API keys; the
    ledger stores their hashes.
    """
    home = settings.resolved_home
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    store = KeyStore(home / "keys")
    with warnings.catch_warnings():
        if quiet_dev_warning:
            warnings.simplefilter("ignore", DevelopmentCAWarning)
        store.initialize_development_ca(now=utc_now())
    engine = create_ledger_engine(settings.resolved_database_url)
    create_schema(engine)
    credentials_path = home / "credentials.json"
    if not credentials_path.exists():
        api_keys = Ledger(session_factory(engine)).api_keys
        keys = {
            role: api_keys.issue(
                role=role,
                subject=f"{role}-operator",
                label="orderseal init",
                now=utc_now(),
                # The merchant key of a new home is the default merchant's admin.
                merchant_id=DEFAULT_MERCHANT if role == "merchant" else None,
            ).secret
            for role in API_ROLES
        }
        _write_private(credentials_path, json.dumps(keys, indent=2))
    engine.dispose()
    return credentials_path


def load_credentials(settings: Settings) -> dict[str, str]:
    """The operator's API keys by role."""
    data = json.loads((settings.resolved_home / "credentials.json").read_text())
    return {str(k): str(v) for k, v in data.items()}

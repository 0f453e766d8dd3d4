"""Shared fixtures: a fresh OrderSeal home per test module, services, a live API server."""

from __future__ import annotations

import secrets
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.settings import Settings
from keys.store import DevelopmentCAWarning
from orderseal.app import create_app
from orderseal.bootstrap import initialize_home, load_credentials
from orderseal.server import serve_in_thread
from orderseal.services import Services, build_services
from tests.support.databases import fresh_database_url, storage_backend
from tests.support.seaweed import SeaweedS3
from tests.support.softhsm import SoftHSM


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_settings(home: Path, **overrides: object) -> Settings:
    """Settings for a test home on a free port."""
    return Settings(home=home, port=free_port(), **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSM]:
    """One SoftHSM2 configuration for the run (the PKCS#11 library loads once per process)."""
    hsm = SoftHSM(tmp_path_factory.mktemp("softhsm"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(hsm.conf))
        yield hsm


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedS3 | None]:
    """One SeaweedFS for the run when ``ORDERSEAL_TEST_STORAGE=s3``."""
    if storage_backend() != "s3":
        yield None
        return
    with SeaweedS3() as server:
        yield server


@pytest.fixture(scope="module")
def storage_overrides(s3_server: SeaweedS3 | None) -> dict[str, object]:
    """Settings that point the module at its own S3 bucket (or nothing for local)."""
    if s3_server is None:
        return {}
    return {
        "storage": "s3",
        "s3_endpoint_url": s3_server.endpoint_url,
        "s3_bucket": f"evidence-{secrets.token_hex(6)}",
        "s3_access_key": s3_server.access_key,
        "s3_secret_key": s3_server.secret_key,
        "s3_object_lock_mode": "GOVERNANCE",
        "s3_retention_days": 1,
    }


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """The module's ledger: "" (SQLite in the home) or a fresh PostgreSQL database."""
    with fresh_database_url() as url:
        yield url


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Path:
    """An initialised home folder shared by one test module."""
    home = tmp_path_factory.mktemp("orderseal-home")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DevelopmentCAWarning)
        initialize_home(Settings(home=home, database_url=database_url))
    return home


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    """Settings pointing at the module's home, ledger and evidence store."""
    return make_settings(module_home, database_url=database_url, **storage_overrides)


@pytest.fixture(scope="module")
def services(settings: Settings) -> Services:
    """Services over the module's home."""
    return build_services(settings)


@pytest.fixture(scope="module")
def credentials(settings: Settings) -> dict[str, str]:
    """Operator API keys by role."""
    return load_credentials(settings)


@pytest.fixture(scope="module")
def live_api(settings: Settings, services: Services) -> Iterator[str]:
    """A real uvicorn server on loopback; yields its base URL."""
    with serve_in_thread(
        create_app(settings, services=services), host="127.0.0.1", port=settings.port
    ):
        yield settings.base_url

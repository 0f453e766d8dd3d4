"""Storage and database outages: retryable errors, no partial records, recovery in place.

Runs on its own SeaweedFS (stopped and restarted here) and its own PostgreSQL database
(renamed away and back to simulate the server being unreachable).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from capture.station.client import APIError
from infra.app import create_app
from infra.bootstrap import initialize_home, load_credentials
from infra.ledger.models import DisputeEvidence, Evidence
from infra.samples import make_jpeg
from infra.server import serve_in_thread
from infra.services import Services, build_services
from infra.settings import Settings
from keys.store import DevelopmentCAWarning
from tests.conftest import free_port
from tests.support import flows
from tests.support.databases import fresh_database_url
from tests.support.seaweed import SeaweedS3


@dataclass
class Stack:
    settings: Settings
    services: Services
    base_url: str
    s3: SeaweedS3
    credentials: dict[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("outage-home")
    with fresh_database_url(postgres=True) as url, SeaweedS3() as s3:
        settings = Settings(
            home=home,
            port=free_port(),
            database_url=url,
            storage="s3",
            s3_endpoint_url=s3.endpoint_url,
            s3_bucket="evidence-outage",
            s3_access_key=s3.access_key,
            s3_secret_key=s3.secret_key,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DevelopmentCAWarning)
            initialize_home(settings)
        services = build_services(settings)
        with serve_in_thread(
            create_app(settings, services=services), host="127.0.0.1", port=settings.port
        ):
            yield Stack(settings, services, settings.base_url, s3, load_credentials(settings))


def _count(stack: Stack, model: type[Evidence] | type[DisputeEvidence]) -> int:
    engine = create_engine(stack.settings.resolved_database_url)
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(model)).scalar_one()
    engine.dispose()
    return int(total)


def test_storage_outage_during_capture_and_dispute(stack: Stack, tmp_path: Path) -> None:
    cast = flows.actors(stack.base_url, stack.credentials)
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    photo = make_jpeg(tmp_path / "p.jpg", seed=3, size=(200, 150))
    dispute = cast.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": cast.buyer_id,
            "claim_type": "damaged",
            "amount": "1.00",
            "currency": "USD",
        },
    )
    evidence_before, attached_before = _count(stack, Evidence), _count(stack, DisputeEvidence)

    stack.s3.stop()
    try:
        with pytest.raises(APIError) as capture_error:
            cast.station.upload(session, photo, title="p.jpg", idempotency_key="cap-1")
        assert (capture_error.value.status, capture_error.value.code) == (
            503,
            "storage_unavailable",
        )
        with pytest.raises(APIError) as attach_error:
            cast.platform.attach_file(dispute["dispute_id"], photo, filename="p.jpg")
        assert (attach_error.value.status, attach_error.value.code) == (503, "storage_unavailable")
        ready = httpx.get(f"{stack.base_url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["storage"] == "storage_unavailable"
        assert _count(stack, Evidence) == evidence_before
        assert _count(stack, DisputeEvidence) == attached_before
    finally:
        stack.s3.start()

    # Recovery without restarting OrderSeal: the station retries with the same key.
    sealed = cast.station.upload(session, photo, title="p.jpg", idempotency_key="cap-1")
    again = cast.station.upload(session, photo, title="p.jpg", idempotency_key="cap-1")
    assert again["evidence_id"] == sealed["evidence_id"]
    assert again["replayed"] is True
    assert _count(stack, Evidence) == evidence_before + 1
    assert (
        cast.platform.attach_file(dispute["dispute_id"], photo, filename="p.jpg")["attached"]
        is True
    )
    assert httpx.get(f"{stack.base_url}/readyz").status_code == 200


def test_database_outage_during_capture_and_dispute(stack: Stack, tmp_path: Path) -> None:
    cast = flows.actors(stack.base_url, stack.credentials)
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    photo = make_jpeg(tmp_path / "q.jpg", seed=4, size=(200, 150))
    url = make_url(stack.settings.resolved_database_url)
    name = str(url.database)
    admin = create_engine(url.set(database="test"), isolation_level="AUTOCOMMIT")

    def rename(old: str, new: str) -> None:
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
                {"db": old},
            )
            connection.execute(text(f'ALTER DATABASE "{old}" RENAME TO "{new}"'))

    rename(name, f"{name}_away")
    try:
        with pytest.raises(APIError) as capture_error:
            cast.station.upload(session, photo, title="q.jpg", idempotency_key="db-1")
        assert (capture_error.value.status, capture_error.value.code) == (503, "ledger_unavailable")
        with pytest.raises(APIError) as dispute_error:
            cast.platform.call(
                "POST",
                "/v1/disputes",
                json={
                    "order_id": order_id,
                    "buyer_id": cast.buyer_id,
                    "claim_type": "damaged",
                    "amount": "1.00",
                    "currency": "USD",
                },
            )
        assert (dispute_error.value.status, dispute_error.value.code) == (503, "ledger_unavailable")
        assert (
            httpx.get(f"{stack.base_url}/readyz").json()["checks"]["database"]
            == "ledger_unavailable"
        )
    finally:
        rename(f"{name}_away", name)
        admin.dispose()

    sealed = cast.station.upload(session, photo, title="q.jpg", idempotency_key="db-1")
    assert sealed["replayed"] is False
    assert httpx.get(f"{stack.base_url}/readyz").status_code == 200

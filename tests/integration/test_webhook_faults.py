"""Webhooks as a receiver sees them under faults: nothing lost, duplicates keep their id.

A real ``orderseal worker`` process delivers to a real loopback receiver that checks each
signature with the SDK's ``verify_webhook``. The worker is SIGKILLed while a delivery is in
flight, the receiver is down for a while, and the database restarts once (PostgreSQL: the
private cluster stops and starts under the running worker; SQLite: the file is reopened by a
new worker and new services). Then every event's ``webhook-id`` has arrived, and any second
arrival carries an id that arrived before.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest

from infra.ledger.webhook_models import WebhookDelivery
from infra.settings import Settings
from keys.store import DevelopmentCAWarning
from orderseal.bootstrap import initialize_home
from orderseal.services import Services, build_services
from tests.conftest import make_settings
from tests.support.databases import backend
from tests.support.private_postgres import PrivatePostgres
from tests.support.webhook_receiver import Receiver
from tests.support.workers import start_worker, stop_worker


@pytest.fixture
def cluster() -> Iterator[PrivatePostgres | None]:
    """A private PostgreSQL cluster that may be restarted (PostgreSQL runs only)."""
    if backend() != "postgres":
        yield None
        return
    with PrivatePostgres() as pg:
        yield pg


@pytest.fixture
def settings(tmp_path: Path, cluster: PrivatePostgres | None) -> Settings:
    """A fresh home on the backend under test, with fast retries and short leases."""
    url = cluster.url if cluster is not None else ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DevelopmentCAWarning)
        initialize_home(Settings(home=tmp_path, database_url=url))
    return make_settings(
        tmp_path,
        database_url=url,
        webhook_allow_private_targets=True,
        webhook_retry_base_seconds=0.05,
        webhook_retry_max_seconds=0.5,
        webhook_poll_seconds=0.05,
        webhook_timeout_seconds=1.0,
        webhook_delivery="worker",
    )


def _decide(services: Services, count: int, tag: str) -> None:
    from decimal import Decimal

    for index in range(count):
        dispute = services.verifier.file_dispute(
            order_id=f"ord-{tag}-{index}",
            buyer_id="buyer-1",
            claim_type="damaged",
            amount=Decimal("5.00"),
            currency="USD",
            now=services.clock(),
        )
        services.verifier.decide(dispute.dispute_id, now=services.clock())


def _deliveries(services: Services, endpoint_id: str) -> list[WebhookDelivery]:
    return [d for d, _kind, _log in services.ledger.webhooks.deliveries(endpoint_id, limit=500)]


def _wait_delivered(services: Services, endpoint_id: str, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _deliveries(services, endpoint_id)
        if rows and all(d.status == "delivered" for d in rows):
            return
        time.sleep(0.1)
    pending = [(d.delivery_id, d.status, d.attempts) for d in _deliveries(services, endpoint_id)]
    raise AssertionError(f"not all delivered: {pending}")


def test_sigkill_receiver_outage_and_database_restart_lose_nothing(
    settings: Settings, cluster: PrivatePostgres | None
) -> None:
    with ExitStack() as stack:
        services = build_services(settings)
        (published,) = services.webhooks.published_keys()
        receiver = Receiver(key=published.public_key, delay_seconds=30.0).start()
        stack.callback(receiver.stop)
        endpoint = services.webhooks.create(
            owner="platform-operator", url=receiver.url, events=None, now=services.clock()
        )
        receiver.secret = endpoint.secret

        # 1. A worker is SIGKILLed while the receiver holds its request.
        first = start_worker(settings)
        stack.callback(stop_worker, first)
        _decide(services, 1, "kill")
        receiver.wait_started(1)
        first.kill()
        first.wait()
        receiver.release()

        # 2. The receiver is down while a new worker tries (and the first one's lease ends).
        receiver.wait_for(1)
        receiver.stop()
        second = start_worker(settings)
        stack.callback(stop_worker, second)
        before_outage = {d.delivery_id for d in _deliveries(services, endpoint.endpoint_id)}
        _decide(services, 3, "down")
        # Wait until each delivery filed while the receiver is down has failed once (the
        # SIGKILLed one failing too must not end the wait early on a slow machine).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            down = [
                d
                for d in _deliveries(services, endpoint.endpoint_id)
                if d.delivery_id not in before_outage
            ]
            if len(down) == 3 and all(d.last_error for d in down):
                break
            time.sleep(0.05)
        assert len(down) == 3
        assert all(d.last_error for d in down), "the worker never met the receiver down"
        receiver.start()
        _wait_delivered(services, endpoint.endpoint_id)

        # 3. The database restarts once.
        if cluster is not None:
            cluster.stop()
            time.sleep(1.0)  # the running worker meets the outage and pauses
            cluster.start()
        else:
            stop_worker(second)
            services.ledger.ping()
            services = build_services(settings)  # reopened
            second = start_worker(settings)
            stack.callback(stop_worker, second)
        _decide(services, 2, "restart")
        _wait_delivered(services, endpoint.endpoint_id)
        assert second.poll() is None, second.stderr.read() if second.stderr else ""

        rows = _deliveries(services, endpoint.endpoint_id)
        expected = {d.event_id for d in rows}
        assert len(expected) == 6
        received = [event.webhook_id for event in receiver.received]
        assert set(received) == expected, "an event was lost"
        # At least once: the SIGKILLed delivery arrived again, under the same webhook-id.
        duplicates = {i for i in received if received.count(i) > 1}
        assert duplicates <= expected
        assert len(received) >= len(expected) + 1
        assert receiver.refused == []
        # Every attempt is in the log; the receiver-down ones record the connection failure.
        attempts = sum(d.attempts for d in rows)
        assert attempts >= len(expected) + 3  # each receiver-down delivery failed at least once
        assert timedelta(0) <= max(d.delivered_at - d.created_at for d in rows if d.delivered_at)

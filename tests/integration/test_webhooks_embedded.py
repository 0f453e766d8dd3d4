"""Embedded mode as deployed: ``orderseal serve`` itself delivers webhooks, with no worker.

A real server process (with its delivery thread, the lifespan of the app) on the backend
under test: a verdict filed through its API reaches a loopback receiver, checked with
``verify_webhook``, exactly once per webhook-id.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import httpx

from infra.settings import Settings
from keys.store import DevelopmentCAWarning
from orderseal.bootstrap import initialize_home, load_credentials
from tests.conftest import free_port
from tests.support.databases import fresh_database_url
from tests.support.servers import start_server
from tests.support.webhook_receiver import Receiver


def test_serve_delivers_webhooks_in_process(tmp_path: Path) -> None:
    with fresh_database_url() as url:
        settings = Settings(
            home=tmp_path,
            database_url=url,
            webhook_allow_private_targets=True,
            webhook_poll_seconds=0.2,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DevelopmentCAWarning)
            initialize_home(settings)
        keys = load_credentials(settings)
        server = start_server(settings, tmp_path / "serve.log", port=free_port())
        try:
            published = httpx.get(f"{server.url}/v1/trust/webhook-keys", timeout=30).json()
            receiver = Receiver(key=published["keys"][0]["public_key"]).start()
            platform = httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {keys['platform']}"},
                timeout=60,
            )
            with platform:
                created = platform.post("/v1/webhook-endpoints", json={"url": receiver.url})
                assert created.status_code == 201, created.text
                ids = []
                for index in range(3):
                    dispute = platform.post(
                        "/v1/disputes",
                        json={
                            "order_id": f"ord-embedded-{index}",
                            "buyer_id": "buyer-1",
                            "claim_type": "damaged",
                            "amount": "3.00",
                            "currency": "USD",
                        },
                    ).json()
                    decided = platform.post(f"/v1/disputes/{dispute['dispute_id']}/decide")
                    assert decided.status_code == 200, decided.text
                    ids.append(dispute["dispute_id"])
                received = receiver.wait_for(3)
                time.sleep(0.5)  # a second delivery of one id would show up by now
            assert sorted(e.data["dispute_id"] for e in receiver.received) == sorted(ids)
            assert len({e.webhook_id for e in received}) == len(receiver.received) == 3
            assert receiver.refused == []
            receiver.stop()
            # The operator sees the deliveries in /metrics (admin key): three delivered, timed.
            scraped = httpx.get(
                f"{server.url}/metrics",
                headers={"Authorization": f"Bearer {keys['admin']}"},
                timeout=30,
            ).text
            assert _sample(scraped, 'orderseal_webhook_deliveries_total{outcome="delivered"}') == 3
            assert _sample(scraped, "orderseal_webhook_delivery_seconds_count") == 3
        finally:
            server.kill()


def _sample(exposition: str, name: str) -> float:
    """The value of one sample line of a Prometheus exposition (0 when absent)."""
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0

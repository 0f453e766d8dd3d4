"""docs/integration.md is run exactly as written: its toy marketplace backend registers an
order, hands the buyer's app a capture token, files the refund with the sealed unboxing and
acts on the signed dispute.decided webhook that a real loopback receiver hands it.

Adversaries next to the honest path: a forged webhook (signed by no key of ours) and a
replayed delivery (the same webhook-id twice) must not move the marketplace's books.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.client import BuyerClient
from infra.settings import Settings
from infra.webhooks.delivery import EmbeddedWorker
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows
from tests.support.webhook_receiver import loopback_webhook_settings
from wire.webhooks import WebhookVerificationError

DOC = Path(__file__).resolve().parents[2] / "docs" / "integration.md"


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    """Loopback receivers allowed, fast retries."""
    return loopback_webhook_settings(module_home, database_url, storage_overrides)


@pytest.fixture(scope="module")
def worker(services: Services) -> Iterator[EmbeddedWorker]:
    """The embedded delivery thread (the test server runs without a lifespan)."""
    running = EmbeddedWorker(services.dispatcher)
    running.start()
    yield running
    running.stop()


def _documented_backend() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, "docs/integration.md holds one Python block: the backend"
    return blocks[0]


@pytest.fixture
def marketplace(
    live_api: str,
    credentials: dict[str, str],
    worker: EmbeddedWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    """The documented module, loaded as written, with the environment it reads."""
    keys = httpx.get(f"{live_api}/v1/trust/webhook-keys", timeout=30).json()["keys"]
    monkeypatch.setenv("ORDERSEAL_URL", live_api)
    monkeypatch.setenv("ORDERSEAL_PLATFORM_KEY", credentials["platform"])
    monkeypatch.setenv("ORDERSEAL_WEBHOOK_KEY", keys[0]["public_key"])
    namespace: dict[str, Any] = {"__name__": "marketplace"}
    exec(compile(_documented_backend(), str(DOC), "exec"), namespace)  # noqa: S102 - our doc
    return namespace


Delivery = tuple[dict[str, str], bytes]


@pytest.fixture
def receiver(marketplace: dict[str, Any]) -> Iterator[tuple[str, list[Delivery]]]:
    """A real HTTP receiver that hands each delivery to the backend's ``on_webhook``."""
    refused: list[str] = []
    delivered: list[Delivery] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = dict(self.headers.items())
            delivered.append((headers, body))
            try:
                status = marketplace["on_webhook"](headers, body)
            except Exception as exc:  # noqa: BLE001 - a refused delivery is answered 400
                refused.append(type(exc).__name__)
                status = 400
            self.send_response(status)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/orderseal", delivered
    server.shutdown()
    server.server_close()
    assert refused == [], f"the documented backend refused a genuine delivery: {refused}"


def _wait_for(refunds: dict[str, str], order_id: str, seconds: float = 30.0) -> str:
    deadline = time.monotonic() + seconds
    while order_id not in refunds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert order_id in refunds, "no dispute.decided reached the marketplace"
    return refunds[order_id]


def test_the_documented_backend_refunds_a_sealed_unboxing(
    marketplace: dict[str, Any],
    receiver: tuple[str, list[Delivery]],
    live_api: str,
    credentials: dict[str, str],
    tmp_path: Path,
) -> None:
    url, delivered = receiver
    marketplace["gate"].create_webhook_endpoint(url, events=["dispute.decided"])
    cast = flows.actors(live_api, credentials)
    order_id = f"ORD-DOC-{time.monotonic_ns() % 10**8}"

    marketplace["checkout"](order_id, cast.buyer_id, "CRAB-2KG", "49.00")
    shipped = flows.ship(cast, order_id, tmp_path)
    buyer = BuyerClient(
        live_api, marketplace["capture_token"](order_id, cast.buyer_id), cast.buyer_device
    )
    session = buyer.open_receipt(shipped.label_token)
    buyer.upload(session, make_jpeg(tmp_path / "unbox.jpg", seed=5, size=(320, 240)), title="u.jpg")
    buyer.finish(session)
    dispute_id = marketplace["refund_requested"](order_id, cast.buyer_id, "49.00")

    refunds = marketplace["refunds"]
    assert _wait_for(refunds, order_id) == "refund"
    assert marketplace["gate"].dispute(dispute_id)["verdict"]["decision"] == "allow"

    # A replayed delivery (same webhook-id) is acknowledged and not acted on a second time.
    refunds[order_id] = "already refunded"
    headers, body = delivered[-1]
    assert marketplace["on_webhook"](headers, body) == 204
    assert refunds[order_id] == "already refunded"


def test_a_forged_or_replayed_webhook_moves_nothing(marketplace: dict[str, Any]) -> None:
    on_webhook, refunds = marketplace["on_webhook"], marketplace["refunds"]
    body = b'{"type":"dispute.decided","timestamp":"2026-12-02T00:00:00Z","data":{}}'
    forged = {
        "webhook-id": "msg_forged",
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": "v1a," + base64.b64encode(b"\0" * 64).decode(),
    }
    with pytest.raises(WebhookVerificationError) as refused:
        on_webhook(forged, body)
    assert refused.value.code == "webhook_invalid"
    assert refunds == {}

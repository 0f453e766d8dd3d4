"""Webhook delivery latency: from a committed verdict to its receipt at a loopback receiver.

Each dispute is filed and decided in this process (the verdict's transaction writes the
outbox row), and the clock stops when the receiver has verified the ``dispute.decided`` for it
with ``clients.webhooks.verify_webhook``. Decisions run one at a time, so the figure is the
latency of one delivery (claim, sign, POST, record), not throughput. The embedded worker
runs as ``orderseal serve`` runs it; a verdict wakes it at once, and ``orderseal worker`` on
another host would add up to its poll interval (``ORDERSEAL_WEBHOOK_POLL_SECONDS``).
"""

from __future__ import annotations

import operator
import statistics
import threading
import time
import warnings
from decimal import Decimal
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from clients.webhooks import verify_webhook
from infra.settings import Settings
from infra.webhooks.delivery import EmbeddedWorker

__all__ = ["run_webhook_latency"]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def run_webhook_latency(home: Path, *, count: int, database_url: str = "") -> dict[str, Any]:
    """Decide ``count`` disputes one by one; p50/p99 (ms) from decision to verified receipt."""
    from keys.store import DevelopmentCAWarning
    from orderseal.bootstrap import initialize_home
    from orderseal.services import build_services

    settings = Settings(home=home, database_url=database_url, webhook_allow_private_targets=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DevelopmentCAWarning)
        initialize_home(settings, quiet_dev_warning=True)
    services = build_services(settings)
    (published,) = services.webhooks.published_keys()
    arrived: dict[str, float] = {}
    condition = threading.Condition()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            event = verify_webhook(dict(self.headers.items()), body, key=published.public_key)
            self.send_response(200)
            self.end_headers()
            with condition:
                arrived.setdefault(str(event.data.get("dispute_id")), time.perf_counter())
                condition.notify_all()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    services.webhooks.create(
        owner="bench",
        url=f"http://127.0.0.1:{server.server_address[1]}/hook",
        events=None,
        now=services.clock(),
    )
    committed: list[float] = []

    def _committed() -> None:
        # The verdict's transaction (with its outbox row) has just committed.
        committed.append(time.perf_counter())
        services.dispatcher.wake()

    services.ledger.outbox_listener = _committed
    worker = EmbeddedWorker(services.dispatcher)
    worker.start()
    latencies: list[float] = []
    try:
        for index in range(count):
            dispute = services.verifier.file_dispute(
                order_id=f"bench-{index}",
                buyer_id="bench-buyer",
                claim_type="damaged",
                amount=Decimal("1.00"),
                currency="USD",
                now=services.clock(),
            )
            services.verifier.decide(dispute.dispute_id, now=services.clock())
            dispute_id = dispute.dispute_id
            with condition:
                condition.wait_for(partial(operator.contains, arrived, dispute_id), timeout=30)
                latencies.append((arrived[dispute_id] - committed[-1]) * 1000)
    finally:
        worker.stop()
        server.shutdown()
        server.server_close()
    return {
        "deliveries": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
        "backend": "PostgreSQL" if database_url else "sqlite",
    }

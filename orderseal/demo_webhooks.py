"""The demo's webhook receiver: a loopback HTTP server checking every delivery with the SDK.

``orderseal demo`` registers it as a webhook endpoint through the platform API, drains the
queue with the embedded worker, and prints what arrived once the scenario is done: each
verdict (``dispute.decided``) and each sealed capture (``evidence.sealed``), signed ``v1a``
under the key published at ``GET /v1/trust/webhook-keys``.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from clients.client import PlatformClient
from clients.webhooks import VerifiedWebhook, WebhookVerificationError, verify_webhook
from infra.webhooks.delivery import Dispatcher, EmbeddedWorker

__all__ = ["DemoWebhooks"]


class DemoWebhooks:
    """Receive the demo's webhooks on loopback while the block runs."""

    def __init__(self, base_url: str, platform_key: str, dispatcher: Dispatcher) -> None:
        self._platform = PlatformClient(base_url, platform_key)
        self._worker = EmbeddedWorker(dispatcher)
        self._lock = threading.Condition()
        self.received: list[VerifiedWebhook] = []
        self.refused: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._endpoint_id = ""

    def __enter__(self) -> DemoWebhooks:
        keys = self._platform.call("GET", "/v1/trust/webhook-keys")["keys"]
        public_keys = [k["public_key"] for k in keys]
        demo = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    event = verify_webhook(dict(self.headers.items()), body, key=public_keys)
                except WebhookVerificationError as exc:
                    with demo._lock:
                        demo.refused.append(exc.code)
                    self.send_response(400)
                    self.end_headers()
                    return
                self.send_response(200)
                self.end_headers()
                with demo._lock:
                    if all(e.webhook_id != event.webhook_id for e in demo.received):
                        demo.received.append(event)  # deduplicated by webhook-id
                    demo._lock.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"
        endpoint = self._platform.call("POST", "/v1/webhook-endpoints", json={"url": url})
        self._endpoint_id = endpoint["endpoint_id"]
        self._worker.start()
        return self

    def wait_until_delivered(self, *, timeout_seconds: float = 30.0) -> list[VerifiedWebhook]:
        """Wait until the endpoint has no pending delivery; the deliveries received, in order."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            log = self._platform.call(
                "GET", f"/v1/webhook-endpoints/{self._endpoint_id}/deliveries?limit=500"
            )["items"]
            if all(d["status"] != "pending" for d in log):
                break
            time.sleep(0.1)
        with self._lock:
            return list(self.received)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._worker.stop()
        if self._endpoint_id:
            self._platform.call("DELETE", f"/v1/webhook-endpoints/{self._endpoint_id}")
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

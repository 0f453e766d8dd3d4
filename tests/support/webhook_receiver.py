"""A real webhook receiver on loopback: checks every delivery with the SDK's verify_webhook.

It records each verified delivery (webhook-id, type, data) and every refusal, answers 200,
and can be stopped and started again on the same port (the receiver-down fault).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from clients.webhooks import VerifiedWebhook, WebhookVerificationError, verify_webhook
from infra.settings import Settings
from tests.conftest import make_settings

__all__ = ["Receiver"]


@dataclass
class Receiver:
    """Collects verified webhooks; ``key`` is the published ``whpk_``, ``secret`` optional."""

    key: str
    secret: str | None = None
    port: int = 0
    #: Seconds to hold each request before answering (a slow receiver).
    delay_seconds: float = 0.0
    received: list[VerifiedWebhook] = field(default_factory=list)
    #: Requests whose body was read (counted before the hold and the verification).
    started: int = 0
    refused: list[str] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None
    _hold: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        """Where to register the endpoint."""
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        """Listen (on the same port as before after a stop)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.arrived:
                    receiver.started += 1
                    receiver.arrived.notify_all()
                if receiver.delay_seconds:
                    receiver._hold.wait(receiver.delay_seconds)
                try:
                    event = verify_webhook(
                        dict(self.headers.items()),
                        body,
                        key=receiver.key,
                        secret=receiver.secret,
                    )
                except WebhookVerificationError as exc:
                    with receiver.arrived:
                        receiver.refused.append(exc.code)
                    self.send_response(400)
                    self.end_headers()
                    return
                self.send_response(200)
                self.end_headers()
                with receiver.arrived:
                    receiver.received.append(event)
                    receiver.arrived.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def release(self) -> None:
        """Answer held requests now, and hold no more."""
        self.delay_seconds = 0.0
        self._hold.set()

    def wait_started(self, count: int, *, timeout: float = 30.0) -> None:
        """Block until ``count`` requests reached the receiver."""
        with self.arrived:
            self.arrived.wait_for(lambda: self.started >= count, timeout)
            assert self.started >= count, f"{self.started} of {count} requests started"

    def stop(self) -> None:
        """Stop listening: deliveries now fail to connect."""
        if self._server is not None:
            self._hold.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self._hold = threading.Event()

    def wait_for(self, count: int, *, timeout: float = 30.0) -> list[VerifiedWebhook]:
        """Block until ``count`` deliveries arrived (fails the test at the timeout)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            assert len(self.received) >= count, f"{len(self.received)} of {count} arrived"
            return list(self.received)


def loopback_webhook_settings(
    home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    """Settings for a test server whose webhooks go to a loopback receiver, retried fast."""
    return make_settings(
        home,
        database_url=database_url,
        webhook_allow_private_targets=True,
        webhook_retry_base_seconds=0.05,
        webhook_poll_seconds=0.05,
        webhook_timeout_seconds=2.0,
        **storage_overrides,
    )

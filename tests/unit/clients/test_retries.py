"""The platform SDK retries only what a retry cannot do twice, against a real loopback server
that answers 503 before it answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clients.client import APIError, PlatformClient


@dataclass
class Flaky:
    """Answers ``failures`` times 503 (with Retry-After: 0), then 201 with a JSON body."""

    failures: int
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def flaky(request: pytest.FixtureRequest) -> Iterator[Flaky]:
    state = Flaky(failures=request.param)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            state.seen.append((self.command, self.headers.get("idempotency-key")))
            if len(state.seen) <= state.failures:
                body = json.dumps({"error": {"code": "ledger_unavailable", "message": "x"}})
                self.send_response(503)
                self.send_header("Retry-After", "0")
            else:
                body = json.dumps({"dispute_id": "dp_1", "order_id": "o"})
                self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def _client(url: str) -> PlatformClient:
    return PlatformClient(url, "osk_platform_x", retries=3, backoff_seconds=0.01)


@pytest.mark.parametrize("flaky", [2], indirect=True)
def test_a_filed_dispute_is_retried_under_one_idempotency_key(flaky: Flaky) -> None:
    answer = _client(flaky.url).file_dispute(
        order_id="o", buyer_id="b", claim_type="damaged", amount="1.00", currency="USD"
    )
    assert answer["dispute_id"] == "dp_1"
    keys = {key for _, key in flaky.seen}
    assert len(flaky.seen) == 3
    assert len(keys) == 1
    assert None not in keys


@pytest.mark.parametrize("flaky", [1], indirect=True)
def test_a_post_without_a_key_is_never_retried(flaky: Flaky) -> None:
    with pytest.raises(APIError) as refused:
        _client(flaky.url).decide("dp_1")
    assert (refused.value.status, refused.value.code) == (503, "ledger_unavailable")
    assert flaky.seen == [("POST", None)]


@pytest.mark.parametrize("flaky", [9], indirect=True)
def test_retries_end_with_the_last_answer(flaky: Flaky) -> None:
    with pytest.raises(APIError) as refused:
        _client(flaky.url).dispute("dp_1")
    assert refused.value.code == "ledger_unavailable"
    assert len(flaky.seen) == 4  # the call and its three retries

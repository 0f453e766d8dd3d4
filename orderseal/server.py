"""Running the API with uvicorn, in the foreground or in a background thread (demo, tests).

The HTTP protocols here are uvicorn's with two changes: Nagle's algorithm off on every
connection, and request headers capped in size and count before the app sees them (431
``headers_too_large``). The cap lives in the server itself, not in an optional proxy: httptools
and h11 would otherwise buffer a header of any length.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import h11
import httptools
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = [
    "WORKER_HEALTHCHECK_SECONDS",
    "NoDelayH11Protocol",
    "NoDelayHTTPProtocol",
    "limited_protocol",
    "run_workers",
    "serve_in_thread",
    "worker_app",
]

_log = logging.getLogger(__name__)
#: Settings defaults (infra/settings.py); ``worker_app`` and ``limited_protocol`` set the real.
_MAX_HEADER_BYTES = 16384
_MAX_HEADERS = 100
#: How long ``serve --workers N`` waits for a worker's health answer before replacing it.
WORKER_HEALTHCHECK_SECONDS = 60


class _HeadersTooLargeError(Exception):
    """Raised inside a parser callback to stop parsing the request."""


def _refusal(max_header_bytes: int, max_headers: int) -> bytes:
    """The whole 431 response, in our error shape; the connection closes after it."""
    body = json.dumps(
        {
            "error": {
                "code": "headers_too_large",
                "message": f"expected at most {max_headers} headers and {max_header_bytes} "
                "bytes of request line and headers",
            }
        }
    ).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _NoDelay:
    """Nagle's algorithm off on every connection.

    With ``--workers`` uvicorn hands each worker a listening socket rebuilt from a file
    descriptor, whose ``proto`` reads 0, so asyncio skips its usual ``TCP_NODELAY``. The
    response body then waits for the client's delayed ACK of the headers: ~40 ms added to
    every request (measured with ``bench/``).
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[misc]


class NoDelayHTTPProtocol(_NoDelay, HttpToolsProtocol):
    """uvicorn's httptools protocol with Nagle off and request headers capped (431).

    httptools gathers a header value inside the parser until it is complete, so the callbacks
    alone see a 64 MB header only after it is in memory. Two counts therefore apply: the exact
    bytes of the request line and completed headers (callbacks), and every byte received
    while the headers of the current request are still incomplete (``data_received``), which
    bounds what the parser can hold to one read past the limit.
    """

    max_header_bytes: ClassVar[int] = _MAX_HEADER_BYTES
    max_headers: ClassVar[int] = _MAX_HEADERS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_headers = True
        self._header_bytes = 0
        self._raw_header_bytes = 0
        self._header_count = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refused:
                self._refuse()
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        if self._in_headers:
            self._raw_header_bytes += len(data)
            if self._raw_header_bytes > self.max_header_bytes:
                self._refused = True
                self._refuse()

    def _refuse(self) -> None:
        _log.info("refused a request over the header limits (431 headers_too_large)")
        self.transport.write(_refusal(self.max_header_bytes, self.max_headers))
        self.transport.close()

    def _count(self, size: int, *, header: bool) -> None:
        self._header_bytes += size
        self._header_count += header
        if self._header_bytes > self.max_header_bytes or self._header_count > self.max_headers:
            self._refused = True
            raise _HeadersTooLargeError

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_bytes = self._raw_header_bytes = self._header_count = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url), header=False)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value), header=True)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        super().on_headers_complete()


class _LimitedConnection(h11.Connection):
    """h11's connection with a header count and total size check on every request."""

    def __init__(self, *, max_header_bytes: int, max_headers: int) -> None:
        # h11 refuses an incomplete head above max_incomplete_event_size (hint 431) itself.
        super().__init__(h11.SERVER, max_incomplete_event_size=max_header_bytes)
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.refused_status: int | None = None

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refused_status = exc.error_status_hint
            raise
        if isinstance(event, h11.Request):
            size = len(event.target) + sum(len(n) + len(v) for n, v in event.headers)
            if len(event.headers) > self.max_headers or size > self.max_header_bytes:
                self.refused_status = 431
                raise h11.RemoteProtocolError("request headers too large", 431)
        return event


class NoDelayH11Protocol(_NoDelay, H11Protocol):
    """uvicorn's h11 protocol with Nagle off and request headers capped (431)."""

    max_header_bytes: ClassVar[int] = _MAX_HEADER_BYTES
    max_headers: ClassVar[int] = _MAX_HEADERS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limited = _LimitedConnection(
            max_header_bytes=self.max_header_bytes, max_headers=self.max_headers
        )
        self.conn = self._limited

    def send_400_response(self, msg: str) -> None:
        if self._limited.refused_status == 431:
            _log.info("refused a request over the header limits (431 headers_too_large)")
            self.transport.write(_refusal(self.max_header_bytes, self.max_headers))
            self.transport.close()
            return
        super().send_400_response(msg)


def limited_protocol(
    *, max_header_bytes: int, max_headers: int, h11_protocol: bool = False
) -> type[asyncio.Protocol]:
    """A protocol class with these header limits (for a server in this process).

    Args:
        max_header_bytes: request line plus headers, in bytes.
        max_headers: header lines.
        h11_protocol: h11 instead of httptools.
    """
    base: type[NoDelayHTTPProtocol | NoDelayH11Protocol] = (
        NoDelayH11Protocol if h11_protocol else NoDelayHTTPProtocol
    )
    limits = {"max_header_bytes": max_header_bytes, "max_headers": max_headers}
    return type(f"Limited{base.__name__}", (base,), limits)


@contextmanager
def serve_in_thread(
    app: FastAPI, *, host: str, port: int, h11_protocol: bool = False
) -> Iterator[uvicorn.Server]:
    """Serve ``app`` on host:port until the block exits, with its settings' header limits.

    Args:
        app: an app from ``create_app``.
        host: bind address.
        port: bind port.
        h11_protocol: serve with h11 instead of httptools.
    """
    settings = app.state.services.settings
    protocol = limited_protocol(
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        h11_protocol=h11_protocol,
    )
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="off", http=protocol
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the API did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def worker_app() -> FastAPI:
    """The app factory each ``orderseal serve`` worker process calls.

    Worker processes start fresh, so each sets up its own JSON logging and reads its settings
    from the environment it inherited.
    """
    from infra.memory import reuse_large_buffers
    from infra.observability import configure_logging
    from infra.settings import Settings
    from orderseal.app import create_app

    configure_logging()
    settings = Settings()
    # Runs in the worker before it accepts a connection: its protocol class takes the limits.
    NoDelayHTTPProtocol.max_header_bytes = settings.max_header_bytes
    NoDelayHTTPProtocol.max_headers = settings.max_headers
    if settings.reuse_large_buffers:
        reuse_large_buffers()
    return create_app(settings)


def run_workers(*, host: str, port: int, workers: int) -> None:
    """Serve in the foreground with ``workers`` uvicorn worker processes until stopped.

    With more than one worker, Prometheus samples go through a fresh folder (unless the
    operator names one) so /metrics sums every worker.
    """
    from infra.observability import MULTIPROCESS_DIR_ENV, configure_logging

    configure_logging()
    own_dir = None
    if workers > 1 and not os.environ.get(MULTIPROCESS_DIR_ENV):
        own_dir = tempfile.mkdtemp(prefix="orderseal-metrics-")
        os.environ[MULTIPROCESS_DIR_ENV] = own_dir
    try:
        uvicorn.run(
            "orderseal.server:worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http="orderseal.server:NoDelayHTTPProtocol",
            log_config=None,
            access_log=False,
            # uvicorn kills a worker that does not answer its health ping within this, and
            # starts another: its default of 5 s is less than a worker's start (c2pa, the
            # ledger, the keys) takes on a busy 2-core host, which then restarts for ever.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)

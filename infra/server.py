"""Running the API with uvicorn, in the foreground or in a background thread (demo, tests)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.auto import AutoHTTPProtocol

__all__ = ["NoDelayHTTPProtocol", "run_workers", "serve_in_thread", "worker_app"]


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol with Nagle's algorithm off on every connection.

    With ``--workers`` uvicorn hands each worker a listening socket rebuilt from a file
    descriptor, whose ``proto`` reads 0, so asyncio skips its usual ``TCP_NODELAY``. The
    response body then waits for the client's delayed ACK of the headers: ~40 ms added to
    every request (measured with ``bench/``).
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


@contextmanager
def serve_in_thread(app: FastAPI, *, host: str, port: int) -> Iterator[uvicorn.Server]:
    """Serve ``app`` on host:port until the block exits."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
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
    from infra.app import create_app
    from infra.memory import reuse_large_buffers
    from infra.observability import configure_logging
    from infra.settings import Settings

    configure_logging()
    settings = Settings()
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
            "infra.server:worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http="infra.server:NoDelayHTTPProtocol",
            log_config=None,
            access_log=False,
        )
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)

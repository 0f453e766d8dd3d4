"""Operations surface: request IDs, JSON logs, Prometheus metrics, health and readiness."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.auth import AdminPrincipal, PublicCaller
from infra.errors import OrderSealError

__all__ = [
    "MULTIPROCESS_DIR_ENV",
    "JSONLogFormatter",
    "Metrics",
    "configure_logging",
    "install",
    "metrics_app",
    "metrics_router",
    "request_id_var",
    "router",
    "serve_metrics",
]

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_REQUEST_ID = "x-request-id"
_access_log = logging.getLogger("orderseal.access")
# prometheus-client's own switch: when set before it is imported, every worker process writes
# its samples to files there and /metrics sums them, whichever worker answers the scrape.
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class Metrics:
    """One registry per app, so several apps in one process (tests) never collide."""

    registry: CollectorRegistry
    latency: Histogram
    seals: Counter
    verdicts: Counter
    storage_errors: Counter
    webhook_deliveries: Counter
    webhook_latency: Histogram

    @classmethod
    def create(cls) -> Metrics:
        """Fresh metrics on a private registry."""
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            latency=Histogram(
                "orderseal_http_request_duration_seconds",
                "HTTP request latency by route and status",
                ["method", "route", "status"],
                registry=registry,
            ),
            seals=Counter(
                "orderseal_seals_total",
                "Sealed captures",
                ["stage", "media_type"],
                registry=registry,
            ),
            verdicts=Counter(
                "orderseal_verdicts_total", "Dispute verdicts", ["decision"], registry=registry
            ),
            storage_errors=Counter(
                "orderseal_storage_errors_total",
                "Evidence store and ledger errors",
                ["code"],
                registry=registry,
            ),
            webhook_deliveries=Counter(
                "orderseal_webhook_deliveries_total",
                "Webhook delivery attempts by outcome (delivered, retry, dead)",
                ["outcome"],
                registry=registry,
            ),
            webhook_latency=Histogram(
                "orderseal_webhook_delivery_seconds",
                "Time of one webhook delivery attempt, until the receiver answered or failed",
                registry=registry,
            ),
        )

    def observe_delivery(self, outcome: str, seconds: float) -> None:
        """Count one webhook attempt (``delivered``, ``retry`` or ``dead``) and its time."""
        self.webhook_deliveries.labels(outcome).inc()
        self.webhook_latency.observe(seconds)


class JSONLogFormatter(logging.Formatter):
    """One JSON object per line, with the request ID of the request being served."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
            "pid": record.process,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str = "INFO") -> None:
    """Send every log line to stderr as JSON (used by ``orderseal serve``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JSONLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # startup warnings (dev CA, no Object Lock) as JSON lines too
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our middleware writes the one access line per request (with request id, route and
    # duration); uvicorn's protocols log theirs whenever "uvicorn.access" has any handler.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False


def install(app: FastAPI) -> Metrics:
    """Add the request-ID and latency middleware; returns the app's metrics."""
    metrics = Metrics.create()
    app.state.metrics = metrics
    app.add_middleware(_Observe, metrics=metrics)
    return metrics


class _Observe:
    """Request id, latency histogram and one access-log line per request.

    A plain ASGI middleware (Starlette's ``BaseHTTPMiddleware`` costs a task and a memory
    stream per request, a measurable share of a small upload).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(_REQUEST_ID, "")
        request_id = (
            incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else secrets.token_hex(8)
        )
        token = request_id_var.set(request_id)
        # The auth dependency leaves the public id of a presented API key here (request.state).
        state: dict[str, Any] = scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
            elapsed = time.perf_counter() - started
            method = scope["method"]
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(method, path, str(status)).observe(elapsed)
            fields: dict[str, object] = {
                "method": method,
                "route": path,
                "status": status,
                "duration_ms": round(elapsed * 1000, 1),
            }
            if "api_key_id" in state:
                fields["key_id"] = state["api_key_id"]
            _access_log.info("%s %s %s", method, path, status, extra={"fields": fields})
        finally:
            request_id_var.reset(token)


router = APIRouter()


@router.get("/healthz", tags=["public"])
def healthz(caller: PublicCaller) -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", tags=["public"], response_model=None)
def readyz(caller: PublicCaller, request: Request) -> JSONResponse:
    """Database and evidence store reachable: 200, else 503 with what failed."""
    services = request.app.state.services
    checks: dict[str, str] = {}
    for name, probe in (("database", services.ledger.ping), ("storage", services.store.ping)):
        try:
            probe()
            checks[name] = "ok"
        except OrderSealError as exc:
            checks[name] = exc.code
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


def _exposition(registry: CollectorRegistry | None) -> Response:
    # Under several workers the samples of all of them are summed (prometheus-client's
    # multiprocess mode), so a scrape does not depend on which worker answers it.
    if os.environ.get(MULTIPROCESS_DIR_ENV) or registry is None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


#: ``/metrics`` on the API port, for ``ORDERSEAL_METRICS=admin`` (the default).
metrics_router = APIRouter()


@metrics_router.get("/metrics", tags=["admin"], response_class=Response)
def metrics(caller: AdminPrincipal, request: Request) -> Response:
    """Prometheus exposition, admin API key only: it shows business volumes (refund rates)."""
    return _exposition(request.app.state.metrics.registry)


@contextmanager
def serve_metrics(host: str, port: int) -> Iterator[None]:
    """Serve :func:`metrics_app` on host:port in a thread until the block exits.

    Raises:
        RuntimeError: the listener did not start (address in use, bad address).
    """
    import uvicorn

    config = uvicorn.Config(
        metrics_app(), host=host, port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="orderseal-metrics", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the metrics listener did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def metrics_app() -> FastAPI:
    """The separate listener of ``ORDERSEAL_METRICS=bind:HOST:PORT``: ``/metrics`` only.

    It sums the workers' multiprocess samples, so ``orderseal serve`` runs it in the parent
    process. No credentials: the bind address (loopback, a private interface) is the control.
    """
    app = FastAPI(title="OrderSeal metrics", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/metrics", response_class=Response)
    def scrape() -> Response:
        return _exposition(None)

    return app

"""The composition root: ``create_app(settings)`` wires services, routes and error mapping."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from capture.auth import CREDENTIAL_CHECKS as DEVICE_CREDENTIAL_CHECKS
from infra.auth import CREDENTIAL_CHECKS
from infra.errors import OrderSealError
from infra.names import install_path_guard
from infra.observability import install, metrics_router
from infra.observability import router as observability_router
from infra.openapi import install_openapi, operation_id
from infra.ratelimit import build_limiter
from infra.settings import Settings
from infra.uploads import ClientDisconnectedError, UploadGate, UploadsBusyError
from infra.webhooks.delivery import EmbeddedWorker
from orderseal.authorization import TABLE, verify_authorization
from orderseal.services import Services, build_services

__all__ = ["create_app"]

_log = logging.getLogger(__name__)


def _error(
    status: int,
    code: str,
    message: str,
    details: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message}
    if details:
        body.update({k: v for k, v in details.items() if k not in body})
    return JSONResponse(status_code=status, content={"error": body}, headers=headers)


def _webhook_delivery(services: Services) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The server's lifespan: drain the webhook and job queues in threads unless workers do."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        workers = []
        if services.settings.webhook_delivery == "embedded":
            workers.append(EmbeddedWorker(services.dispatcher))
        if services.settings.jobs_mode == "embedded":
            workers.append(EmbeddedWorker(services.jobs, name="background-jobs"))
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            for worker in workers:
                worker.stop()

    return lifespan


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """Build the OrderSeal API.

    Args:
        settings: configuration; read from the environment when omitted.
        services: prebuilt services (tests inject a clock this way).

    Raises:
        AuthorizationTableError: a route and ``orderseal/authorization.py`` disagree (a route
            with no entry, or another role than its entry), so the app refuses to start.
    """
    from capture.routes import router as capture_router
    from capture.web.pages import router as capture_pages_router
    from infra.webhooks.routes import router as webhooks_router
    from verifier.routes import router as verifier_router
    from verifier.routes.public import router as public_verify_router
    from verifier.web.pages import router as agent_pages_router

    resolved = services or build_services(settings or Settings())
    app = FastAPI(title="OrderSeal", version="0.1.0", generate_unique_id_function=operation_id)
    app.state.services = resolved
    setattr(app.state, CREDENTIAL_CHECKS, DEVICE_CREDENTIAL_CHECKS)
    app.state.rate_limits = build_limiter(resolved.settings)
    app.state.upload_gate = UploadGate.from_settings(resolved.settings)
    app.include_router(capture_router)
    app.include_router(capture_pages_router)
    app.include_router(verifier_router)
    app.include_router(public_verify_router)
    app.include_router(agent_pages_router)
    app.include_router(webhooks_router)
    app.router.lifespan_context = _webhook_delivery(resolved)

    # The published contract: each operation's credential and refusals from the one table.
    install_openapi(
        app,
        roles={key: rule.role for key, rule in TABLE.items()},
        refusals={
            key: [o.refusal for o in rule.ownership if o.refusal] for key, rule in TABLE.items()
        },
    )
    install_path_guard(app)
    metrics = install(app)
    # Embedded delivery counts in this app's /metrics (``orderseal worker`` keeps its own).
    resolved.dispatcher.observer = metrics.observe_delivery
    app.include_router(observability_router)
    if resolved.settings.metrics == "admin":
        # "off" serves none; "bind:HOST:PORT" serves them on their own listener (serve).
        app.include_router(metrics_router)

    @app.exception_handler(OrderSealError)
    async def _orderseal_error(request: Request, exc: OrderSealError) -> JSONResponse:
        # Shedding public uploads is the limit working, not an outage: no alert per refusal.
        shed = isinstance(exc, UploadsBusyError)
        if exc.http_status == 503 and not shed:
            metrics.storage_errors.labels(exc.code).inc()
        if exc.http_status >= 500 and not shed:
            _log.error("request failed: %s (%s)", exc.code, exc.message)
        return _error(
            exc.http_status, exc.code, exc.message, exc.details, getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()})
        return _error(422, "invalid_request", f"invalid or missing fields: {', '.join(fields)}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        # Nobody reads this answer; the access line records 499 at info, with no traceback.
        gone = ClientDisconnectedError("the client disconnected mid-body")
        return _error(gone.http_status, gone.code, gone.message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unexpected error")
        return _error(500, "internal_error", "an unexpected error occurred; it has been logged")

    # Last, once every router is in: a route the authorization table does not declare, or one
    # demanding another role than its entry, stops the start here rather than serving.
    verify_authorization(iter_route_contexts(app.routes))
    return app

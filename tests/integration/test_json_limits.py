"""Every JSON body is read with a limit, before authentication and parsing.

Adversary: anyone on the network (no credential needed: the framework reads a body before the
route's key check) sending a JSON body of gigabytes to a route with a body model, declared up
front or chunked, to exhaust a worker's memory. Each route answers 413 ``payload_too_large``
at its limit; the upload routes stream their bodies with their own limits instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from infra.json_body import MAX_JSON_BYTES, BoundedJSONRoute
from infra.settings import Settings
from orderseal.app import create_app
from orderseal.services import Services

pytestmark = pytest.mark.backend_independent


def _api_routes(router: Any) -> Iterator[APIRoute]:
    """Every API route, through the routers included (FastAPI keeps those as their own)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router
            yield from _api_routes(route.original_router)


def test_every_route_with_a_body_model_reads_it_with_a_limit(
    settings: Settings, services: Services
) -> None:
    app = create_app(settings, services=services)
    body_routes = [r for r in _api_routes(app.router) if r.body_field is not None]
    assert body_routes, "expected routes with JSON bodies"
    unbounded = sorted(
        f"{sorted(r.methods or ())} {r.path}"
        for r in body_routes
        if not isinstance(r, BoundedJSONRoute)
    )
    assert unbounded == []


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"order_id": "'
    sent = 0
    while sent < total:
        yield b"a" * 8192
        sent += 8192
    yield b'"}'


@pytest.mark.parametrize(
    ("path", "key_role"),
    [
        ("/v1/disputes", "platform"),
        ("/v1/buyer-tokens", "platform"),
        ("/v1/webhook-endpoints", "platform"),
        ("/v1/devices", None),  # anonymous: refused for size before the missing key
    ],
)
def test_an_oversized_json_body_is_refused_declared_or_chunked(
    live_api: str, credentials: dict[str, str], path: str, key_role: str | None
) -> None:
    headers = {"content-type": "application/json"}
    if key_role is not None:
        headers["authorization"] = f"Bearer {credentials[key_role]}"
    declared = httpx.post(
        f"{live_api}{path}",
        content=b'{"x": "' + b"a" * (MAX_JSON_BYTES + 1) + b'"}',
        headers=headers,
        timeout=30,
    )
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"
    chunked = httpx.post(
        f"{live_api}{path}", content=_chunks(4 * MAX_JSON_BYTES), headers=headers, timeout=30
    )
    assert chunked.status_code == 413
    assert chunked.json()["error"]["code"] == "payload_too_large"


def test_a_body_under_the_limit_reaches_the_route(
    live_api: str, credentials: dict[str, str]
) -> None:
    # The honest platform call is unchanged: a normal body passes and is parsed as before.
    answer = httpx.post(
        f"{live_api}/v1/buyer-tokens",
        json={"buyer_id": "buyer-limits", "order_id": "ord-none"},
        headers={"authorization": f"Bearer {credentials['platform']}"},
        timeout=30,
    )
    assert answer.status_code != 413
    assert answer.json().get("error", {}).get("code") != "payload_too_large"

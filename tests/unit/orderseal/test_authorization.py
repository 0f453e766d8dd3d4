"""The authorization table refuses an app whose routes it does not describe exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import iter_route_contexts

import orderseal.app
from infra.auth import (
    AdminPrincipal,
    AgentPrincipal,
    BuyerPrincipal,
    PlatformPrincipal,
    Principal,
    PublicCaller,
    Role,
    StationPrincipal,
    require_role,
)
from infra.observability import router as observability_router
from infra.settings import Settings
from orderseal.app import create_app
from orderseal.authorization import (
    BUYER_SESSION,
    ROUTES,
    STATION_SESSION,
    TABLE,
    AuthorizationTableError,
    Ownership,
    RouteRule,
    build_table,
    verify_authorization,
)
from orderseal.services import Services


def _app(*routes: tuple[str, str, Callable[..., object]]) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    for method, path, endpoint in routes:
        app.add_api_route(path, endpoint, methods=[method])
    return app


def _station(principal: StationPrincipal) -> None: ...


def _buyer(principal: BuyerPrincipal) -> None: ...


def _platform(principal: PlatformPrincipal) -> None: ...


def _public(caller: PublicCaller) -> None: ...


def _nobody() -> None: ...


def _two_roles(principal: AgentPrincipal, admin: AdminPrincipal) -> None: ...


def _spelled_out(principal: Annotated[Principal, Depends(require_role(Role.AGENT))]) -> None: ...


def _nested_dependency(principal: StationPrincipal) -> str:
    return principal.subject


def _nested(subject: Annotated[str, Depends(_nested_dependency)]) -> None: ...


def _table(*rules: RouteRule) -> dict[tuple[str, str], RouteRule]:
    return dict(build_table(rules))


def _refusal(app: FastAPI, table: dict[tuple[str, str], RouteRule]) -> str:
    with pytest.raises(AuthorizationTableError) as caught:
        verify_authorization(iter_route_contexts(app.routes), table)
    assert caught.value.code == "authorization_table_mismatch"
    assert caught.value.http_status == 500
    return caught.value.message


def test_a_table_that_matches_passes() -> None:
    app = _app(
        ("POST", "/s/{session_id}", _station),
        ("GET", "/p", _public),
        ("GET", "/nested", _nested),
        ("GET", "/spelled", _spelled_out),
    )
    verify_authorization(
        iter_route_contexts(app.routes),
        _table(
            RouteRule("POST", "/s/{session_id}", Role.STATION, (STATION_SESSION,)),
            RouteRule("GET", "/p", Role.PUBLIC),
            RouteRule("GET", "/nested", Role.STATION),
            RouteRule("GET", "/spelled", Role.AGENT),
            RouteRule("GET", "/metrics", Role.ADMIN, optional=True),
        ),
    )


def test_a_route_without_an_entry_is_refused() -> None:
    app = _app(("GET", "/p", _public), ("POST", "/new", _platform))
    message = _refusal(app, _table(RouteRule("GET", "/p", Role.PUBLIC)))
    assert "POST /new: no authorization entry" in message


def test_an_entry_with_another_role_is_refused() -> None:
    app = _app(("POST", "/b", _buyer))
    message = _refusal(app, _table(RouteRule("POST", "/b", Role.STATION)))
    assert "the table says station, the route demands buyer" in message


def test_the_same_path_with_another_method_needs_its_own_entry() -> None:
    app = _app(("GET", "/p", _public), ("POST", "/p", _public))
    assert "POST /p: no authorization entry" in _refusal(
        app, _table(RouteRule("GET", "/p", Role.PUBLIC))
    )


@pytest.mark.parametrize(
    ("endpoint", "found"),
    [(_nobody, "found none"), (_two_roles, "found admin, agent")],
    ids=["no-role", "two-roles"],
)
def test_a_route_must_demand_exactly_one_role(endpoint: Callable[..., object], found: str) -> None:
    app = _app(("GET", "/x", endpoint))
    message = _refusal(app, _table(RouteRule("GET", "/x", Role.AGENT)))
    assert f"GET /x: expected one role dependency, {found}" in message


def test_an_entry_without_a_route_is_refused_unless_optional() -> None:
    app = _app(("GET", "/p", _public))
    table = _table(RouteRule("GET", "/p", Role.PUBLIC), RouteRule("GET", "/gone", Role.PUBLIC))
    assert "GET /gone: an entry without a route" in _refusal(app, table)


def test_ownership_must_be_the_routes_role_and_refuse_with_a_registered_code() -> None:
    app = _app(("GET", "/s", _station), ("GET", "/t", _station))
    table = _table(
        RouteRule("GET", "/s", Role.STATION, (BUYER_SESSION,)),
        RouteRule("GET", "/t", Role.STATION, (Ownership(Role.STATION, "thing", "no_such_code"),)),
    )
    message = _refusal(app, table)
    assert "GET /s: ownership buyer owns the receipt session on a station route" in message
    assert "GET /t: refusal 'no_such_code' is not registered" in message


def test_two_entries_for_one_route_are_refused() -> None:
    with pytest.raises(AuthorizationTableError):
        build_table([RouteRule("GET", "/p", Role.PUBLIC), RouteRule("GET", "/p", Role.ADMIN)])


def test_the_service_table_is_indexed_once_per_route() -> None:
    assert len(TABLE) == len(ROUTES)
    assert all(rule.method in {"GET", "POST", "PUT", "PATCH", "DELETE"} for rule in ROUTES)
    assert all(ownership.owner == rule.role for rule in ROUTES for ownership in rule.ownership)


def test_create_app_builds_with_every_route_declared(
    settings: Settings, services: Services
) -> None:
    create_app(settings, services=services)


def test_create_app_refuses_a_route_added_without_an_entry(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = APIRouter()
    router.include_router(observability_router)
    router.add_api_route("/v1/undeclared", _platform, methods=["POST"])
    monkeypatch.setattr(orderseal.app, "observability_router", router)
    with pytest.raises(AuthorizationTableError) as caught:
        create_app(settings, services=services)
    assert "POST /v1/undeclared: no authorization entry" in caught.value.message

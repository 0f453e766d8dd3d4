"""schemathesis against our own OpenAPI schema, bounded and derandomized (runs in CI).

Every operation gets ``EXAMPLES`` generated requests (the same ones on every run), sent with a
valid credential of the operation's role from the authorization table. Checks: no 5xx, the
status code is documented, the body matches the documented schema (errors: ``ErrorOut``) and
the content type is the documented one.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra.settings import Settings
from orderseal.app import create_app
from orderseal.authorization import TABLE
from orderseal.services import Services
from tests.support import flows

EXAMPLES = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]


@pytest.fixture(scope="module")
def app(settings: Settings, services: Services) -> FastAPI:
    return create_app(settings, services=services)


@pytest.fixture(scope="module")
def role_headers(live_api: str, credentials: dict[str, str]) -> dict[str, dict[str, str]]:
    cast = flows.actors(live_api, credentials)
    token = flows.buyer_token_response(cast.platform, cast.buyer_id)
    headers = {role: {"Authorization": f"Bearer {credentials[role]}"} for role in credentials}
    headers["buyer"] = {"Authorization": f"Bearer {token['token']}"}
    return headers


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_dict(app.openapi())
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


def test_schema_documents_error_bodies(app: FastAPI) -> None:
    schema = app.openapi()
    assert "ErrorOut" in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert "default" in operation["responses"], (method, path)


def _fuzz(operation: Any, base_url: str, headers: dict[str, str]) -> None:
    """Send ``EXAMPLES`` generated requests; a failing check raises (with a curl to reproduce)."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        case.validate_response(response, checks=CHECKS)

    run()


def test_generated_requests_get_documented_answers(
    app: FastAPI, live_api: str, role_headers: dict[str, dict[str, str]]
) -> None:
    operations = _operations(app)
    assert len(operations) >= 30
    for operation in operations:
        rule = TABLE.get((operation.method.upper(), operation.path))
        headers = role_headers.get(rule.role, {}) if rule else {}
        _fuzz(operation, live_api, headers)

"""The published contract: docs/openapi.json is valid OpenAPI 3.1 and is what the app serves.

It also checks what a generated client needs beyond the schemas (``tests/unit/test_openapi.py``
types those): every operation has a readable unique id, the credential of its role from the
authorization table, its error responses, and a raw upload states its body.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from infra.auth import Role
from infra.openapi import ROLE_SECURITY, SECURITY_SCHEMES
from infra.settings import Settings
from orderseal.authorization import TABLE
from orderseal.openapi import PUBLISHED, REGENERATE, build_spec, spec_to_json

ROOT = Path(__file__).parents[3]

#: Routes that stream their raw body (``infra.uploads.receive_body``).
RAW_BODY = [
    ("put", "/v1/disputes/{dispute_id}/files"),
    ("put", "/v1/shipment-sessions/{session_id}/evidence"),
    ("put", "/v1/receipt-sessions/{session_id}/evidence"),
    ("put", "/v1/review-sessions/{session_id}/evidence"),
    ("put", "/v1/platform/review-images"),
    ("put", "/v1/merchant/orders/{order_id}/counter-images"),
    ("post", "/verify"),
]


@pytest.fixture(scope="module")
def spec(settings: Settings) -> dict[str, Any]:
    return build_spec(settings)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_published_spec_is_valid_openapi() -> None:
    validate(json.loads((ROOT / PUBLISHED).read_text()))


def test_served_spec_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)


def test_published_spec_has_not_drifted(spec: dict[str, Any]) -> None:
    published = json.loads((ROOT / PUBLISHED).read_text())
    if spec == published and spec_to_json(spec) == (ROOT / PUBLISHED).read_text():
        return
    served = {(m, p): o for m, p, o in _operations(spec)}
    written = {(m, p): o for m, p, o in _operations(published)}
    changed = sorted(
        f"{m.upper()} {p}"
        for m, p in served.keys() | written.keys()
        if served.get((m, p)) != written.get((m, p))
    )
    schemas = sorted(
        name
        for name in spec["components"]["schemas"].keys() | published["components"]["schemas"].keys()
        if spec["components"]["schemas"].get(name) != published["components"]["schemas"].get(name)
    )
    pytest.fail(
        f"{PUBLISHED} is not what the app serves; regenerate it: {REGENERATE}\n"
        f"  operations that differ: {', '.join(changed) or 'none'}\n"
        f"  schemas that differ: {', '.join(schemas) or 'none'}"
    )


def test_operation_ids_are_the_handler_names(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(spec)]
    assert len(ids) == len(set(ids))
    assert "file_dispute" in ids
    assert all(identifier.isidentifier() for identifier in ids)


def test_security_schemes_are_the_three_credentials(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == set(SECURITY_SCHEMES)
    assert schemes["apiKey"] == {**SECURITY_SCHEMES["apiKey"]}
    assert schemes["buyerToken"]["scheme"] == "bearer"
    headers = {s["name"] for s in schemes.values() if s["type"] == "apiKey"}
    assert headers == {
        "X-OrderSeal-Device",
        "X-OrderSeal-Timestamp",
        "X-OrderSeal-Nonce",
        "X-OrderSeal-Signature",
    }


def test_every_operation_requires_its_roles_credential(spec: dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        rule = TABLE[(method.upper(), path)]
        assert operation["security"] == ROLE_SECURITY[rule.role], (method, path)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.PLATFORM, [{"apiKey": ["platform"]}]),
        (Role.AGENT, [{"apiKey": ["agent"]}]),
        (Role.ADMIN, [{"apiKey": ["admin"]}]),
        (Role.BUYER, [{"buyerToken": []}]),
        (Role.PUBLIC, []),
    ],
    ids=["platform", "agent", "admin", "buyer", "public"],
)
def test_role_requirements(role: Role, expected: list[dict[str, list[str]]]) -> None:
    assert ROLE_SECURITY[role] == expected


def test_station_requirement_is_all_four_headers() -> None:
    (requirement,) = ROLE_SECURITY[Role.STATION]
    assert set(requirement) == {"deviceId", "deviceTimestamp", "deviceNonce", "deviceSignature"}


def test_every_operation_declares_its_errors(spec: dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        responses = operation["responses"]
        assert {"429", "default"} <= responses.keys(), (method, path)
        if operation["security"]:
            assert {"401", "403"} <= responses.keys(), (method, path)
        else:
            assert "401" not in responses, (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        assert list(responses)[-1] == "default"


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/v1/orders"), ("post", "/v1/disputes")],
    ids=["orders", "disputes"],
)
def test_idempotent_creation_declares_its_conflict(
    spec: dict[str, Any], method: str, path: str
) -> None:
    operation = spec["paths"][path][method]
    assert "idempotency-key" in {p["name"].lower() for p in operation["parameters"]}
    assert "409" in operation["responses"]


def test_ownership_refusals_are_declared(spec: dict[str, Any]) -> None:
    # "no_label" answers 404, "not_your_order" 403 (orderseal/authorization.py).
    label = spec["paths"]["/v1/orders/{order_id}/label.png"]["get"]["responses"]
    assert "404" in label
    receipt = spec["paths"]["/v1/receipt-sessions"]["post"]["responses"]
    assert "403" in receipt


@pytest.mark.parametrize(("method", "path"), RAW_BODY, ids=[f"{m} {p}" for m, p in RAW_BODY])
def test_raw_uploads_state_their_body(spec: dict[str, Any], method: str, path: str) -> None:
    operation = spec["paths"][path][method]
    body = operation["requestBody"]
    assert body["required"] is True
    content = body["content"]
    assert next(iter(content)) == "application/octet-stream"
    assert {"image/jpeg", "image/png", "video/mp4"} <= content.keys()
    for media in content.values():
        assert media["schema"] == {"type": "string", "format": "binary"}
    assert {"408", "413", "422"} <= operation["responses"].keys()


def test_a_refused_multipart_form_is_declared(spec: dict[str, Any]) -> None:
    files = spec["paths"]["/v1/disputes/{dispute_id}/files"]["put"]["responses"]
    assert files["415"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }


#: Routes that answer a file, and the media types they state.
FILES = [
    ("/v1/evidence/{evidence_id}/file", {"image/jpeg", "video/mp4"}),
    ("/v1/receipt-sessions/{session_id}/evidence/{evidence_id}/file", {"image/jpeg"}),
    ("/v1/evidence/{evidence_id}/thumbnail.jpg", {"image/jpeg"}),
    ("/v1/orders/{order_id}/label.png", {"image/png"}),
    ("/v1/orders/{order_id}/label.pdf", {"application/pdf"}),
    ("/v1/trust/crl", {"application/pkix-crl", "application/x-pem-file"}),
    ("/v1/trust/anchors", {"application/x-pem-file"}),
]


@pytest.mark.parametrize(("path", "types"), FILES, ids=[p for p, _ in FILES])
def test_file_answers_state_their_media_types(
    spec: dict[str, Any], path: str, types: set[str]
) -> None:
    content = spec["paths"][path]["get"]["responses"]["200"]["content"]
    assert types <= content.keys()
    assert all(media["schema"]["type"] == "string" for media in content.values())


def test_every_api_success_states_its_body(spec: dict[str, Any]) -> None:
    # The API (``/v1``); the browser pages, their static files and /metrics are for people.
    for method, path, operation in _operations(spec):
        if not path.startswith("/v1/"):
            continue
        for status, response in operation["responses"].items():
            if status.startswith("2") and status != "204":
                assert response.get("content"), (method, path, status)


def test_only_raw_uploads_have_binary_bodies(spec: dict[str, Any]) -> None:
    binary = sorted(
        (method, path)
        for method, path, operation in _operations(spec)
        if any(
            media.get("schema", {}).get("format") == "binary"
            for media in operation.get("requestBody", {}).get("content", {}).values()
        )
    )
    assert binary == sorted(RAW_BODY)

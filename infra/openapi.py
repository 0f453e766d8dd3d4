"""The published OpenAPI contract: error bodies, credentials and raw uploads, stated once.

FastAPI generates the operations from the routes; :func:`install_openapi` rewrites the generated
schema once so a client generated from ``/openapi.json`` (and the schemathesis conformance run)
sees the truth:

- errors: every error is ``{"error": {"code", "message", ...}}`` (:class:`ErrorOut`, ``code``
  the enum of the error-code registry, docs/error-codes.md). Each operation declares the 4xx it
  can answer (401/403 when it needs a credential, 404 when its path names a resource, 409 when
  it takes an ``Idempotency-Key``, the statuses of its ownership refusals, 408/413/422 for a
  raw upload), 429 with ``Retry-After`` and a ``default``;
- credentials: ``components.securitySchemes`` names the three ways a caller is authenticated
  (an operator API key and a buyer token as ``Authorization: Bearer``, a station's signed
  request as four ``X-OrderSeal-*`` headers), and every operation carries the requirement of
  its role from the authorization table (OpenAPI 3.1 lists the API key's role as the
  requirement's "role name"); public operations carry an empty requirement;
- raw uploads: routes that stream their body (``infra.uploads.receive_body``) declare it with
  :func:`raw_body_openapi` as their ``openapi_extra``; routes that answer a file (evidence,
  labels, PEM and CRLs) declare its media types with :func:`file_responses`.

The composition root hands in the table (this layer imports nothing above it). ``orderseal
openapi`` prints the result; docs/openapi.json is that output, pinned by a test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from infra.auth import Role
from infra.error_codes import ERROR_CODES, error_code

__all__ = [
    "RAW_BODY_STATUSES",
    "ROLE_SECURITY",
    "SECURITY_SCHEMES",
    "ErrorBody",
    "ErrorOut",
    "file_responses",
    "install_openapi",
    "operation_id",
    "raw_body_openapi",
]


class ErrorBody(BaseModel):
    """A stable machine code, a message for people, and optional extra fields."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(
        description="A stable machine code from the registry (docs/error-codes.md).",
        json_schema_extra={"enum": [entry.code for entry in ERROR_CODES]},
    )
    message: str


class ErrorOut(BaseModel):
    """Every error response."""

    error: ErrorBody


#: How each credential is presented (``infra.auth``, ``capture.auth``).
SECURITY_SCHEMES: Mapping[str, Mapping[str, str]] = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "An operator API key (`orderseal keys api`) as `Authorization: Bearer <key>`. "
            "The requirement names the key's role: platform, agent, admin or merchant."
        ),
    },
    "buyerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "A buyer token issued by the platform (`POST /v1/buyer-tokens`) as "
            "`Authorization: Bearer <token>`."
        ),
    },
    "deviceId": {
        "type": "apiKey",
        "in": "header",
        "name": "X-OrderSeal-Device",
        "description": "A signed station request: the enrolled station's device id.",
    },
    "deviceTimestamp": {
        "type": "apiKey",
        "in": "header",
        "name": "X-OrderSeal-Timestamp",
        "description": "A signed station request: unix seconds, within 5 minutes of the server.",
    },
    "deviceNonce": {
        "type": "apiKey",
        "in": "header",
        "name": "X-OrderSeal-Nonce",
        "description": "A signed station request: a fresh nonce (at most 64 characters).",
    },
    "deviceSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-OrderSeal-Signature",
        "description": (
            "A signed station request: the device key's signature over method, path with "
            "query, timestamp, nonce and the body's SHA-256 (`X-OrderSeal-Content-SHA256` "
            "declares it for a streamed upload)."
        ),
    },
}

#: Role -> the operation's ``security`` (all schemes of one requirement apply together).
ROLE_SECURITY: Mapping[Role, list[dict[str, list[str]]]] = {
    Role.PUBLIC: [],
    Role.PLATFORM: [{"apiKey": [str(Role.PLATFORM)]}],
    Role.AGENT: [{"apiKey": [str(Role.AGENT)]}],
    Role.ADMIN: [{"apiKey": [str(Role.ADMIN)]}],
    Role.MERCHANT: [{"apiKey": [str(Role.MERCHANT)]}],
    Role.BUYER: [{"buyerToken": []}],
    Role.STATION: [
        {"deviceId": [], "deviceTimestamp": [], "deviceNonce": [], "deviceSignature": []}
    ],
}

#: What a streamed upload can answer besides the route's own errors.
RAW_BODY_STATUSES: tuple[int, ...] = (408, 413, 422)

_DESCRIPTIONS = {
    401: "Missing, malformed, forged, expired or replayed credentials",
    403: "Wrong role, or a resource of another owner",
    404: "No such resource (or another owner's)",
    408: "The body arrived too slowly",
    409: "Conflicts with the resource's state",
    413: "The body is larger than the limit",
    415: "A multipart form: send the file as the raw body",
    422: "Invalid request or file",
}

_PATH_PARAMETER = re.compile(r"\{[^}]+\}")


def raw_body_openapi(
    media_types: Iterable[str],
    *,
    description: str = "The file, as the raw body (streamed).",
    refuses_multipart: bool = False,
) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that streams its raw body.

    Args:
        media_types: the file types the route accepts; ``application/octet-stream`` is always
            accepted too (the type is sniffed from the bytes, never taken from the header).
        description: what the body is.
        refuses_multipart: the route refuses a form upload (``infra.uploads.refuse_multipart``,
            415 ``multipart_unsupported``): the 415 is declared.

    Returns:
        ``{"requestBody": ...}`` with every media type as a binary string (and the 415).
    """
    types = ["application/octet-stream", *sorted(set(media_types) - {"application/octet-stream"})]
    binary = {"schema": {"type": "string", "format": "binary"}}
    extra: dict[str, Any] = {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media_type: dict(binary) for media_type in types},
        }
    }
    if refuses_multipart:
        extra["responses"] = {"415": _error_response(_DESCRIPTIONS[415])}
    return extra


def file_responses(
    *media_types: str, description: str, text: bool = False
) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that answers a file instead of JSON.

    Args:
        media_types: the ``Content-Type``s it answers.
        description: what the file is.
        text: the file is text (PEM), not binary.

    Returns:
        ``{200: ...}`` with each media type as a (binary) string.
    """
    schema = {"type": "string"} if text else {"type": "string", "format": "binary"}
    content = {media_type: {"schema": dict(schema)} for media_type in media_types}
    return {200: {"description": description, "content": content}}


def operation_id(route: APIRoute) -> str:
    """The operation id of a route: its handler's name (``file_dispute``), unique in the app."""
    return route.name


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }


def _statuses(
    path: str, operation: Mapping[str, Any], role: Role | None, refusals: Iterable[str]
) -> set[int]:
    statuses = {422} if "422" in operation["responses"] else set()
    if role is not None and role is not Role.PUBLIC:
        statuses |= {401, 403}
    if _PATH_PARAMETER.search(path):
        statuses.add(404)
    if any(
        p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key"
        for p in operation.get("parameters", [])
    ):
        # idempotency_key_reused (another body) and idempotency_key_in_progress.
        statuses.add(409)
    body = operation.get("requestBody", {}).get("content", {})
    if any(schema.get("schema", {}).get("format") == "binary" for schema in body.values()):
        statuses.update(RAW_BODY_STATUSES)
    if "application/json" in body:
        # Every JSON body is read with a limit (``infra.json_body``): 413 past it.
        statuses.add(413)
    for code in refusals:
        status = error_code(code).http_status
        if status is not None:
            statuses.add(status)
    return statuses


def install_openapi(
    app: FastAPI,
    *,
    roles: Mapping[tuple[str, str], Role],
    refusals: Mapping[tuple[str, str], Iterable[str]] | None = None,
) -> None:
    """Make ``app.openapi()`` state errors, credentials and raw uploads (see the module doc).

    Args:
        app: the assembled app (routes may still be added: the schema is built on first use).
        roles: (METHOD, path template) -> the role the route demands (the authorization table).
        refusals: (METHOD, path template) -> error codes its ownership rules answer.
    """
    generate = app.openapi
    refused = refusals or {}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        definitions = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(definitions.pop("$defs", {}))
        schemas["ErrorOut"] = definitions
        components["securitySchemes"] = {name: dict(s) for name, s in SECURITY_SCHEMES.items()}
        for path, path_item in schema.get("paths", {}).items():
            for method, operation in path_item.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                key = (method.upper(), path)
                role = roles.get(key)
                if role is not None:
                    operation["security"] = [dict(r) for r in ROLE_SECURITY[role]]
                responses = operation["responses"]
                for status in _statuses(path, operation, role, refused.get(key, ())):
                    responses[str(status)] = _error_response(_DESCRIPTIONS.get(status, "Error"))
                responses["429"] = {
                    **_error_response("Rate limited (per credential)"),
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                }
                responses["default"] = _error_response("Error")
                # Statuses in order, ``default`` last: a stable, readable published file.
                operation["responses"] = dict(
                    sorted(responses.items(), key=lambda item: (item[0] == "default", item[0]))
                )
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

"""The OpenAPI schema states our error body: every operation documents ``ErrorOut`` for errors.

FastAPI documents a 422 shaped like its own ``HTTPValidationError``; our handlers answer every
error as ``{"error": {"code", "message", ...}}``. :func:`install_error_schema` rewrites the
generated schema once so clients (and the schemathesis conformance run) see the truth: the 422
and a ``default`` response carry :class:`ErrorOut`, and 429 documents ``Retry-After``. The
``code`` of the body is documented as the enum of the error-code registry (docs/error-codes.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from infra.error_codes import ERROR_CODES

__all__ = ["ErrorBody", "ErrorOut", "install_error_schema"]


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


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }


def install_error_schema(app: FastAPI) -> None:
    """Make ``app.openapi()`` document :class:`ErrorOut` for every error of every operation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        definitions = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definitions.pop("$defs", {}))
        components["ErrorOut"] = definitions
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                if "422" in responses:
                    responses["422"] = _error_response("Invalid request or file")
                responses["429"] = {
                    **_error_response("Rate limited (per credential)"),
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                }
                responses["default"] = _error_response("Error")
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

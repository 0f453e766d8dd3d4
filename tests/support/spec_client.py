"""A typed client generated at test time from an OpenAPI document alone, as a platform would.

It imports nothing of the server. From ``/openapi.json`` it builds a pydantic model per
component schema (an ``enum`` component becomes a ``StrEnum``; an object refuses keys the
schema does not list, so an undocumented field fails), and calls operations by
``operationId``: parameters go where the spec declares them, the credential is the one the
operation's ``security`` names, a body must use a media type its ``requestBody`` declares, and
the answer's status must be documented and its body is parsed into the documented model
(errors into ``ErrorOut``, raised as :class:`SpecAPIError`).

``tests/integration/test_openapi_python_client.py`` runs the real generator too
(openapi-python-client); this client is the strict one: it refuses undocumented fields,
parameters, statuses and media types, where the generator tolerates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Union
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, create_model

__all__ = ["SpecAPIError", "SpecClient", "SpecError", "models_from_spec"]


class SpecError(Exception):
    """The call or the answer is not what the spec documents."""


@dataclass
class SpecAPIError(Exception):
    """A documented error answer, parsed into the spec's error model."""

    status: int
    body: Any

    def __str__(self) -> str:
        return f"{self.status}: {self.body}"


_SCALARS: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": type(None),
}


class _Models:
    """Component schemas -> generated types, built on first use (``$ref``s resolve lazily)."""

    def __init__(self, components: Mapping[str, Any]) -> None:
        self.components = components
        self.built: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name not in self.built:
            self.built[name] = self._build(name, self.components[name])
        return self.built[name]

    def annotation(self, schema: Mapping[str, Any], where: str) -> Any:
        if "$ref" in schema:
            return self.get(schema["$ref"].rsplit("/", 1)[-1])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = tuple(self.annotation(o, where) for o in schema[key])
                return Union[options]  # noqa: UP007 - built from a runtime tuple
        if "enum" in schema:
            return Literal[tuple(schema["enum"])]
        if "const" in schema:
            return Literal[schema["const"]]
        kind = schema.get("type")
        if kind == "array":
            return list[self.annotation(schema.get("items", {}), f"{where}[]")]  # type: ignore[misc]
        if kind == "object":
            if "properties" in schema:
                return self._model(where, schema)
            extra = schema.get("additionalProperties")
            value = self.annotation(extra, where) if isinstance(extra, dict) and extra else Any
            return dict[str, value]  # type: ignore[valid-type]
        if kind in _SCALARS:
            return _SCALARS[kind]
        raise SpecError(f"{where}: the schema names no type ({dict(schema)})")

    def _build(self, name: str, schema: Mapping[str, Any]) -> Any:
        if "enum" in schema and "properties" not in schema:
            return StrEnum(name, {str(v).upper(): str(v) for v in schema["enum"]})
        if schema.get("type") == "object" or "properties" in schema:
            return self._model(name, schema)
        return self.annotation(schema, name)

    def _model(self, name: str, schema: Mapping[str, Any]) -> type[BaseModel]:
        required = set(schema.get("required", ()))
        fields: dict[str, Any] = {}
        for field, prop in schema.get("properties", {}).items():
            annotation = self.annotation(prop, f"{name}.{field}")
            if field in required:
                fields[field] = (annotation, ...)
            else:
                fields[field] = (Union[annotation, None], prop.get("default"))  # noqa: UP007
        extra: Literal["allow", "forbid"] = (
            "allow" if schema.get("additionalProperties") is True else "forbid"
        )
        model: type[BaseModel] = create_model(
            name, __config__=ConfigDict(extra=extra, frozen=True), **fields
        )
        return model


def models_from_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Every component schema of ``spec`` as a generated type (model, enum or annotation)."""
    models = _Models(spec.get("components", {}).get("schemas", {}))
    return {name: models.get(name) for name in models.components}


@dataclass(frozen=True)
class _Operation:
    method: str
    path: str
    spec: Mapping[str, Any]


class SpecClient:
    """Calls the operations of an OpenAPI document by ``operationId``.

    Args:
        spec: the OpenAPI document (``GET /openapi.json``).
        base_url: the server.
        credentials: security scheme name -> the secret it carries (``{"apiKey": key}``).
    """

    def __init__(
        self, spec: Mapping[str, Any], base_url: str, credentials: Mapping[str, str]
    ) -> None:
        self.spec = spec
        self._models = _Models(spec.get("components", {}).get("schemas", {}))
        #: Every component schema's generated type, by name (``client.models["Decision"]``).
        self.models = {name: self._models.get(name) for name in self._models.components}
        self.credentials = dict(credentials)
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.operations: dict[str, _Operation] = {}
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                identifier = operation["operationId"]
                if identifier in self.operations:
                    raise SpecError(f"operationId {identifier} is used twice")
                self.operations[identifier] = _Operation(method.upper(), path, operation)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()

    def _auth_headers(self, operation: _Operation) -> dict[str, str]:
        requirements = operation.spec.get("security")
        if requirements is None:
            raise SpecError(f"{operation.spec['operationId']}: no security requirement")
        if requirements == []:
            return {}
        schemes = self.spec["components"]["securitySchemes"]
        for requirement in requirements:
            if not all(name in self.credentials for name in requirement):
                continue
            headers: dict[str, str] = {}
            for name in requirement:
                scheme = schemes[name]
                if scheme["type"] == "http" and scheme["scheme"] == "bearer":
                    headers["Authorization"] = f"Bearer {self.credentials[name]}"
                elif scheme["type"] == "apiKey" and scheme["in"] == "header":
                    headers[scheme["name"]] = self.credentials[name]
                else:
                    raise SpecError(f"scheme {name}: {scheme['type']} is not supported here")
            return headers
        raise SpecError(f"{operation.spec['operationId']}: no credential for {requirements}")

    def _place(
        self, operation: _Operation, params: Mapping[str, Any]
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        declared = {p["name"].lower(): p for p in operation.spec.get("parameters", [])}
        path, query, headers = operation.path, {}, {}
        for name, value in params.items():
            parameter = declared.get(name.lower())
            if parameter is None:
                raise SpecError(f"{operation.spec['operationId']} declares no parameter {name}")
            if parameter["in"] == "path":
                path = path.replace("{" + parameter["name"] + "}", quote(str(value), safe=""))
            elif parameter["in"] == "query":
                query[parameter["name"]] = str(value)
            elif parameter["in"] == "header":
                headers[parameter["name"]] = str(value)
        given = {name.lower() for name in params}
        missing = [
            p["name"] for key, p in declared.items() if p.get("required") and key not in given
        ]
        if missing:
            raise SpecError(f"{operation.spec['operationId']}: missing {missing}")
        return path, query, headers

    def _parse(self, operation: _Operation, response: httpx.Response) -> Any:
        responses = operation.spec["responses"]
        documented = responses.get(str(response.status_code)) or responses.get("default")
        if documented is None:
            raise SpecError(f"{operation.spec['operationId']}: {response.status_code} undocumented")
        content = documented.get("content", {})
        if not content:
            return None
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if media_type not in content:
            raise SpecError(f"{operation.spec['operationId']}: {media_type} is not documented")
        schema = content[media_type].get("schema", {})
        if media_type != "application/json" or not schema:
            return response.content
        annotation = self._models.annotation(schema, operation.spec["operationId"])
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation.model_validate(response.json())
        return response.json()

    def call(
        self,
        operation_id: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        media_type: str | None = None,
    ) -> Any:
        """Call one operation and answer its documented, parsed success body.

        Raises:
            SpecError: the call or the answer is not what the spec documents.
            SpecAPIError: a documented error answer (its body parsed into the error model).
        """
        operation = self.operations[operation_id]
        path, query, headers = self._place(operation, params or {})
        headers.update(self._auth_headers(operation))
        body = operation.spec.get("requestBody", {}).get("content", {})
        request: dict[str, Any] = {}
        if json is not None:
            if "application/json" not in body:
                raise SpecError(f"{operation_id} takes no JSON body")
            request["json"] = json
        elif content is not None:
            declared = body.get(media_type or "", {}).get("schema", {})
            if declared.get("format") != "binary":
                raise SpecError(f"{operation_id} takes no {media_type} body")
            request["content"] = content
            headers["Content-Type"] = str(media_type)
        elif operation.spec.get("requestBody", {}).get("required"):
            raise SpecError(f"{operation_id} needs a body")
        response = self.http.request(
            operation.method, path, params=query, headers=headers, **request
        )
        parsed = self._parse(operation, response)
        if response.status_code >= 400:
            raise SpecAPIError(response.status_code, parsed)
        return parsed

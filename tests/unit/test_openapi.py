"""The API's edges are typed in OpenAPI: verdicts, disputes, evidence and errors have schemas.

Every property of those schemas, followed through ``$ref`` to the leaves, names a type, an enum
or another schema: no bare ``object`` and no ``{}`` (which say "anything").
"""

from __future__ import annotations

from typing import Any

import pytest

from evidence.manifest import Stage
from infra.error_codes import ERROR_CODES
from infra.settings import Settings
from orderseal.app import create_app
from orderseal.services import Services
from verifier.models import Decision
from verifier.reasons import ReasonCode
from verifier.schemas import CLAIM_TYPES, ClaimType

#: Response schemas of the refund gate and the capture edge that must be typed to the leaves.
TYPED = [
    "VerdictOut",
    "EvidenceVerdictOut",
    "CheckOut",
    "ReasonOut",
    "RuleTraceOut",
    "DisputeOut",
    "DisputeSummary",
    "DisputeListOut",
    "AttachOut",
    "AttachSealedOut",
    "EvidenceOut",
    "PublicVerifyOut",
    "ErrorOut",
    "ErrorBody",
]

#: Operation -> the schema its success response must reference.
RESPONSES = [
    ("post", "/v1/disputes", "201", "DisputeOut"),
    ("get", "/v1/disputes", "200", "DisputeListOut"),
    ("get", "/v1/disputes/{dispute_id}", "200", "DisputeOut"),
    ("post", "/v1/disputes/{dispute_id}/decide", "200", "DisputeOut"),
    ("get", "/v1/disputes/{dispute_id}/report.json", "200", "DisputeOut"),
    ("post", "/v1/disputes/{dispute_id}/sealed", "201", "AttachSealedOut"),
    ("put", "/v1/disputes/{dispute_id}/files", "201", "AttachOut"),
    ("put", "/v1/disputes/{dispute_id}/files", "202", "AttachPendingOut"),
    ("put", "/v1/shipment-sessions/{session_id}/evidence", "201", "EvidenceOut"),
    ("put", "/v1/receipt-sessions/{session_id}/evidence", "201", "EvidenceOut"),
]


@pytest.fixture(scope="module")
def schema(settings: Settings, services: Services) -> dict[str, Any]:
    openapi: dict[str, Any] = create_app(settings, services=services).openapi()
    return openapi


def _components(schema: dict[str, Any]) -> dict[str, Any]:
    components: dict[str, Any] = schema["components"]["schemas"]
    return components


def _untyped(node: Any, components: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """Where, under ``node``, a schema says "anything" (``{}`` or an ``object`` with no fields)."""
    if not isinstance(node, dict):
        return []
    if not node:
        return [where]
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _untyped(components[name], components, name, seen)
    found: list[str] = []
    if node.get("type") == "object" and not node.get("properties"):
        found.append(where)
    if not ({"type", "enum", "const", "anyOf", "oneOf", "allOf"} & node.keys()):
        found.append(where)
    for key in ("anyOf", "oneOf", "allOf"):
        for i, option in enumerate(node.get(key, [])):
            found += _untyped(option, components, f"{where}.{key}[{i}]", seen)
    for name, prop in node.get("properties", {}).items():
        found += _untyped(prop, components, f"{where}.{name}", seen)
    if "items" in node:
        found += _untyped(node["items"], components, f"{where}[]", seen)
    return found


@pytest.mark.parametrize("name", TYPED, ids=TYPED)
def test_schema_is_typed_to_the_leaves(schema: dict[str, Any], name: str) -> None:
    components = _components(schema)
    assert name in components
    assert _untyped({"$ref": f"#/components/schemas/{name}"}, components, name, set()) == []


@pytest.mark.parametrize(
    ("method", "path", "status", "model"), RESPONSES, ids=[f"{m} {p}" for m, p, _, _ in RESPONSES]
)
def test_operation_answers_its_typed_schema(
    schema: dict[str, Any], method: str, path: str, status: str, model: str
) -> None:
    content = schema["paths"][path][method]["responses"][status]["content"]["application/json"]
    assert content["schema"] == {"$ref": f"#/components/schemas/{model}"}


def test_verdict_fields_are_the_ledger_verdict(schema: dict[str, Any]) -> None:
    verdict = _components(schema)["VerdictOut"]
    assert list(verdict["properties"]) == [
        "decision",
        "reasons",
        "evidence",
        "decided_at",
        "policy_trace",
        "policy_decision",
        "dry_run",
    ]
    assert set(verdict["required"]) == set(verdict["properties"])


def test_codes_and_decisions_are_enums(schema: dict[str, Any]) -> None:
    components = _components(schema)
    assert components["ReasonCode"]["enum"] == [code.value for code in ReasonCode]
    assert components["Decision"]["enum"] == [decision.value for decision in Decision]
    reason_code = {"$ref": "#/components/schemas/ReasonCode"}
    assert components["ReasonOut"]["properties"]["code"] == reason_code
    # A check has a code only when it failed: the key is optional.
    check = components["CheckOut"]
    assert check["properties"]["code"] == reason_code
    assert "code" not in check["required"]
    stage = {"$ref": "#/components/schemas/Stage"}
    assert components["EvidenceVerdictOut"]["properties"]["stage"]["anyOf"][0] == stage
    for name in ("EvidenceOut", "SessionOut", "OrderEvidenceOut"):
        assert components[name]["properties"]["stage"] == stage, name
    assert components["Stage"]["enum"] == [s.value for s in Stage]
    claim_type = {"$ref": "#/components/schemas/ClaimType"}
    for name in ("DisputeOut", "DisputeSummary"):
        assert components[name]["properties"]["claim_type"] == claim_type, name
    assert components["ClaimType"]["enum"] == [c.value for c in ClaimType]
    assert sorted(components["DisputeIn"]["properties"]["claim_type"]["enum"]) == sorted(
        CLAIM_TYPES
    )


def test_error_codes_are_the_registry(schema: dict[str, Any]) -> None:
    code = _components(schema)["ErrorBody"]["properties"]["code"]
    assert code["type"] == "string"
    assert code["enum"] == [entry.code for entry in ERROR_CODES]


def test_every_error_response_is_the_error_body(schema: dict[str, Any]) -> None:
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status == "default" or status.startswith(("4", "5")):
                    body = response["content"]["application/json"]["schema"]
                    assert body == error, (method, path, status)

"""The authorization matrix: every route of ``create_app()`` x every kind of caller.

The table is ``orderseal.authorization.TABLE`` (``create_app`` already refuses to start when a
route has no entry or demands another role than its entry). From it this test generates, for
every route, the attempts of every wrong role (each other role's valid credential, none, an
expired station signature and buyer token) and asserts the exact status and error code of each
refusal; the right role is not refused and public routes refuse nobody. Where the entry names
an ownership rule, it makes the cross-owner attempt (another station's session, another buyer's
order, session, device or app) and asserts the refusal the rule names, with the status the error
registry gives that code.

Merchants (issue 17) are tenants below the platform: the ``merchant`` caller holds the
``default`` merchant's key (the matrix's orders are the default merchant's), and the cross-owner
attempts use another merchant's key (``other-merchant``) and a station of another merchant
(``other-merchant-station``), each of which must be answered like a missing object.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from capture.tokens import issue_buyer_token
from clients.client import DeviceKey, PlatformClient, StationClient
from infra.auth import Role
from infra.error_codes import error_code
from infra.settings import Settings
from orderseal.app import create_app
from orderseal.authorization import (
    BUYER_APP,
    BUYER_DEVICE,
    BUYER_ORDER,
    BUYER_ORDER_QR,
    BUYER_REVIEW_ORDER,
    BUYER_SESSION,
    MERCHANT_DISPUTE,
    MERCHANT_EVIDENCE,
    MERCHANT_ORDER,
    PLATFORM_ENDPOINT,
    PLATFORM_REPORT_LINK,
    STATION_ASSIGNMENT,
    STATION_LABEL,
    STATION_LOCAL_SESSION,
    STATION_ORDER,
    STATION_PROVISIONAL,
    STATION_SESSION,
    TABLE,
    Ownership,
    RouteRule,
    verify_authorization,
)
from orderseal.services import Services
from tests.support import flows
from wire.provisional import ProvisionalLabel, issue_provisional_token

#: PUT bodies: a tiny file, with the upload headers a well-formed capture request carries, so an
#: upload by another owner is refused for the session, not for a missing header.
_PUT_BODY = b"\xff\xd8\xff\xd9"


def _body(method: str) -> bytes:
    return _PUT_BODY if method == "PUT" else b""


def _upload_headers(method: str) -> dict[str, str]:
    if method != "PUT":
        return {}
    return {
        "X-OrderSeal-Content-SHA256": hashlib.sha256(_PUT_BODY).hexdigest(),
        "X-OrderSeal-Statement": "e30",
        "X-OrderSeal-Statement-Signature": "x",
    }


ROLES = ("station", "buyer", "platform", "agent", "admin", "merchant")
CALLERS = (*ROLES, "none", "expired-station", "expired-buyer")
_API_KEY_ROLES = {Role.PLATFORM, Role.AGENT, Role.ADMIN, Role.MERCHANT}


def app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) for every route, HEAD excluded (it mirrors GET)."""
    for context in iter_route_contexts(app.routes):
        path = context.path_format or context.path
        for method in sorted((context.methods or set()) - {"HEAD"}):
            yield method, str(path)


def _rules(app: FastAPI) -> list[RouteRule]:
    return [TABLE[key] for key in app_routes(app)]


def _credential_role(caller: str) -> Role | None:
    """The role whose credential the caller carries (expired ones included)."""
    return None if caller == "none" else Role(caller.removeprefix("expired-"))


def expected_refusal(caller: str, role: Role) -> str:
    """The error code a caller of the wrong kind gets from a route demanding ``role``.

    API-key routes read ``Authorization: Bearer``: a station sends none, a buyer token is no
    API key, another role's key is the wrong role. Station routes need the signed headers,
    which no other caller sends. Buyer routes read a bearer buyer token: an API key is not one.
    """
    carried = _credential_role(caller)
    if caller.startswith("expired-") and carried == role:
        return "credentials_expired"
    if role in _API_KEY_ROLES:
        if carried in _API_KEY_ROLES:
            return "wrong_role"
        return "credentials_invalid" if carried == Role.BUYER else "credentials_missing"
    if role == Role.BUYER and carried in _API_KEY_ROLES:
        return "credentials_malformed"
    return "credentials_missing"


@pytest.fixture(scope="module")
def app(settings: Settings, services: Services) -> FastAPI:
    return create_app(settings, services=services)


def test_the_app_is_the_table(app: FastAPI) -> None:
    # create_app ran the same check; here it is spelt out for the reader of a failure.
    verify_authorization(iter_route_contexts(app.routes))
    routes = set(app_routes(app))
    assert {key for key, rule in TABLE.items() if not rule.optional} <= routes
    assert routes <= set(TABLE)


# Calling every route with every caller -------------------------------------------------------
@dataclass
class Matrix:
    base_url: str
    credentials: dict[str, str]
    services: Services
    a: flows.Actors
    b: flows.Actors
    ids: dict[str, str]
    receipt_session: str
    station_session: str
    label_token: str
    other_merchant_station: StationClient


@pytest.fixture(scope="module")
def matrix(
    live_api: str,
    credentials: dict[str, str],
    services: Services,
    tmp_path_factory: pytest.TempPathFactory,
) -> Matrix:
    work = tmp_path_factory.mktemp("matrix")
    a = flows.actors(live_api, credentials)
    b = flows.actors(live_api, credentials)
    order_id = flows.register_order(a)
    shipped = flows.ship(a, order_id, work)
    buyer = a.buyer()
    receipt = buyer.open_receipt(shipped.label_token)
    evidence = shipped.evidence[0]["evidence_id"]
    dispute = a.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": a.buyer_id,
            "claim_type": "damaged",
            "amount": "1.00",
            "currency": "USD",
        },
    )
    flows.reopen(a, order_id)  # packed: a new packing session needs the platform's reopen
    station_session = a.station.open_session(order_id)
    # A webhook endpoint of the platform key's subject, and a platform key of another subject.
    now = services.clock()
    owner = services.ledger.api_keys.find(credentials["platform"])
    assert owner is not None
    endpoint = services.webhooks.create(
        owner=owner.subject,
        url="https://93.184.215.14/hook",
        events=None,
        now=now,
    )
    other_platform = services.ledger.api_keys.issue(
        role="platform", subject="other-platform", now=now
    )
    # Another merchant, with its own admin key and packing station.
    other_merchant = f"other-merchant-{secrets.token_hex(3)}"
    services.ledger.merchants.add(other_merchant, name="Another seller", now=now)
    merchant_key = services.ledger.api_keys.issue(
        role="merchant", subject="other-merchant-admin", merchant_id=other_merchant, now=now
    )
    station_key = DeviceKey.generate(f"station-{other_merchant}")
    PlatformClient(live_api, credentials["admin"]).enrol_device(
        station_key, kind="station", merchant_id=other_merchant
    )
    credentials = {
        **credentials,
        "other-platform": other_platform.secret,
        "other-merchant": merchant_key.secret,
    }
    ids = {
        "endpoint_id": endpoint.endpoint_id,
        "delivery_id": "dlv_missing",
        "order_id": order_id,
        "evidence_id": evidence,
        "dispute_id": dispute["dispute_id"],
        "device_id": a.buyer_device.device_id,
        "name": "missing.js",
        "content_sha256": "0" * 64,
        "link_id": _report_link(live_api, credentials["platform"], dispute["dispute_id"]),
        # A well-formed token that opens nothing: the public page answers 404 to everyone.
        "token": "A" * 43,
        # No station synced it: the role sweep's station gets 404 (the attack makes a real one).
        "local_session_id": "ls_missing",
    }
    return Matrix(
        live_api,
        credentials,
        services,
        a,
        b,
        ids,
        receipt["session_id"],
        station_session["session_id"],
        shipped.label_token,
        StationClient(live_api, station_key),
    )


def _report_link(base_url: str, platform_key: str, dispute_id: str) -> str:
    """A report link created by the platform key's subject; its id."""
    answer = httpx.post(
        f"{base_url}/v1/disputes/{dispute_id}/report-links",
        headers={"Authorization": f"Bearer {platform_key}"},
        json={},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    link_id: str = answer.json()["link_id"]
    return link_id


def _path(matrix: Matrix, template: str) -> str:
    values = dict(matrix.ids)
    values["session_id"] = (
        matrix.station_session if template.startswith("/v1/shipment") else matrix.receipt_session
    )
    return template.format(**values)


def _station_headers(
    station: StationClient, method: str, path: str, *, age: int = 0
) -> dict[str, str]:
    empty = hashlib.sha256(_body(method)).hexdigest()
    headers = station.signed_headers(method, path, empty)
    if age:
        from keys.attestation import request_signing_payload, sign_bytes

        timestamp = str(int(time.time()) - age)
        payload = request_signing_payload(
            method, path, timestamp, headers["X-OrderSeal-Nonce"], empty
        )
        headers["X-OrderSeal-Timestamp"] = timestamp
        headers["X-OrderSeal-Signature"] = sign_bytes(station.device.private_key, payload)
    return headers


def _buyer_token(matrix: Matrix, actors: flows.Actors, *, expired: bool = False) -> str:
    now = matrix.services.clock()
    if expired:
        return issue_buyer_token(
            matrix.services.token_secret,
            buyer_id=actors.buyer_id,
            now=now - timedelta(hours=2),
            ttl=timedelta(minutes=5),
        )
    token: str = flows.buyer_token_response(actors.platform, actors.buyer_id)["token"]
    return token


def _headers(matrix: Matrix, caller: str, method: str, path: str) -> dict[str, str]:
    if caller in ("platform", "agent", "admin", "merchant", "other-merchant"):
        return {"Authorization": f"Bearer {matrix.credentials[caller]}"}
    if caller == "station":
        return _station_headers(matrix.a.station, method, path)
    if caller == "other-platform":
        return {"Authorization": f"Bearer {matrix.credentials[caller]}"}
    if caller == "other-station":
        return _station_headers(matrix.b.station, method, path)
    if caller == "other-merchant-station":
        return _station_headers(matrix.other_merchant_station, method, path)
    if caller == "expired-station":
        return _station_headers(matrix.a.station, method, path, age=3600)
    if caller == "buyer":
        return {
            "Authorization": f"Bearer {_buyer_token(matrix, matrix.a)}",
            "X-OrderSeal-Device": matrix.a.buyer_device.device_id,
        }
    if caller == "other-buyer":
        return {
            "Authorization": f"Bearer {_buyer_token(matrix, matrix.b)}",
            "X-OrderSeal-Device": matrix.b.buyer_device.device_id,
        }
    if caller == "expired-buyer":
        return {"Authorization": f"Bearer {_buyer_token(matrix, matrix.a, expired=True)}"}
    return {}


def _call(
    matrix: Matrix,
    method: str,
    template: str,
    headers: dict[str, str],
    *,
    json: dict[str, str] | None = None,
) -> httpx.Response:
    path = _path(matrix, template)
    if json is not None:
        return httpx.request(method, matrix.base_url + path, headers=headers, json=json, timeout=60)
    headers = {**_upload_headers(method), **headers}
    return httpx.request(
        method, matrix.base_url + path, headers=headers, content=_body(method), timeout=60
    )


def _code(response: httpx.Response) -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(code)


@pytest.mark.parametrize("caller", CALLERS)
def test_every_route_refuses_every_wrong_role_with_its_code(
    matrix: Matrix, app: FastAPI, caller: str
) -> None:
    problems: list[str] = []
    for rule in _rules(app):
        path = _path(matrix, rule.path)
        response = _call(
            matrix, rule.method, rule.path, _headers(matrix, caller, rule.method, path)
        )
        status, code = response.status_code, _code(response)
        label = f"{caller} {rule.method} {rule.path} -> {status} {response.text[:120]}"
        if status >= 500:
            problems.append(f"server error: {label}")
        elif rule.role == Role.PUBLIC or (
            _credential_role(caller) == rule.role and not caller.startswith("expired-")
        ):
            if status in (401, 403):
                problems.append(f"allowed caller refused: {label}")
        else:
            expected = expected_refusal(caller, rule.role)
            if (status, code) != (error_code(expected).http_status, expected):
                problems.append(f"expected {expected}: {label}")
    assert not problems, "\n".join(problems)


# Another owner's resource -------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    """A cross-owner request: whose credential, which device header, which body."""

    caller: str
    device: str | None = None
    json: dict[str, str] | None = None


def _other_station(matrix: Matrix) -> Attempt:
    return Attempt("other-station")


def _other_buyer(matrix: Matrix) -> Attempt:
    return Attempt("other-buyer")


def _other_platform(matrix: Matrix) -> Attempt:
    # The role sweep's platform caller may have deleted the fixture's endpoint: attack a live
    # one, registered by the first platform key, so a 404 means refused, not already gone.
    owner = matrix.services.ledger.api_keys.find(matrix.credentials["platform"])
    assert owner is not None
    endpoint = matrix.services.webhooks.create(
        owner=owner.subject,
        url="https://93.184.215.14/hook",
        events=None,
        now=matrix.services.clock(),
    )
    matrix.ids["endpoint_id"] = endpoint.endpoint_id
    return Attempt("other-platform")


def _other_platform_link(matrix: Matrix) -> Attempt:
    # As for endpoints: a live link of the first platform key, so a 404 means refused.
    matrix.ids["link_id"] = _report_link(
        matrix.base_url, matrix.credentials["platform"], matrix.ids["dispute_id"]
    )
    return Attempt("other-platform")


def _provisional_body(station: StationClient, order_id: str) -> dict[str, str]:
    """A sync body: ``station``'s own provisional label for the order, and its own list
    (fetched first: the label is closed while the list is valid)."""
    assignment = station.assignments()["token"]
    label = ProvisionalLabel(
        order_id=order_id,
        device_id=station.device.device_id,
        local_session_id=f"ls_{secrets.token_urlsafe(9)}",
        station_time=datetime.now(UTC),
        nonce=secrets.token_urlsafe(6),
    )
    return {
        "provisional_token": issue_provisional_token(station.device.private_key, label),
        "assignment_token": assignment,
        "station_clock": datetime.now(UTC).isoformat(),
    }


def _other_station_on_synced_session(matrix: Matrix) -> Attempt:
    # The first station syncs a session made offline; another station closes it.
    order_id = flows.register_order(matrix.a)
    body = _provisional_body(matrix.a.station, order_id)
    synced = matrix.a.station.sync_provisional(**body)
    matrix.ids["local_session_id"] = synced["local_session_id"]
    return Attempt("other-station")


#: How each ownership rule of the table is attacked. A rule without an attack fails the test.
ATTACKS: dict[Ownership, Callable[[Matrix], Attempt]] = {
    # Another station, on the first station's open session and packed order.
    STATION_SESSION: _other_station,
    STATION_LABEL: _other_station,
    # Another buyer, on the first buyer's receipt session and device.
    BUYER_SESSION: _other_buyer,
    BUYER_DEVICE: _other_buyer,
    # Another buyer scanning the first buyer's parcel label.
    BUYER_ORDER: lambda m: Attempt("other-buyer", json={"token": m.label_token}),
    BUYER_ORDER_QR: lambda m: Attempt("other-buyer", json={"payload": m.label_token}),
    # Another buyer opening a review session on the first buyer's order.
    BUYER_REVIEW_ORDER: lambda m: Attempt("other-buyer", json={"order_id": m.ids["order_id"]}),
    # The session's own buyer, capturing with an app enrolled to another buyer.
    BUYER_APP: lambda m: Attempt("buyer", device=m.b.buyer_device.device_id),
    # A platform key of another subject, on the first one's webhook endpoint.
    PLATFORM_ENDPOINT: _other_platform,
    # A station of another merchant naming the first merchant's order.
    STATION_ORDER: lambda m: Attempt(
        "other-merchant-station", json={"order_id": m.ids["order_id"]}
    ),
    # Offline packing: a station of another merchant reads its own list (answered, without the
    # first merchant's orders), and syncs its own provisional label for the first merchant's
    # order; another station closes the first one's synced session.
    STATION_ASSIGNMENT: lambda m: Attempt("other-merchant-station"),
    STATION_PROVISIONAL: lambda m: Attempt(
        "other-merchant-station",
        json=_provisional_body(m.other_merchant_station, m.ids["order_id"]),
    ),
    STATION_LOCAL_SESSION: _other_station_on_synced_session,
    # Another merchant's key on the default merchant's dispute, evidence and order (with the
    # bodies the POST routes need, so the refusal is for the owner, not a missing field).
    MERCHANT_DISPUTE: lambda m: Attempt("other-merchant", json={"statement": "not mine"}),
    MERCHANT_EVIDENCE: lambda m: Attempt("other-merchant"),
    MERCHANT_ORDER: lambda m: Attempt("other-merchant", json={"reason": "not mine"}),
    # A platform key of another subject, revoking the first one's report link.
    PLATFORM_REPORT_LINK: _other_platform_link,
}

OWNED = [
    pytest.param(rule, ownership, id=f"{rule.method} {rule.path} [{ownership}]")
    for rule in TABLE.values()
    for ownership in rule.ownership
]


def test_every_ownership_rule_has_an_attack() -> None:
    used = {ownership for rule in TABLE.values() for ownership in rule.ownership}
    assert used <= set(ATTACKS), used - set(ATTACKS)


@pytest.mark.parametrize(("rule", "ownership"), OWNED)
def test_another_owner_gets_the_refusal_the_table_names(
    matrix: Matrix, rule: RouteRule, ownership: Ownership
) -> None:
    attempt = ATTACKS[ownership](matrix)
    path = _path(matrix, rule.path)
    headers = _headers(matrix, attempt.caller, rule.method, path)
    if attempt.device is not None:
        headers["X-OrderSeal-Device"] = attempt.device
    if attempt.caller == "other-merchant-station" and attempt.json is not None:
        # A station signs its body's hash: sign the JSON it sends.
        content = jsonlib.dumps(attempt.json).encode()
        headers = matrix.other_merchant_station.signed_headers(
            rule.method, path, hashlib.sha256(content).hexdigest()
        )
        headers["Content-Type"] = "application/json"
        response = httpx.request(
            rule.method, matrix.base_url + path, headers=headers, content=content, timeout=60
        )
    else:
        response = _call(matrix, rule.method, rule.path, headers, json=attempt.json)
    label = f"{attempt.caller} {rule.method} {rule.path} -> {response.status_code} {response.text}"
    if ownership.refusal is None:
        # Answered, and nothing about the other owner's order is said.
        assert response.status_code == 200, label
        if ownership == STATION_ASSIGNMENT:
            # Its own merchant's list: the first merchant's orders are not on it.
            assert matrix.ids["order_id"] not in response.json()["order_ids"], label
        else:
            assert response.json()["official"] is False, label
            assert response.json()["order_id"] is None, label
    else:
        expected = (error_code(ownership.refusal).http_status, ownership.refusal)
        assert (response.status_code, _code(response)) == expected, label

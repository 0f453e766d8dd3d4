"""Roles and authentication: API keys (platform, agent, admin), buyer tokens, signed station
requests. Every route declares exactly one role through the ``Annotated`` aliases below.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from capture.errors import TokenError
from capture.tokens import verify_buyer_token
from infra.errors import OrderSealError
from keys.attestation import request_signing_payload, verify_signature
from keys.errors import CertificateError

__all__ = [
    "AdminPrincipal",
    "AgentPrincipal",
    "AuthError",
    "BuyerPrincipal",
    "PlatformPrincipal",
    "Principal",
    "PublicCaller",
    "Role",
    "StationPrincipal",
    "require_role",
    "streams_body",
]

REQUEST_SKEW = timedelta(minutes=5)
NONCE_WINDOW = 2 * REQUEST_SKEW
CONTENT_SHA256_HEADER = "x-orderseal-content-sha256"
_STREAMED = "_orderseal_streams_body"
_F = TypeVar("_F", bound=Callable[..., object])


class Role(StrEnum):
    """Who may call a route."""

    STATION = "station"
    BUYER = "buyer"
    PLATFORM = "platform"
    AGENT = "agent"
    ADMIN = "admin"
    PUBLIC = "public"


class AuthError(OrderSealError):
    """Missing, malformed, forged, expired or replayed credentials (401) or wrong role (403)."""

    code = "unauthenticated"
    http_status = 401


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its role and who it is (device, buyer or key owner)."""

    role: Role
    subject: str


def streams_body(endpoint: _F) -> _F:
    """Mark a station route that streams its body and checks the declared hash itself.

    Every other station route has its body hashed by the signature check.
    """
    setattr(endpoint, _STREAMED, True)
    return endpoint


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError("expected an Authorization: Bearer credential", code="credentials_missing")
    return value.strip()


async def _station(request: Request) -> Principal:
    services = request.app.state.services
    device_id = request.headers.get("x-orderseal-device", "")
    timestamp = request.headers.get("x-orderseal-timestamp", "")
    nonce = request.headers.get("x-orderseal-nonce", "")
    signature = request.headers.get("x-orderseal-signature", "")
    if not (device_id and timestamp and nonce and signature):
        raise AuthError("expected a signed station request", code="credentials_missing")
    now = services.clock()
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise AuthError("expected a unix timestamp", code="credentials_malformed") from exc
    if abs(now - sent_at) > REQUEST_SKEW:
        raise AuthError("the request signature has expired", code="credentials_expired")
    declared = request.headers.get(CONTENT_SHA256_HEADER)
    if declared is None or not getattr(request.scope.get("endpoint"), _STREAMED, False):
        # Every body this dependency can see is hashed here: a declared hash that the body
        # does not match is a swapped body (issue 14.8). Streamed uploads hash while they
        # receive and compare there, before anything is stored.
        received = hashlib.sha256(await request.body()).hexdigest()
        if declared is not None and declared.lower() != received:
            raise AuthError("the request signature does not verify", code="credentials_forged")
        declared = received
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    identity = services.capture.device_identity(device_id, now=now)
    if identity.kind != Role.STATION:
        raise AuthError("expected a packing station", code="wrong_role", http_status=403)
    payload = request_signing_payload(request.method, path, timestamp, nonce, declared)
    try:
        verify_signature(identity.certificate, payload, signature)
    except CertificateError as exc:
        raise AuthError("the request signature does not verify", code="credentials_forged") from exc
    # A signature is accepted within REQUEST_SKEW either side of its timestamp, so its nonce
    # can be replayed until 2 x REQUEST_SKEW after it was first seen; not after.
    if len(nonce) > 64 or not services.ledger.use_nonce(
        nonce, device_id, now, keep_for=NONCE_WINDOW
    ):
        raise AuthError("this request was already received", code="credentials_replayed")
    request.state.device = identity
    return Principal(Role.STATION, device_id)


async def _buyer(request: Request) -> Principal:
    services = request.app.state.services
    try:
        token = verify_buyer_token(_bearer(request), services.token_secret, now=services.clock())
    except TokenError as exc:
        raise AuthError(exc.message, code=f"credentials_{exc.code.removeprefix('token_')}") from exc
    return Principal(Role.BUYER, token.buyer_id)


def _api_key(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        key = _bearer(request)
        row = request.app.state.services.ledger.find_api_key(key)
        if row is None:
            raise AuthError("expected a valid API key", code="credentials_invalid")
        if row.role != role:
            raise AuthError(f"this route needs the {role} role", code="wrong_role", http_status=403)
        return Principal(role, row.subject)

    return dependency


def require_role(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """The dependency that authenticates ``role``."""
    if role == Role.STATION:
        return _station
    if role == Role.BUYER:
        return _buyer
    return _api_key(role)


StationPrincipal = Annotated[Principal, Depends(require_role(Role.STATION))]
BuyerPrincipal = Annotated[Principal, Depends(require_role(Role.BUYER))]
PlatformPrincipal = Annotated[Principal, Depends(require_role(Role.PLATFORM))]
AgentPrincipal = Annotated[Principal, Depends(require_role(Role.AGENT))]
AdminPrincipal = Annotated[Principal, Depends(require_role(Role.ADMIN))]


async def _public(request: Request) -> Principal:
    # Explicitly anonymous: the route serves only what anyone may see.
    return Principal(Role.PUBLIC, "anonymous")


PublicCaller = Annotated[Principal, Depends(_public)]

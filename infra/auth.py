"""Roles and authentication: API keys (platform, agent, admin, merchant), buyer tokens, signed
station requests. Every route declares exactly one role through the ``Annotated`` aliases below.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from infra.errors import OrderSealError
from infra.ledger.api_keys import APIKeys

__all__ = [
    "CREDENTIAL_CHECKS",
    "STREAMS_BODY",
    "AdminPrincipal",
    "AgentPrincipal",
    "AuthError",
    "BuyerPrincipal",
    "MerchantPrincipal",
    "PlatformPrincipal",
    "Principal",
    "PublicCaller",
    "Role",
    "StationPrincipal",
    "bearer_credential",
    "require_role",
    "streams_body",
]

_F = TypeVar("_F", bound=Callable[..., object])
_log = logging.getLogger("orderseal.auth")
#: Marks a station route that hashes its streamed body itself (read by ``capture.auth``).
STREAMS_BODY = "_orderseal_streams_body"
#: Where the composition root installs the device credential checks: role -> dependency.
CREDENTIAL_CHECKS = "credential_checks"


class Role(StrEnum):
    """Who may call a route."""

    STATION = "station"
    BUYER = "buyer"
    PLATFORM = "platform"
    AGENT = "agent"
    ADMIN = "admin"
    #: A seller's admin: its own API key, scoped to one merchant (``Principal.merchant_id``).
    MERCHANT = "merchant"
    PUBLIC = "public"


class AuthError(OrderSealError):
    """Missing, malformed, forged, expired or replayed credentials (401) or wrong role (403)."""

    code = "unauthenticated"
    http_status = 401


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its role and who it is (device, buyer or key owner).

    ``merchant_id`` is the merchant a ``merchant`` key acts for (None for every other role).
    """

    role: Role
    subject: str
    merchant_id: str | None = None


def streams_body(endpoint: _F) -> _F:
    """Mark a station route that streams its body and checks the declared hash itself.

    Every other station route has its body hashed by the signature check.
    """
    setattr(endpoint, STREAMS_BODY, True)
    return endpoint


def bearer_credential(request: Request) -> str:
    """The value of ``Authorization: Bearer ...``.

    Raises:
        AuthError: ``credentials_missing``.
    """
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError("expected an Authorization: Bearer credential", code="credentials_missing")
    return value.strip()


def _api_key(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        key = bearer_credential(request)
        services = request.app.state.services
        now = services.clock()
        api_keys: APIKeys = services.ledger.api_keys
        info = api_keys.find(key)
        if info is not None:
            # The public id only, for the access log line: never the secret or its hash.
            request.state.api_key_id = info.key_id
        if info is None or not info.usable(now):
            # Unknown, revoked and rotated-out or expired keys get the same answer; only the
            # server log says which known key was refused and why.
            if info is not None:
                _log.warning(
                    "refused API key %s (%s)",
                    info.key_id,
                    info.state(now),
                    extra={"fields": {"key_id": info.key_id, "key_state": info.state(now)}},
                )
            raise AuthError("expected a valid API key", code="credentials_invalid")
        if info.role != role:
            raise AuthError(f"this route needs the {role} role", code="wrong_role", http_status=403)
        api_keys.mark_used(info, now=now)
        return Principal(role, info.subject, merchant_id=info.merchant_id)

    return dependency


def _device(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        # Stations sign requests and buyers carry tokens: capture owns both checks, and the
        # composition root installs them here, so this layer imports nothing above it.
        checks = getattr(request.app.state, CREDENTIAL_CHECKS, {})
        check = checks.get(role)
        if check is None:
            raise AuthError(f"no credential check installed for {role}", code="credentials_invalid")
        principal: Principal = await check(request)
        return principal

    return dependency


def require_role(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """The dependency that authenticates ``role``."""
    if role in (Role.STATION, Role.BUYER):
        return _device(role)
    return _api_key(role)


StationPrincipal = Annotated[Principal, Depends(require_role(Role.STATION))]
BuyerPrincipal = Annotated[Principal, Depends(require_role(Role.BUYER))]
PlatformPrincipal = Annotated[Principal, Depends(require_role(Role.PLATFORM))]
AgentPrincipal = Annotated[Principal, Depends(require_role(Role.AGENT))]
AdminPrincipal = Annotated[Principal, Depends(require_role(Role.ADMIN))]
MerchantPrincipal = Annotated[Principal, Depends(require_role(Role.MERCHANT))]


async def _public(request: Request) -> Principal:
    # Explicitly anonymous: the route serves only what anyone may see.
    return Principal(Role.PUBLIC, "anonymous")


PublicCaller = Annotated[Principal, Depends(_public)]

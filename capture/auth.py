"""Device credentials: signed station requests and buyer bearer tokens (capture owns both).

``orderseal.app`` installs :data:`CREDENTIAL_CHECKS` into ``app.state`` so that the role
dependencies in ``infra.auth`` (``StationPrincipal``, ``BuyerPrincipal``) call them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from fastapi import Request

from capture.devices import decoy_certificate_pem
from capture.errors import TokenError
from capture.tokens import verify_buyer_token
from infra.auth import STREAMS_BODY, AuthError, Principal, Role, bearer_credential
from keys.attestation import request_signing_payload, verify_signature
from keys.errors import CertificateError

__all__ = [
    "CONTENT_SHA256_HEADER",
    "CREDENTIAL_CHECKS",
    "NONCE_WINDOW",
    "REQUEST_SKEW",
    "buyer_credentials",
    "station_credentials",
]

REQUEST_SKEW = timedelta(minutes=5)
NONCE_WINDOW = 2 * REQUEST_SKEW
CONTENT_SHA256_HEADER = "x-orderseal-content-sha256"


async def station_credentials(request: Request) -> Principal:
    """Authenticate a signed station request (method, path, time, nonce, body hash)."""
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
    if declared is None or not getattr(request.scope.get("endpoint"), STREAMS_BODY, False):
        # Every body this dependency can see is hashed here: a declared hash that the body
        # does not match is a swapped body (issue 14.8). Streamed uploads hash while they
        # receive and compare there, before anything is stored.
        received = hashlib.sha256(await request.body()).hexdigest()
        if declared is not None and declared.lower() != received:
            raise AuthError("the request signature does not verify", code="credentials_forged")
        declared = received
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    payload = request_signing_payload(request.method, path, timestamp, nonce, declared)
    # The signature is checked before anything about the device is said: an unknown id is
    # checked against a decoy certificate, so unknown and enrolled ids with a bad signature get
    # the same answer for the same work, and only the key holder learns "revoked" or "expired".
    device = services.ledger.get_device(device_id)
    try:
        certificate = x509.load_pem_x509_certificate(
            (device.certificate_pem if device is not None else decoy_certificate_pem()).encode()
        )
        verify_signature(certificate, payload, signature)
    except (CertificateError, ValueError) as exc:
        raise AuthError("the request signature does not verify", code="credentials_forged") from exc
    identity = services.capture.devices.identity(device_id, now=now)
    if identity.kind != Role.STATION:
        raise AuthError("expected a packing station", code="wrong_role", http_status=403)
    # A signature is accepted within REQUEST_SKEW either side of its timestamp, so its nonce
    # can be replayed until 2 x REQUEST_SKEW after it was first seen; not after.
    if len(nonce) > 64 or not services.ledger.use_nonce(
        nonce, device_id, now, keep_for=NONCE_WINDOW
    ):
        raise AuthError("this request was already received", code="credentials_replayed")
    request.state.device = identity
    return Principal(Role.STATION, device_id)


async def buyer_credentials(request: Request) -> Principal:
    """Authenticate a buyer's bearer token."""
    services = request.app.state.services
    try:
        token = verify_buyer_token(
            bearer_credential(request), services.token_secret, now=services.clock()
        )
    except TokenError as exc:
        raise AuthError(exc.message, code=f"credentials_{exc.code.removeprefix('token_')}") from exc
    return Principal(Role.BUYER, token.buyer_id)


#: Role -> credential check, installed into ``app.state`` by the composition root.
CREDENTIAL_CHECKS: dict[Role, Callable[[Request], Awaitable[Principal]]] = {
    Role.STATION: station_credentials,
    Role.BUYER: buyer_credentials,
}

"""Compact signed tokens: parcel-label tokens (ES256, verifiable offline with our published
certificate) and buyer tokens (HMAC, issued by the platform).

Format: ``<prefix>.<base64url JSON payload>.<base64url signature>``.

The MAC or signature is checked over the token text before the payload is parsed, so an
unauthenticated caller never reaches the JSON parser; the payload is then parsed with
bounded depth. Label signatures are low-S ECDSA: the high-S twin of a genuine signature
(also valid ECDSA, other bytes) is refused, so a label has exactly one valid encoding.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from capture.errors import TokenError
from keys.attestation import b64url_decode, b64url_encode, from_json_bounded
from keys.signatures import (
    der_to_raw_signature,
    ints_to_raw_signature,
    raw_to_der_signature,
    split_raw_signature,
)
from keys.signer import Signer

__all__ = [
    "BuyerToken",
    "BuyerTokenIssuer",
    "LabelToken",
    "issue_buyer_token",
    "issue_label_token",
    "verify_buyer_token",
    "verify_label_token",
]

LABEL_PREFIX = "OS1"
BUYER_PREFIX = "obt"
_MAX_TOKEN_CHARS = 2048
#: Order of the P-256 group; a low-S signature has s <= n // 2.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P256_HALF_ORDER = _P256_ORDER // 2
_ES256_BYTES = 64
#: Latest expiry a token may name (year 9999): beyond it datetime overflows.
_MAX_EXP = 253_402_300_799


@dataclass(frozen=True)
class LabelToken:
    """What a parcel QR says: which order and shipment session, until when."""

    order_id: str
    session_id: str
    expires_at: datetime


@dataclass(frozen=True)
class BuyerToken:
    """A platform-issued buyer credential."""

    buyer_id: str
    expires_at: datetime


def _encode(prefix: str, payload: dict[str, Any]) -> tuple[str, bytes]:
    body = b64url_encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    signing_input = f"{prefix}.{body}"
    return signing_input, signing_input.encode()


def _split(token: str, prefix: str) -> tuple[bytes, str, bytes]:
    """Cut a token into signing input, payload text (not parsed yet) and signature bytes."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        raise TokenError("expected a token of reasonable size", code="token_malformed")
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != prefix:
        raise TokenError(f"expected a {prefix} token", code="token_malformed")
    try:
        signature = b64url_decode(parts[2])
    except ValueError as exc:
        raise TokenError("expected a well-formed token", code="token_malformed") from exc
    return f"{parts[0]}.{parts[1]}".encode(), parts[1], signature


def _payload(body: str) -> dict[str, Any]:
    """Parse an authenticated payload (bounded depth and size)."""
    try:
        payload = from_json_bounded(b64url_decode(body))
    except ValueError as exc:
        raise TokenError("expected a well-formed token", code="token_malformed") from exc
    if not isinstance(payload, dict):
        raise TokenError("expected a token payload object", code="token_malformed")
    return payload


def _expiry(payload: dict[str, Any], now: datetime, *, accept_expired: bool = False) -> datetime:
    exp = payload.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool) or not 0 <= exp <= _MAX_EXP:
        raise TokenError("expected an expiry in the token", code="token_malformed")
    expires_at = datetime.fromtimestamp(exp, tz=now.tzinfo)
    if now >= expires_at and not accept_expired:
        raise TokenError("the token has expired", code="token_expired")
    return expires_at


def issue_label_token(
    signer: Signer, *, order_id: str, session_id: str, now: datetime, ttl: timedelta
) -> str:
    """Sign a label token with the service key."""
    payload = {"o": order_id, "s": session_id, "exp": int((now + ttl).timestamp())}
    text, signing_input = _encode(LABEL_PREFIX, payload)
    return f"{text}.{b64url_encode(_low_s(signer.sign(signing_input)))}"


def _low_s(signature: bytes) -> bytes:
    """Raw r||s with s in the lower half of the group (DER from a backend is accepted too).

    ``(r, n - s)`` verifies as well as ``(r, s)``; keeping only the low one makes the signed
    token text unique, so nobody can mint a second valid label from a printed one.
    """
    raw = signature if len(signature) == _ES256_BYTES else der_to_raw_signature(signature)
    r, s = split_raw_signature(raw)
    if s > _P256_HALF_ORDER:
        s = _P256_ORDER - s
    return ints_to_raw_signature(r, s)


def verify_label_token(
    token: str,
    certificates: tuple[x509.Certificate, ...],
    *,
    now: datetime,
    revoked_serials: Container[str] = (),
    accept_expired: bool = False,
) -> LabelToken:
    """Verify a label token against any of our service certificates (current or rotated).

    ``revoked_serials`` are decimal serials of revoked sealing certificates: a label they
    signed is refused whenever it was printed (a compromised key could print labels for any
    order, and the token carries no trusted time). ``accept_expired`` returns a genuine label
    past its expiry (its ``expires_at`` tells), for telling the buyer "your label expired"
    rather than "not official"; it never opens anything.

    Raises:
        TokenError: malformed (``token_malformed``), forged (``token_forged``), expired, or
            signed by a revoked key (``token_revoked``).
    """
    signing_input, body, signature = _split(token, LABEL_PREFIX)
    if len(signature) != _ES256_BYTES:
        raise TokenError("expected an ES256 signature", code="token_forged")
    _, s = split_raw_signature(signature)
    if not 0 < s <= _P256_HALF_ORDER:
        raise TokenError("expected a low-S ES256 signature", code="token_forged")
    der = raw_to_der_signature(signature)
    for certificate in certificates:
        key = certificate.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            continue
        try:
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        payload = _payload(body)
        order_id, session_id = payload.get("o"), payload.get("s")
        if not isinstance(order_id, str) or not isinstance(session_id, str):
            raise TokenError("expected order and session in the token", code="token_malformed")
        label = LabelToken(
            order_id, session_id, _expiry(payload, now, accept_expired=accept_expired)
        )
        if str(certificate.serial_number) in revoked_serials:
            raise TokenError(
                "this label was signed with a revoked OrderSeal key: ask the seller for a new "
                "label",
                code="token_revoked",
            )
        return label
    raise TokenError("this is not an official OrderSeal label", code="token_forged")


def issue_buyer_token(secret: bytes, *, buyer_id: str, now: datetime, ttl: timedelta) -> str:
    """HMAC-SHA256 buyer token."""
    payload = {"sub": buyer_id, "exp": int((now + ttl).timestamp())}
    text, signing_input = _encode(BUYER_PREFIX, payload)
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{text}.{b64url_encode(mac)}"


def verify_buyer_token(token: str, secret: bytes, *, now: datetime) -> BuyerToken:
    """Verify a buyer token.

    Raises:
        TokenError: malformed, forged or expired.
    """
    signing_input, body, mac = _split(token, BUYER_PREFIX)
    expected = hmac.new(secret, signing_input, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, mac):
        raise TokenError("expected a buyer token issued by the platform", code="token_forged")
    payload = _payload(body)
    buyer_id = payload.get("sub")
    if not isinstance(buyer_id, str) or not buyer_id:
        raise TokenError("expected a buyer in the token", code="token_malformed")
    return BuyerToken(buyer_id, _expiry(payload, now))


@dataclass(frozen=True)
class BuyerTokenIssuer:
    """Issues the platform's short-lived buyer tokens with the service's secret."""

    secret: bytes
    ttl: timedelta

    def issue(self, buyer_id: str, *, now: datetime) -> str:
        """A buyer token valid for :attr:`ttl` from ``now``."""
        return issue_buyer_token(self.secret, buyer_id=buyer_id, now=now, ttl=self.ttl)

"""Standard Webhooks signatures (https://www.standardwebhooks.com/): sign and verify.

A message is signed over ``{webhook-id}.{webhook-timestamp}.{body}``. The ``webhook-signature``
header holds space-separated ``version,base64`` pairs: ``v1`` is HMAC-SHA256 under the
endpoint's ``whsec_`` secret (base64 after the prefix), ``v1a`` is ed25519 under a key whose
public half (``whpk_`` + base64 of the 32 raw bytes) OrderSeal publishes in its trust material.
A receiver accepts a message when any one signature it can check is valid and the timestamp is
within its tolerance; the server (``infra.webhooks``) and the platform SDK
(``clients.webhooks``) share this module, so both sides read the format the same way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from wire.errors import OrderSealError

__all__ = [
    "DEFAULT_TOLERANCE",
    "PUBLIC_KEY_PREFIX",
    "SECRET_PREFIX",
    "SignedMessage",
    "WebhookVerificationError",
    "decode_public_key",
    "decode_secret",
    "encode_public_key",
    "new_secret",
    "sign_ed25519",
    "sign_hmac",
    "signature_header",
    "signed_content",
    "verify_signature_header",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
PUBLIC_KEY_PREFIX = "whpk_"
#: The spec's recommended window either side of the receiver's clock.
DEFAULT_TOLERANCE = timedelta(minutes=5)


class WebhookVerificationError(OrderSealError):
    """A webhook that must not be trusted: bad or missing headers, signature or timestamp."""

    code = "webhook_invalid"
    http_status = 400


@dataclass(frozen=True)
class SignedMessage:
    """A verified message: its id (dedupe on it), timestamp and the raw body that was signed."""

    webhook_id: str
    timestamp: datetime
    body: bytes


def new_secret(random_bytes: bytes) -> str:
    """An endpoint secret in the spec's shape from 24-64 random bytes."""
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode()


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the prefix is optional, as in the spec).

    Raises:
        WebhookVerificationError: ``webhook_secret_invalid`` when it is not base64.
    """
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookVerificationError(
            "expected a whsec_ secret in base64", code="webhook_secret_invalid"
        ) from exc


def encode_public_key(raw: bytes) -> str:
    """``whpk_`` + base64 of a raw 32-byte ed25519 public key."""
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode()


def decode_public_key(value: str) -> Ed25519PublicKey:
    """An ed25519 public key from ``whpk_...`` (or bare base64 of its 32 bytes).

    Raises:
        WebhookVerificationError: ``webhook_key_invalid``.
    """
    try:
        raw = base64.b64decode(value.removeprefix(PUBLIC_KEY_PREFIX), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise WebhookVerificationError(
            "expected a whpk_ ed25519 public key", code="webhook_key_invalid"
        ) from exc


def signed_content(webhook_id: str, timestamp: int, body: bytes) -> bytes:
    """What every signature covers: ``{id}.{timestamp}.{body}``."""
    return f"{webhook_id}.{timestamp}.".encode() + body


def sign_hmac(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64 HMAC-SHA256>`` signature under an endpoint secret."""
    digest = hmac.new(
        decode_secret(secret), signed_content(webhook_id, timestamp, body), hashlib.sha256
    ).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_ed25519(
    sign: Callable[[bytes], bytes], webhook_id: str, timestamp: int, body: bytes
) -> str:
    """The ``v1a,<base64 ed25519>`` signature; ``sign`` holds the private key (keys.webhooks)."""
    return "v1a," + base64.b64encode(sign(signed_content(webhook_id, timestamp, body))).decode()


def signature_header(signatures: Iterable[str]) -> str:
    """The ``webhook-signature`` value: the signatures separated by spaces."""
    return " ".join(signatures)


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"expected a {name} header, found none")


def verify_signature_header(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: Iterable[str] = (),
    public_keys: Iterable[str] = (),
    tolerance: timedelta = DEFAULT_TOLERANCE,
    now: datetime | None = None,
) -> SignedMessage:
    """Check a received webhook: its timestamp is fresh and one signature is valid.

    Args:
        headers: the request headers (any case).
        body: the raw request body, exactly as received (before any JSON parsing).
        secrets: ``whsec_`` secrets to check ``v1`` signatures with.
        public_keys: ``whpk_`` keys to check ``v1a`` signatures with.
        tolerance: how far the timestamp may be from ``now``, either way.
        now: the receiver's clock (aware); the wall clock when omitted.

    Raises:
        WebhookVerificationError: ``webhook_invalid`` for missing headers or no valid
            signature, ``webhook_timestamp_stale`` outside the tolerance.

    Returns:
        The message; deduplicate on ``webhook_id`` (delivery is at least once).
    """
    secret_list, key_list = list(secrets), list(public_keys)
    if not secret_list and not key_list:
        raise WebhookVerificationError("expected a secret or a public key to verify with")
    webhook_id = _header(headers, "webhook-id")
    raw_timestamp = _header(headers, "webhook-timestamp")
    header = _header(headers, "webhook-signature")
    if not raw_timestamp.isascii() or not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise WebhookVerificationError("expected webhook-timestamp in integer seconds")
    timestamp = int(raw_timestamp)
    clock = now or datetime.now(UTC)
    sent = datetime.fromtimestamp(timestamp, UTC)
    if abs(clock - sent) > tolerance:
        raise WebhookVerificationError(
            f"expected a timestamp within {tolerance} of now, found {sent.isoformat()}",
            code="webhook_timestamp_stale",
        )
    content = signed_content(webhook_id, timestamp, body)
    expected_v1 = [
        base64.b64encode(hmac.new(decode_secret(s), content, hashlib.sha256).digest())
        for s in secret_list
    ]
    keys = [decode_public_key(k) for k in key_list]
    for candidate in header.split():
        version, _, value = candidate.partition(",")
        if version == "v1":
            if any(hmac.compare_digest(value.encode(), e) for e in expected_v1):
                return SignedMessage(webhook_id, sent, body)
        elif version == "v1a" and keys:
            try:
                signature = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                continue
            for key in keys:
                try:
                    key.verify(signature, content)
                except InvalidSignature:
                    continue
                return SignedMessage(webhook_id, sent, body)
    raise WebhookVerificationError("expected a valid signature, found none that verifies")

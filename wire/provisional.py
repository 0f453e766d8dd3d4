"""Offline packing formats both sides agree on: the provisional label and the assignment list.

- A **provisional label** (``OSP1.<payload>.<signature>``) is what a station prints when it
  closes a packing session while the service is unreachable. The station's own device key
  signs it; it binds the order, the station's device id, the station's local session id, the
  station clock at closing and a nonce. It is *not* an OrderSeal label: the service replaces
  it with its own ``OS1`` token at the first sync, and only the service ever seals evidence.
- An **assignment list** (``OSA1.<payload>.<signature>``) is signed by the service with its
  label key: the orders this station may pack offline, until when. The station checks it
  before opening a session locally; the service checks its own signature again at sync.

Signatures are ES256, raw ``r||s`` with low S, so each signed text has one valid encoding
(the high-S twin of a printed token is refused). The signature is checked before the payload
is parsed, and the payload is parsed with bounded depth and size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from wire.attestation import b64url_decode, b64url_encode, from_json_bounded
from wire.errors import OrderSealError

__all__ = [
    "ASSIGNMENT_PREFIX",
    "PROVISIONAL_PREFIX",
    "AssignmentList",
    "ProvisionalLabel",
    "ProvisionalTokenError",
    "assignment_signing_input",
    "issue_provisional_token",
    "low_s_raw",
    "peek_provisional_token",
    "verify_assignment_list",
    "verify_provisional_token",
]

PROVISIONAL_PREFIX = "OSP1"
ASSIGNMENT_PREFIX = "OSA1"
#: A provisional label fits a QR at error correction M on a 4x6 label, like an ``OS1`` token.
_MAX_PROVISIONAL_CHARS = 2048
#: An assignment list of the largest allowed size (order ids of up to 64 characters).
_MAX_ASSIGNMENT_CHARS = 262_144
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HALF_ORDER = _P256_ORDER // 2
_COORDINATE_BYTES = 32
_MAX_FIELD_CHARS = 128


class ProvisionalTokenError(OrderSealError):
    """A provisional label or assignment list is malformed or not signed by the key named."""

    code = "token_malformed"
    http_status = 401


@dataclass(frozen=True)
class ProvisionalLabel:
    """What a provisional label says, as the station that printed it signed it."""

    order_id: str
    device_id: str
    local_session_id: str
    station_time: datetime
    nonce: str

    def to_payload(self) -> dict[str, Any]:
        """The signed JSON object (short keys: the QR stays small)."""
        return {
            "o": self.order_id,
            "d": self.device_id,
            "l": self.local_session_id,
            "t": int(self.station_time.timestamp()),
            "n": self.nonce,
        }


@dataclass(frozen=True)
class AssignmentList:
    """The orders one station may pack offline, signed by the service."""

    station_id: str
    merchant_id: str
    order_ids: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime

    def to_payload(self) -> dict[str, Any]:
        """The signed JSON object."""
        return {
            "s": self.station_id,
            "m": self.merchant_id,
            "o": list(self.order_ids),
            "iat": int(self.issued_at.timestamp()),
            "exp": int(self.expires_at.timestamp()),
        }

    def covers(self, order_id: str, *, at: datetime) -> bool:
        """Whether the list names ``order_id`` and was valid ``at`` (issue time inclusive)."""
        return order_id in self.order_ids and self.issued_at <= at < self.expires_at


def low_s_raw(signature: bytes) -> bytes:
    """A DER or raw ES256 signature as raw ``r||s`` with ``s`` in the lower half."""
    if len(signature) == 2 * _COORDINATE_BYTES:
        r = int.from_bytes(signature[:_COORDINATE_BYTES], "big")
        s = int.from_bytes(signature[_COORDINATE_BYTES:], "big")
    else:
        r, s = decode_dss_signature(signature)
    if s > _HALF_ORDER:
        s = _P256_ORDER - s
    return r.to_bytes(_COORDINATE_BYTES, "big") + s.to_bytes(_COORDINATE_BYTES, "big")


def _signing_input(prefix: str, payload: dict[str, Any]) -> str:
    body = b64url_encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{prefix}.{body}"


def assignment_signing_input(assignment: AssignmentList) -> str:
    """The ``OSA1.<payload>`` text the service signs (append ``.<signature>``)."""
    return _signing_input(ASSIGNMENT_PREFIX, assignment.to_payload())


def issue_provisional_token(
    private_key: ec.EllipticCurvePrivateKey, label: ProvisionalLabel
) -> str:
    """Sign a provisional label with the station's device key."""
    text = _signing_input(PROVISIONAL_PREFIX, label.to_payload())
    signature = private_key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
    return f"{text}.{b64url_encode(low_s_raw(signature))}"


def _split(token: str, prefix: str, max_chars: int) -> tuple[bytes, str, bytes]:
    if not isinstance(token, str) or len(token) > max_chars:
        raise ProvisionalTokenError("expected a token of reasonable size")
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != prefix:
        raise ProvisionalTokenError(f"expected a {prefix} token")
    try:
        signature = b64url_decode(parts[2])
    except ValueError as exc:
        raise ProvisionalTokenError("expected a well-formed token") from exc
    return f"{parts[0]}.{parts[1]}".encode(), parts[1], signature


def _verify(public_key: ec.EllipticCurvePublicKey, signing_input: bytes, raw: bytes) -> None:
    if len(raw) != 2 * _COORDINATE_BYTES:
        raise ProvisionalTokenError("expected an ES256 signature", code="token_forged")
    r = int.from_bytes(raw[:_COORDINATE_BYTES], "big")
    s = int.from_bytes(raw[_COORDINATE_BYTES:], "big")
    if not (0 < r < _P256_ORDER and 0 < s <= _HALF_ORDER):
        raise ProvisionalTokenError("expected a low-S ES256 signature", code="token_forged")
    try:
        public_key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise ProvisionalTokenError(
            "expected a signature of the key named", code="token_forged"
        ) from exc


def _object(body: str, *, max_bytes: int) -> dict[str, Any]:
    try:
        payload = from_json_bounded(b64url_decode(body), max_bytes=max_bytes)
    except ValueError as exc:
        raise ProvisionalTokenError("expected a well-formed token payload") from exc
    if not isinstance(payload, dict):
        raise ProvisionalTokenError("expected a token payload object")
    return payload


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_FIELD_CHARS:
        raise ProvisionalTokenError(f"expected a short text {key!r} in the token")
    return value


def _time(payload: dict[str, Any], key: str) -> datetime:
    value = payload.get(key)
    # Year 9999 at most: beyond it datetime overflows.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 253_402_300_799:
        raise ProvisionalTokenError(f"expected a time {key!r} in the token")
    return datetime.fromtimestamp(value, tz=UTC)


def _label(payload: dict[str, Any]) -> ProvisionalLabel:
    return ProvisionalLabel(
        order_id=_text(payload, "o"),
        device_id=_text(payload, "d"),
        local_session_id=_text(payload, "l"),
        station_time=_time(payload, "t"),
        nonce=_text(payload, "n"),
    )


def peek_provisional_token(token: str) -> ProvisionalLabel:
    """The claims of a provisional label **without** checking its signature.

    Only for finding the key to check it with (the device id it names); nothing it says is
    to be believed before :func:`verify_provisional_token`.

    Raises:
        ProvisionalTokenError: ``token_malformed``.
    """
    _, body, _ = _split(token, PROVISIONAL_PREFIX, _MAX_PROVISIONAL_CHARS)
    return _label(_object(body, max_bytes=4096))


def verify_provisional_token(token: str, public_key: ec.EllipticCurvePublicKey) -> ProvisionalLabel:
    """Verify a provisional label against the station's device public key.

    Raises:
        ProvisionalTokenError: ``token_malformed``, or ``token_forged`` (not signed by this key,
            or a high-S twin).

    Returns:
        The signed claims.
    """
    signing_input, body, signature = _split(token, PROVISIONAL_PREFIX, _MAX_PROVISIONAL_CHARS)
    _verify(public_key, signing_input, signature)
    return _label(_object(body, max_bytes=4096))


def verify_assignment_list(token: str, public_key: ec.EllipticCurvePublicKey) -> AssignmentList:
    """Verify an assignment list against a service public key (its expiry is the caller's).

    Raises:
        ProvisionalTokenError: ``token_malformed`` or ``token_forged``.

    Returns:
        The signed list.
    """
    signing_input, body, signature = _split(token, ASSIGNMENT_PREFIX, _MAX_ASSIGNMENT_CHARS)
    _verify(public_key, signing_input, signature)
    payload = _object(body, max_bytes=_MAX_ASSIGNMENT_CHARS)
    orders = payload.get("o")
    if not isinstance(orders, list) or not all(
        isinstance(o, str) and 0 < len(o) <= _MAX_FIELD_CHARS for o in orders
    ):
        raise ProvisionalTokenError("expected a list of order ids in the assignment list")
    return AssignmentList(
        station_id=_text(payload, "s"),
        merchant_id=_text(payload, "m"),
        order_ids=tuple(orders),
        issued_at=_time(payload, "iat"),
        expires_at=_time(payload, "exp"),
    )

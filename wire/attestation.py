"""Device-side proofs: the capture statement and the signed request, made with a device key.

The device key never leaves the device; the server only ever sees signatures and the
device certificate issued at enrolment (see ../shared/DESIGN.md "Device attestation"). This is
the format both sides must agree on, so a station installs it without the server;
``keys.attestation`` verifies it and re-exports it for the server's callers.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "CaptureStatement",
    "b64url_decode",
    "b64url_encode",
    "from_json_bounded",
    "parse_aware_time",
    "request_signing_payload",
    "sign_bytes",
]


#: Deepest nesting any of our small JSON documents (tokens, statements) may have. Python's
#: parser recurses per level and raises RecursionError near 1000; we refuse long before.
MAX_JSON_DEPTH = 32
#: Largest small JSON document (token payloads, capture statements) we parse.
MAX_JSON_BYTES = 16_384


def from_json_bounded(
    data: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, max_bytes: int = MAX_JSON_BYTES
) -> object:
    """Parse a small JSON document that may come from anyone, with bounded depth and size.

    Nesting is counted before parsing (brackets outside strings), so a deep document never
    reaches the recursive parser.

    Args:
        data: the JSON text (bytes are decoded as UTF-8).
        max_depth: deepest nesting of arrays and objects allowed.
        max_bytes: largest input allowed.

    Returns:
        The parsed value.

    Raises:
        ValueError: oversize, too deep, not UTF-8, or not JSON.
    """
    if len(data) > max_bytes:
        raise ValueError(f"expected at most {max_bytes} bytes of JSON, found {len(data)}")
    try:
        text = data.decode() if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise ValueError("expected UTF-8 JSON") from exc
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                raise ValueError(f"expected JSON nested at most {max_depth} deep")
        elif char in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError("expected JSON") from exc


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url.

    Raises:
        ValueError: not base64url.
    """
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("expected base64url text") from exc


def parse_aware_time(text: str) -> datetime:
    """Parse an RFC 3339 time that names its UTC offset.

    A time without an offset is ambiguous and cannot be stored as UTC, so it is refused here,
    at the door, rather than after the capture it dates has been sealed.

    Raises:
        ValueError: not an ISO 8601 / RFC 3339 time, or one without a UTC offset.
    """
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ValueError("expected an RFC 3339 time") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("expected a time with a UTC offset (such as +00:00 or Z)")
    return parsed


@dataclass(frozen=True)
class CaptureStatement:
    """What a device asserts about one capture, signed with its own key."""

    device_id: str
    order_id: str
    session_id: str
    stage: str
    captured_at: str  # RFC 3339 UTC as the device's clock read it, kept as signed
    content_sha256: str

    @property
    def captured_time(self) -> datetime:
        """``captured_at`` as an aware datetime (checked by :meth:`from_json`)."""
        return parse_aware_time(self.captured_at)

    def canonical(self) -> bytes:
        """Deterministic bytes that are signed: sorted-key compact JSON."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, text: str) -> CaptureStatement:
        """Parse a statement; every field is required and must be a string, and
        ``captured_at`` must be an RFC 3339 time with a UTC offset.

        Raises:
            ValueError: malformed, too deep or incomplete statement, or a naive time.
        """
        try:
            data = from_json_bounded(text)
        except ValueError as exc:
            raise ValueError("expected a JSON capture statement") from exc
        fields = cls.__dataclass_fields__
        if not isinstance(data, dict) or set(data) != set(fields):
            raise ValueError(f"expected statement fields {sorted(fields)}")
        if not all(isinstance(v, str) for v in data.values()):
            raise ValueError("expected string values in the capture statement")
        parse_aware_time(data["captured_at"])  # a naive time is refused at the door
        return cls(**data)


def request_signing_payload(
    method: str, path: str, timestamp: str, nonce: str, body_sha256: str
) -> bytes:
    """The bytes a station signs to authenticate one HTTP request."""
    return "\n".join(["ORDERSEAL-V1", method.upper(), path, timestamp, nonce, body_sha256]).encode()


def sign_bytes(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    """ECDSA P-256 / SHA-256 signature, DER, base64url."""
    return b64url_encode(private_key.sign(data, ec.ECDSA(hashes.SHA256())))

"""ECDSA signature forms: DER (what cryptography signs and verifies) and raw ``r || s``.

COSE (RFC 9053 §2.1), JWS ES256 and WebCrypto (IEEE P1363) carry the fixed-width ``r || s``
form; cryptography takes and gives DER. These are the only conversions between the two.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

__all__ = [
    "P256_COORDINATE_BYTES",
    "der_to_raw_signature",
    "ints_to_raw_signature",
    "raw_to_der_signature",
    "split_raw_signature",
]

P256_COORDINATE_BYTES = 32


def der_to_raw_signature(der: bytes, *, coordinate_bytes: int = P256_COORDINATE_BYTES) -> bytes:
    """Convert a DER ECDSA signature to the fixed ``r || s`` form (P-256 by default).

    Raises:
        ValueError: ``der`` is not a DER ECDSA signature.
    """
    r, s = decode_dss_signature(der)
    return ints_to_raw_signature(r, s, coordinate_bytes=coordinate_bytes)


def raw_to_der_signature(raw: bytes) -> bytes:
    """Convert a raw ``r || s`` signature (two halves of equal width) to DER."""
    r, s = split_raw_signature(raw)
    return encode_dss_signature(r, s)


def split_raw_signature(raw: bytes) -> tuple[int, int]:
    """The integers ``(r, s)`` of a raw ``r || s`` signature (two halves of equal width)."""
    half = len(raw) // 2
    return int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")


def ints_to_raw_signature(
    r: int, s: int, *, coordinate_bytes: int = P256_COORDINATE_BYTES
) -> bytes:
    """The raw ``r || s`` form of ``(r, s)``, each big-endian in ``coordinate_bytes``."""
    return r.to_bytes(coordinate_bytes, "big") + s.to_bytes(coordinate_bytes, "big")

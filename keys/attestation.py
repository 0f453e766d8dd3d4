"""Device proofs on the server: the device-side format (re-exported) and its verification.

The capture statement, the signed-request payload and their encodings are defined once in
``wire.attestation``, which a packing station installs without the server; this module adds
what only the server does, verifying a device signature against the device certificate.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from keys.errors import CertificateError
from keys.signatures import raw_to_der_signature
from wire.attestation import (
    CaptureStatement,
    b64url_decode,
    b64url_encode,
    from_json_bounded,
    parse_aware_time,
    request_signing_payload,
    sign_bytes,
)

__all__ = [
    "CaptureStatement",
    "b64url_decode",
    "b64url_encode",
    "from_json_bounded",
    "parse_aware_time",
    "request_signing_payload",
    "sign_bytes",
    "verify_key_signature",
    "verify_signature",
]


_RAW_P256_BYTES = 64


def verify_signature(certificate: x509.Certificate, data: bytes, signature_b64: str) -> None:
    """Verify a device signature (DER, or raw r||s from WebCrypto) against the device key.

    Raises:
        CertificateError: the signature does not verify (code ``signature_invalid``).
    """
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise CertificateError("expected an EC device key", code="signature_invalid")
    verify_key_signature(public_key, data, signature_b64)


def verify_key_signature(
    public_key: ec.EllipticCurvePublicKey, data: bytes, signature_b64: str
) -> None:
    """Verify an ECDSA SHA-256 signature (DER, or raw r||s from WebCrypto) by ``public_key``.

    Raises:
        CertificateError: the signature does not verify (code ``signature_invalid``).
    """
    try:
        signature = b64url_decode(signature_b64)
    except ValueError as exc:
        raise CertificateError("expected a base64url signature", code="signature_invalid") from exc
    # WebCrypto (browser device keys) signs raw r||s (IEEE P1363); 64 bytes is that form for
    # P-256. Try DER first: a DER signature can also be 64 bytes long.
    candidates = [signature]
    if len(signature) == _RAW_P256_BYTES:
        candidates.append(raw_to_der_signature(signature))
    for candidate in candidates:
        try:
            public_key.verify(candidate, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            continue
        return
    raise CertificateError(
        "expected a signature by the device key, it does not verify", code="signature_invalid"
    )

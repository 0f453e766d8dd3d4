"""Device signatures verify in both encodings: DER (Python clients) and raw r||s (WebCrypto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from keys.attestation import b64url_encode, sign_bytes, verify_signature
from keys.ca import create_root, issue_certificate, issue_intermediate, subject_name
from keys.errors import CertificateError
from keys.profile import CertificateRole

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def device() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    device_ca = issue_intermediate(create_root("Test Root", now=NOW), "Device CA", now=NOW)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = issue_certificate(
        device_ca,
        key.public_key(),
        subject_name("buyer-web-1", unit="buyer"),
        role=CertificateRole.BUYER,
        now=NOW,
        validity=timedelta(days=1),
    )
    return key, certificate


def _raw(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def test_der_and_raw_signatures_verify(
    device: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    key, certificate = device
    verify_signature(certificate, b"statement", sign_bytes(key, b"statement"))
    verify_signature(certificate, b"statement", _raw(key, b"statement"))


@pytest.mark.parametrize(
    "form", ["raw-other-data", "raw-flipped-bit", "63-bytes", "not-base64"], ids=str
)
def test_bad_signatures_are_refused(
    device: tuple[ec.EllipticCurvePrivateKey, x509.Certificate], form: str
) -> None:
    key, certificate = device
    signature = {
        "raw-other-data": _raw(key, b"other"),
        "raw-flipped-bit": b64url_encode(bytes([1]) + bytes(63)),
        "63-bytes": b64url_encode(bytes(63)),
        "not-base64": "***",
    }[form]
    with pytest.raises(CertificateError) as caught:
        verify_signature(certificate, b"statement", signature)
    assert caught.value.code == "signature_invalid"

"""Device enrolment: turn a device's CSR into a short-lived leaf under the device CA."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from keys.ca import CertificateAuthority, issue_certificate, subject_name
from keys.errors import CertificateError
from keys.profile import CertificateRole

__all__ = ["DEVICE_KINDS", "certificate_from_csr", "device_id_of"]

DEVICE_KINDS = {"station": CertificateRole.STATION, "buyer": CertificateRole.BUYER}


def certificate_from_csr(
    device_ca: CertificateAuthority,
    csr_pem: bytes,
    *,
    device_id: str,
    kind: str,
    now: datetime,
    validity: timedelta,
) -> x509.Certificate:
    """Issue a device certificate for the key in ``csr_pem``; the subject comes from us.

    The CSR only proves possession of the key; the device's name is the admin's decision.

    Raises:
        CertificateError: malformed CSR, bad self-signature, wrong key type or unknown kind.
    """
    if kind not in DEVICE_KINDS:
        raise CertificateError(f"expected device kind station or buyer, found {kind!r}")
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise CertificateError("expected a PEM certificate signing request") from exc
    if not csr.is_signature_valid:
        raise CertificateError("expected a CSR signed by its own key, signature does not verify")
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != (
        "secp256r1"
    ):
        raise CertificateError("expected a P-256 device key")
    return issue_certificate(
        device_ca,
        public_key,
        subject_name(device_id, unit=kind),
        role=DEVICE_KINDS[kind],
        now=now,
        validity=validity,
    )


def device_id_of(certificate: x509.Certificate) -> str:
    """The device id a certificate names (its CN)."""
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    return value if isinstance(value, str) else value.decode()

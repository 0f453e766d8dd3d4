"""Certificate authority operations: root, intermediates and leaves (pure, explicit ``now``).

Nothing here touches files; ``keys.store`` persists what this module builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import NameOID

from keys.profile import CertificateRole, extensions_for

__all__ = [
    "CertificateAuthority",
    "create_root",
    "generate_private_key",
    "issue_certificate",
    "issue_intermediate",
    "subject_name",
]

_BACKDATE = timedelta(minutes=5)  # tolerate clock skew between signer and verifiers


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate with its private key; ``chain`` runs from this CA up to the root."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def chain_to_root(self) -> tuple[x509.Certificate, ...]:
        """This CA's certificate followed by its issuers (excluding nothing)."""
        return (self.certificate, *self.chain)


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    """Return a fresh P-256 key (ES256 is what every C2PA validator accepts)."""
    return ec.generate_private_key(ec.SECP256R1())


def subject_name(common_name: str, *, organization: str = "OrderSeal", unit: str = "") -> x509.Name:
    """Build a subject name; ``unit`` names the device kind or CA role."""
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
    ]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def create_root(
    common_name: str, *, now: datetime, validity: timedelta = timedelta(days=3650)
) -> CertificateAuthority:
    """Create a self-signed root CA.

    Args:
        common_name: the root's CN.
        now: aware UTC time the certificate becomes valid.
        validity: lifetime.

    Returns:
        The root CA.
    """
    key = generate_private_key()
    name = subject_name(common_name, unit="Root CA")
    cert = _build(
        subject=name,
        issuer=name,
        subject_key=key.public_key(),
        issuer_key=key,
        role=CertificateRole.ROOT,
        now=now,
        validity=validity,
    )
    return CertificateAuthority(certificate=cert, private_key=key)


def issue_intermediate(
    parent: CertificateAuthority,
    common_name: str,
    *,
    now: datetime,
    validity: timedelta = timedelta(days=1825),
) -> CertificateAuthority:
    """Issue an intermediate CA (device CA or service CA) under ``parent``."""
    key = generate_private_key()
    cert = _build(
        subject=subject_name(common_name, unit="Intermediate CA"),
        issuer=parent.certificate.subject,
        subject_key=key.public_key(),
        issuer_key=parent.private_key,
        role=CertificateRole.INTERMEDIATE,
        now=now,
        validity=validity,
    )
    return CertificateAuthority(certificate=cert, private_key=key, chain=parent.chain_to_root)


def issue_certificate(
    issuer: CertificateAuthority,
    public_key: CertificateIssuerPublicKeyTypes,
    subject: x509.Name,
    *,
    role: CertificateRole,
    now: datetime,
    validity: timedelta,
) -> x509.Certificate:
    """Issue an end-entity certificate for ``public_key`` in the C2PA leaf profile.

    Raises:
        ValueError: if ``role`` is a CA role.
    """
    if role in (CertificateRole.ROOT, CertificateRole.INTERMEDIATE):
        raise ValueError(f"expected a leaf role, found {role}")
    return _build(
        subject=subject,
        issuer=issuer.certificate.subject,
        subject_key=public_key,
        issuer_key=issuer.private_key,
        role=role,
        now=now,
        validity=validity,
    )


def _build(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    subject_key: CertificateIssuerPublicKeyTypes,
    issuer_key: ec.EllipticCurvePrivateKey,
    role: CertificateRole,
    now: datetime,
    validity: timedelta,
) -> x509.Certificate:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(subject_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
    )
    for extension in extensions_for(role, subject_key, issuer_key.public_key()):
        builder = builder.add_extension(extension.value, critical=extension.critical)
    return builder.sign(issuer_key, hashes.SHA256())

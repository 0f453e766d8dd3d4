"""X.509 extension profiles per certificate role, shaped for C2PA validators.

C2PA (spec 2.1, section 14.5.1 "Certificate Profile") requires claim-signing leaves to carry
KeyUsage digitalSignature, an ExtendedKeyUsage that is not anyExtendedKeyUsage, an
AuthorityKeyIdentifier, and no CA capability. CA certificates need BasicConstraints CA=true and
keyCertSign. Each function returns the extensions to add; building happens in ``keys.ca``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

__all__ = [
    "C2PA_CLAIM_SIGNING_EKU",
    "DOCUMENT_SIGNING_EKU",
    "CertificateRole",
    "Extension",
    "extensions_for",
]

#: id-kp-documentSigning (RFC 9336), accepted by c2pa-rs' default EKU list.
DOCUMENT_SIGNING_EKU = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
#: c2pa-kp-claimSigning, the C2PA conformance program's own EKU.
C2PA_CLAIM_SIGNING_EKU = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")


class CertificateRole(StrEnum):
    """What a certificate is for; decides its extensions."""

    ROOT = "root"
    INTERMEDIATE = "intermediate"
    SERVICE = "service"
    STATION = "station"
    BUYER = "buyer"


@dataclass(frozen=True)
class Extension:
    """One extension to add, with its criticality."""

    value: x509.ExtensionType
    critical: bool


def extensions_for(
    role: CertificateRole,
    subject_key: CertificateIssuerPublicKeyTypes,
    issuer_key: CertificateIssuerPublicKeyTypes,
) -> list[Extension]:
    """Return the extensions a certificate of ``role`` must carry.

    Args:
        role: the certificate's role.
        subject_key: the public key being certified (for the SubjectKeyIdentifier).
        issuer_key: the issuer's public key (for the AuthorityKeyIdentifier).

    Returns:
        The extensions, in a stable order.
    """
    ski = x509.SubjectKeyIdentifier.from_public_key(subject_key)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key)
    if role in (CertificateRole.ROOT, CertificateRole.INTERMEDIATE):
        return [
            Extension(
                x509.BasicConstraints(
                    ca=True, path_length=1 if role == CertificateRole.ROOT else 0
                ),
                True,
            ),
            Extension(_key_usage(cert_sign=True), True),
            Extension(ski, False),
            *([] if role == CertificateRole.ROOT else [Extension(aki, False)]),
        ]
    ekus = [ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_EKU]
    return [
        Extension(x509.BasicConstraints(ca=False, path_length=None), True),
        Extension(_key_usage(cert_sign=False), True),
        Extension(x509.ExtendedKeyUsage(ekus), False),
        Extension(ski, False),
        Extension(aki, False),
    ]


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )

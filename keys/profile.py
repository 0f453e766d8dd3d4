"""X.509 extension profiles per certificate role, shaped for C2PA validators.

C2PA (spec 2.1, section 14.5.1 "Certificate Profile") requires claim-signing leaves to carry
KeyUsage digitalSignature, an ExtendedKeyUsage that is not anyExtendedKeyUsage, an
AuthorityKeyIdentifier, and no CA capability. CA certificates need BasicConstraints CA=true and
keyCertSign. Each function returns the extensions to add; building happens in ``keys.ca``.

Only the sealing service signs C2PA claims. Its leaf carries claim-signing EKUs
(``SERVICE_EKUS``). Station and buyer-app leaves sign requests and capture statements, never
claims, so they carry ``DEVICE_EKUS``: none of them is on the EKU list a C2PA validator accepts
for a claim signer (C2PA 2.1 section 14.5.1; c2pa-rs ``sdk/src/crypto/cose/valid_eku_oids.cfg``
plus its built-in emailProtection, timeStamping and OCSPSigning). c2pa-rs then reports a
device-signed claim ``signingCredential.invalid``, whatever it chains to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

__all__ = [
    "C2PA_CLAIM_SIGNING_EKU",
    "CLAIM_SIGNING_EKUS",
    "DEVICE_EKUS",
    "DEVICE_ROLES",
    "DOCUMENT_SIGNING_EKU",
    "MS_C2PA_SIGNING_EKU",
    "ORDERSEAL_DEVICE_EKU",
    "SERVICE_EKUS",
    "CertificateRole",
    "Extension",
    "extensions_for",
]

#: id-kp-documentSigning (RFC 9336), accepted by c2pa-rs' default EKU list.
DOCUMENT_SIGNING_EKU = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
#: c2pa-kp-claimSigning, the C2PA conformance program's own EKU.
C2PA_CLAIM_SIGNING_EKU = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
#: Microsoft's C2PA signing EKU, on c2pa-rs' default list.
MS_C2PA_SIGNING_EKU = ObjectIdentifier("1.3.6.1.4.1.311.76.59.1.9")
#: OrderSeal device key purpose: request signatures and capture statements. A UUID OID
#: (ITU-T X.667, arc 2.25) so it needs no registration and can collide with no one's.
ORDERSEAL_DEVICE_EKU = ObjectIdentifier("2.25.244790154808554153098944257699535017359")

#: Every EKU a C2PA validator accepts on a claim signer (c2pa-rs, encypher-c2pa). A device
#: leaf must carry none of them.
CLAIM_SIGNING_EKUS = frozenset(
    {
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        DOCUMENT_SIGNING_EKU,
        ExtendedKeyUsageOID.TIME_STAMPING,
        ExtendedKeyUsageOID.OCSP_SIGNING,
        MS_C2PA_SIGNING_EKU,
        C2PA_CLAIM_SIGNING_EKU,
    }
)
#: The sealing leaf: the C2PA conformance EKU first, documentSigning for validators that
#: predate it (encypher-c2pa and c2pa-rs accept both).
SERVICE_EKUS = (C2PA_CLAIM_SIGNING_EKU, DOCUMENT_SIGNING_EKU, ExtendedKeyUsageOID.EMAIL_PROTECTION)
#: Device leaves: clientAuth (they authenticate to our API) and OrderSeal's own purpose.
DEVICE_EKUS = (ExtendedKeyUsageOID.CLIENT_AUTH, ORDERSEAL_DEVICE_EKU)


class CertificateRole(StrEnum):
    """What a certificate is for; decides its extensions."""

    ROOT = "root"
    INTERMEDIATE = "intermediate"
    SERVICE = "service"
    STATION = "station"
    BUYER = "buyer"


#: Roles whose leaves live on stations and buyer apps.
DEVICE_ROLES = frozenset({CertificateRole.STATION, CertificateRole.BUYER})


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
    if role in DEVICE_ROLES:
        # Critical (RFC 5280 section 4.2.1.12): the key may be used only for these purposes,
        # so a relying party that knows no C2PA EKU list still must not take it as a
        # document or claim signer. Our own code checks device signatures, not EKUs.
        eku = Extension(x509.ExtendedKeyUsage(list(DEVICE_EKUS)), True)
    else:
        eku = Extension(x509.ExtendedKeyUsage(list(SERVICE_EKUS)), False)
    return [
        Extension(x509.BasicConstraints(ca=False, path_length=None), True),
        Extension(_key_usage(cert_sign=False), True),
        eku,
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

"""Certificate profiles: only the sealing service's leaf may carry a C2PA claim-signing EKU."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from keys.ca import generate_private_key
from keys.profile import (
    C2PA_CLAIM_SIGNING_EKU,
    CLAIM_SIGNING_EKUS,
    DEVICE_EKUS,
    DEVICE_ROLES,
    CertificateRole,
    extensions_for,
)

#: c2pa-rs' accepted claim-signer EKUs, as dotted strings: its built-ins (emailProtection,
#: timeStamping, OCSPSigning in ``CertificateTrustPolicy::has_allowed_eku``) and
#: ``sdk/src/crypto/cose/valid_eku_oids.cfg``. Pinned so a change of ours is deliberate.
C2PA_RS_ACCEPTED = {
    "1.3.6.1.5.5.7.3.4",
    "1.3.6.1.5.5.7.3.36",
    "1.3.6.1.5.5.7.3.8",
    "1.3.6.1.5.5.7.3.9",
    "1.3.6.1.4.1.311.76.59.1.9",
    "1.3.6.1.4.1.62558.2.1",
}


def _eku(role: CertificateRole) -> tuple[frozenset[x509.ObjectIdentifier], bool] | None:
    """The role's EKUs and whether the extension is critical; None without an EKU."""
    subject, issuer = generate_private_key().public_key(), generate_private_key().public_key()
    for extension in extensions_for(role, subject, issuer):
        if isinstance(extension.value, x509.ExtendedKeyUsage):
            return frozenset(extension.value), extension.critical
    return None


def test_claim_signing_list_is_c2pa_rs_list() -> None:
    assert {oid.dotted_string for oid in CLAIM_SIGNING_EKUS} == C2PA_RS_ACCEPTED


@pytest.mark.parametrize("role", sorted(DEVICE_ROLES), ids=str)
def test_device_leaf_carries_no_claim_signing_eku(role: CertificateRole) -> None:
    eku = _eku(role)
    assert eku is not None
    usages, critical = eku
    assert {oid.dotted_string for oid in usages}.isdisjoint(C2PA_RS_ACCEPTED)
    assert ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages
    assert usages == set(DEVICE_EKUS)
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usages
    assert critical


def test_service_leaf_carries_claim_signing_eku() -> None:
    eku = _eku(CertificateRole.SERVICE)
    assert eku is not None
    usages, _ = eku
    assert C2PA_CLAIM_SIGNING_EKU in usages
    assert ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages
    assert usages <= CLAIM_SIGNING_EKUS
    # c2pa-python 0.38 reads with only its built-ins (emailProtection, timeStamping,
    # OCSPSigning) unless trust_config lists more: a seal without emailProtection reads Invalid.
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in usages
    # Not a TSA or OCSP certificate: c2pa-rs refuses those EKUs mixed with others.
    assert ExtendedKeyUsageOID.TIME_STAMPING not in usages
    assert ExtendedKeyUsageOID.OCSP_SIGNING not in usages


@pytest.mark.parametrize(
    "role", [CertificateRole.ROOT, CertificateRole.INTERMEDIATE], ids=["root", "intermediate"]
)
def test_ca_certificates_carry_no_eku(role: CertificateRole) -> None:
    assert _eku(role) is None

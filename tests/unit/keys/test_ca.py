"""The certificate profile C2PA validators accept, and the PEM signer's file hygiene."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from keys.backends.pem import PEMFileSigner, save_private_key
from keys.ca import (
    create_root,
    generate_private_key,
    issue_certificate,
    issue_intermediate,
    subject_name,
)
from keys.errors import CertificateError, KeyPermissionError
from keys.profile import C2PA_CLAIM_SIGNING_EKU, DOCUMENT_SIGNING_EKU, CertificateRole
from keys.trust import TrustList, verify_chain

NOW = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.fixture(scope="module")
def hierarchy() -> tuple[
    x509.Certificate, x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey
]:
    root = create_root("Root", now=NOW)
    intermediate = issue_intermediate(root, "Service CA", now=NOW)
    key = generate_private_key()
    leaf = issue_certificate(
        intermediate,
        key.public_key(),
        subject_name("svc"),
        role=CertificateRole.SERVICE,
        now=NOW,
        validity=timedelta(days=30),
    )
    return root.certificate, intermediate.certificate, leaf, key


def test_leaf_profile(
    hierarchy: tuple[
        x509.Certificate, x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey
    ],
) -> None:
    _, intermediate, leaf, _ = hierarchy
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    ekus = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ekus == {
        C2PA_CLAIM_SIGNING_EKU,
        DOCUMENT_SIGNING_EKU,
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
    }
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_intermediate_profile(
    hierarchy: tuple[
        x509.Certificate, x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey
    ],
) -> None:
    _, intermediate, _, _ = hierarchy
    constraints = intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    assert constraints.path_length == 0
    assert intermediate.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    intermediate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)


def test_chain_verifies_one_second_inside_validity_only(
    hierarchy: tuple[
        x509.Certificate, x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey
    ],
) -> None:
    root, intermediate, leaf, _ = hierarchy
    trust = TrustList((root,))
    verify_chain(leaf, (intermediate,), trust, now=leaf.not_valid_after_utc - timedelta(seconds=1))
    with pytest.raises(Exception, match="valid"):
        verify_chain(
            leaf, (intermediate,), trust, now=leaf.not_valid_after_utc + timedelta(seconds=1)
        )


def test_leaf_from_another_root_is_refused(
    hierarchy: tuple[
        x509.Certificate, x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey
    ],
) -> None:
    _, intermediate, leaf, _ = hierarchy
    other = create_root("Other", now=NOW).certificate
    with pytest.raises(CertificateError) as caught:
        verify_chain(leaf, (intermediate,), TrustList((other,)), now=NOW)
    assert caught.value.code == "certificate_invalid"


def test_anchors_sharing_a_subject_are_each_tried(
    hierarchy: tuple[
        x509.Certificate, x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey
    ],
) -> None:
    """A retired root of the same name listed first must not hide the one that issued."""
    root, intermediate, leaf, _ = hierarchy
    namesake = create_root("Root", now=NOW).certificate
    assert namesake.subject == root.subject
    verify_chain(leaf, (intermediate,), TrustList((namesake, root)), now=NOW)
    with pytest.raises(CertificateError) as caught:
        verify_chain(leaf, (intermediate,), TrustList((namesake,)), now=NOW)
    assert caught.value.code == "certificate_invalid"


def test_key_file_is_written_0600_and_loose_modes_are_refused(
    tmp_path: Path,
    hierarchy: tuple[
        x509.Certificate, x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey
    ],
) -> None:
    _, intermediate, leaf, key = hierarchy
    path = tmp_path / "service.key"
    save_private_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    signer = PEMFileSigner.from_file(path, (leaf, intermediate))
    signature = signer.sign(b"claim")
    assert len(signature) == 64
    assert "PRIVATE" not in repr(signer)
    os.chmod(path, 0o644)
    with pytest.raises(KeyPermissionError) as caught:
        PEMFileSigner.from_file(path, (leaf, intermediate))
    assert caught.value.code == "key_permissions_too_open"


def test_raw_signature_verifies_with_the_leaf_key(
    tmp_path: Path,
    hierarchy: tuple[
        x509.Certificate, x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey
    ],
) -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    _, intermediate, leaf, key = hierarchy
    raw = PEMFileSigner(key, (leaf, intermediate)).sign(b"payload")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = leaf.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(der, b"payload", ec.ECDSA(hashes.SHA256()))

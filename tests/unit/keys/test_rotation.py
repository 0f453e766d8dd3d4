"""Sealing key rotation and intermediate replacement on a temporary key folder.

After a rotation the new sealing certificate chains to the unchanged root, the old chain is
archived and listed as retired (so earlier seals keep verifying), and the refusals keep the
folder as it was: an offline root, an unknown CA name, a root that is not our anchor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from keys.backends.pem import save_private_key
from keys.ca import CertificateAuthority, create_root, generate_private_key
from keys.errors import CertificateError, KeysError
from keys.offline import export_root, import_root, load_root
from keys.rotation import SERVICE_CA_NAME, Rotation, replace_intermediate, rotate_service_key
from keys.store import DevelopmentCAWarning, KeyStore
from keys.trust import certificates_to_pem, verify_chain

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
VALIDITY = timedelta(days=30)
SECOND = timedelta(seconds=1)


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    store = KeyStore(tmp_path / "keys")
    with pytest.warns(DevelopmentCAWarning):
        store.initialize_development_ca(now=NOW)
    return store


def _serial(certificate: x509.Certificate) -> str:
    return format(certificate.serial_number, "x")


def _chains_to_root(keys: KeyStore, chain: tuple[x509.Certificate, ...], at: datetime) -> None:
    verify_chain(chain[0], chain[1:], keys.trust_list(), now=at)


def _archive(keys: KeyStore) -> set[str]:
    directory = keys.archive_directory
    return {path.name for path in directory.iterdir()} if directory.exists() else set()


def test_rotation_issues_a_new_sealing_certificate_under_the_same_service_ca(
    keys: KeyStore,
) -> None:
    old_chain = keys.service_chain()
    old_key = (keys.directory / "service.key").read_bytes()

    rotation = rotate_service_key(keys, now=LATER, validity=VALIDITY)

    new_chain = keys.service_chain()
    assert rotation == Rotation(_serial(old_chain[0]), _serial(new_chain[0]), None)
    assert rotation.old_serial != rotation.new_serial
    assert new_chain[1] == old_chain[1] == keys.load_ca("service-ca").certificate
    assert (keys.directory / "service.key").read_bytes() != old_key
    _chains_to_root(keys, new_chain, LATER)
    _chains_to_root(keys, old_chain, LATER)  # earlier seals keep verifying


def test_the_old_chain_is_archived_and_listed_as_retired(keys: KeyStore) -> None:
    first = keys.service_chain()
    rotate_service_key(keys, now=LATER, validity=VALIDITY)
    second = keys.service_chain()
    rotate_service_key(keys, now=LATER + SECOND, validity=VALIDITY)
    third = keys.service_chain()

    assert _archive(keys) == {
        f"service-{_serial(first[0])}.pem",
        f"service-{_serial(second[0])}.pem",
    }
    current, *retired = keys.service_certificates()
    assert current == third[0]
    assert set(retired) == {first[0], second[0]}
    assert keys.service_ca_certificates() == (first[1],)


@pytest.mark.parametrize(
    ("offset", "code"),
    [(VALIDITY - SECOND, None), (VALIDITY, None), (VALIDITY + SECOND, "certificate_expired")],
    ids=["second-before-expiry", "at-expiry", "second-after-expiry"],
)
def test_the_new_certificate_lives_for_the_validity_asked(
    keys: KeyStore, offset: timedelta, code: str | None
) -> None:
    rotate_service_key(keys, now=LATER, validity=VALIDITY)
    chain = keys.service_chain()
    assert chain[0].not_valid_after_utc == LATER + VALIDITY
    if code is None:
        _chains_to_root(keys, chain, LATER + offset)
        return
    with pytest.raises(CertificateError) as refused:
        _chains_to_root(keys, chain, LATER + offset)
    assert refused.value.code == code


def test_rotation_certifies_a_key_held_elsewhere_without_touching_the_pem_key(
    keys: KeyStore,
) -> None:
    pem_key = (keys.directory / "service.key").read_bytes()
    held = generate_private_key().public_key()

    rotation = rotate_service_key(keys, now=LATER, validity=VALIDITY, public_key=held)

    chain = keys.service_chain()
    assert chain[0].public_key() == held
    assert rotation.new_serial == _serial(chain[0])
    assert (keys.directory / "service.key").read_bytes() == pem_key
    _chains_to_root(keys, chain, LATER)


def test_rotation_with_a_new_intermediate_archives_the_service_ca(keys: KeyStore) -> None:
    old_chain = keys.service_chain()
    old_ca = keys.load_ca("service-ca").certificate

    rotation = rotate_service_key(keys, now=LATER, validity=VALIDITY, intermediate=True)

    new_ca = keys.load_ca("service-ca")
    new_chain = keys.service_chain()
    assert rotation.intermediate_serial == _serial(new_ca.certificate)
    assert new_ca.certificate != old_ca
    assert new_chain[1] == new_ca.certificate
    common_names = new_ca.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [name.value for name in common_names] == [SERVICE_CA_NAME]
    assert {f"service-ca-{_serial(old_ca)}.crt", f"service-ca-{_serial(old_ca)}.key"} <= (
        _archive(keys)
    )
    assert keys.service_ca_certificates() == (new_ca.certificate, old_ca)
    _chains_to_root(keys, new_chain, LATER)
    _chains_to_root(keys, old_chain, LATER)
    # The CRL is republished, signed by the new CA.
    crl = x509.load_der_x509_crl((keys.directory / "service-ca.crl").read_bytes())
    assert crl.is_signature_valid(new_ca.private_key.public_key())


def test_a_new_intermediate_needs_the_root_key(keys: KeyStore, tmp_path: Path) -> None:
    export_root(keys, tmp_path / "offline", remove=True)
    before = keys.service_chain()

    with pytest.raises(KeysError) as refused:
        rotate_service_key(keys, now=LATER, validity=VALIDITY, intermediate=True)

    assert refused.value.code == "root_offline"
    assert keys.service_chain() == before
    assert _archive(keys) == set()


def test_an_offline_root_issues_the_next_intermediate(keys: KeyStore, tmp_path: Path) -> None:
    offline = export_root(keys, tmp_path / "offline", remove=True)
    old_ca = keys.load_ca("service-ca").certificate

    new_ca = replace_intermediate(keys, load_root(offline), "service-ca", now=LATER)
    rotation = rotate_service_key(keys, now=LATER, validity=VALIDITY)

    assert not (keys.directory / "root.key").exists()
    assert keys.load_ca("service-ca").certificate == new_ca.certificate != old_ca
    chain = keys.service_chain()
    assert chain[1] == new_ca.certificate
    assert rotation.new_serial == _serial(chain[0])
    _chains_to_root(keys, chain, LATER)


def test_the_device_ca_can_be_replaced(keys: KeyStore) -> None:
    old = keys.load_ca("device-ca").certificate

    new = replace_intermediate(keys, keys.load_ca("root"), "device-ca", now=LATER)

    assert keys.device_ca_chain()[0] == new.certificate != old
    assert f"device-ca-{_serial(old)}.crt" in _archive(keys)
    _chains_to_root(keys, keys.device_ca_chain(), LATER)


def test_an_unknown_ca_name_is_refused_before_anything_moves(keys: KeyStore) -> None:
    with pytest.raises(KeysError) as refused:
        replace_intermediate(keys, keys.load_ca("root"), "root", now=LATER)
    assert refused.value.code == "ca_unknown"
    assert _archive(keys) == set()


def test_importing_a_foreign_root_is_refused(keys: KeyStore, tmp_path: Path) -> None:
    ours = export_root(keys, tmp_path / "ours", remove=True)
    foreign = create_root("Stranger Root CA", now=NOW)

    with pytest.raises(KeysError) as not_ours:
        import_root(keys, _write_root(tmp_path / "foreign", foreign))
    assert not_ours.value.code == "root_invalid"

    mismatched = _write_root(tmp_path / "mismatched", foreign)
    (mismatched / "root.key").unlink()
    (mismatched / "root.key").write_bytes((ours / "root.key").read_bytes())
    with pytest.raises(KeysError) as wrong_key:
        import_root(keys, mismatched)  # our key beside a foreign certificate
    assert wrong_key.value.code == "root_invalid"

    assert not (keys.directory / "root.key").exists()
    import_root(keys, ours)
    assert keys.load_ca("root").certificate == load_root(ours).certificate


def test_a_foreign_root_cannot_issue_our_intermediate(keys: KeyStore) -> None:
    foreign = create_root("Stranger Root CA", now=NOW)
    before = keys.load_ca("service-ca").certificate

    with pytest.raises(KeysError) as refused:
        replace_intermediate(keys, foreign, "service-ca", now=LATER)

    assert refused.value.code == "root_invalid"
    assert keys.load_ca("service-ca").certificate == before


def _write_root(directory: Path, root: CertificateAuthority) -> Path:
    directory.mkdir()
    save_private_key(root.private_key, directory / "root.key")
    (directory / "root.crt").write_text(certificates_to_pem((root.certificate,)))
    return directory

"""Revocation registry and CRL building (pure, explicit times)."""

from __future__ import annotations

import dataclasses
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from keys.ca import (
    create_root,
    generate_private_key,
    issue_certificate,
    issue_intermediate,
    subject_name,
)
from keys.errors import KeysError
from keys.profile import CertificateRole
from keys.revocation import Revocation, RevocationRegistry, build_crl, issuer_key_id, parse_reason

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key_compromise", "key_compromise"),
        ("keyCompromise", "key_compromise"),
        ("key-compromise", "key_compromise"),
        ("superseded", "superseded"),
    ],
    ids=["snake", "camel", "kebab", "plain"],
)
def test_reasons_are_normalised(text: str, expected: str) -> None:
    assert parse_reason(text) == expected


def test_unknown_reason_is_refused() -> None:
    with pytest.raises(KeysError) as caught:
        parse_reason("bored")
    assert caught.value.code == "revocation_reason_invalid"


def _leaf(ca_name: str = "Device CA") -> tuple[x509.Certificate, object]:
    root = create_root("Root", now=NOW)
    ca = issue_intermediate(root, ca_name, now=NOW)
    leaf = issue_certificate(
        ca,
        generate_private_key().public_key(),
        subject_name("station-1", unit="station"),
        role=CertificateRole.STATION,
        now=NOW,
        validity=timedelta(days=30),
    )
    return leaf, ca


def _entry(certificate: x509.Certificate, *, at: datetime = NOW) -> Revocation:
    return Revocation(
        serial_hex=format(certificate.serial_number, "x"),
        issuer_key_id=issuer_key_id(certificate),
        kind="device",
        subject="station-1",
        revoked_at=at,
        reason="key_compromise",
    )


def test_registry_round_trip_keeps_the_first_revocation(tmp_path: Path) -> None:
    leaf, _ = _leaf()
    registry = RevocationRegistry(tmp_path / "revocations.json")
    assert registry.load() == ()
    first = registry.add(_entry(leaf))
    again = registry.add(_entry(leaf, at=NOW + timedelta(days=1)))
    assert again == first
    assert registry.load() == (first,)
    assert (tmp_path / "revocations.json").stat().st_mode & 0o777 == 0o644


def test_service_serials_are_decimal_like_c2pa(tmp_path: Path) -> None:
    leaf, _ = _leaf()
    registry = RevocationRegistry(tmp_path / "r.json")
    registry.add(dataclasses.replace(_entry(leaf), kind="service"))
    assert registry.service_serials() == {str(leaf.serial_number): NOW}


def test_corrupt_registry_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"revoked": [{"serial_hex": "zz"}]}')
    with pytest.raises(KeysError) as caught:
        RevocationRegistry(path).load()
    assert caught.value.code == "revocations_corrupt"


def test_crl_lists_only_the_issuers_own_serials() -> None:
    ours, ca = _leaf()
    theirs, _ = _leaf("Other CA")
    crl = build_crl(ca, (_entry(ours), _entry(theirs)), now=NOW)  # type: ignore[arg-type]
    assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[attr-defined]
    assert [entry.serial_number for entry in crl] == [ours.serial_number]
    assert crl.next_update_utc == NOW + timedelta(days=7)
    entry = crl.get_revoked_certificate_by_serial_number(ours.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise


def _add_many(path: str, worker: int, count: int) -> None:
    registry = RevocationRegistry(Path(path))
    for index in range(count):
        registry.add(
            Revocation(
                serial_hex=format(worker * 1000 + index + 1, "x"),
                issuer_key_id="ab" * 20,
                kind="device",
                subject=f"station-{worker}",
                revoked_at=NOW,
                reason="key_compromise",
            )
        )


def test_concurrent_revocations_from_several_processes_are_all_kept(tmp_path: Path) -> None:
    path = tmp_path / "revocations.json"
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_add_many, args=(str(path), worker, 25)) for worker in range(4)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert len(RevocationRegistry(path).load()) == 4 * 25

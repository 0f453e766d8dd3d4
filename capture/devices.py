"""Device certificate lifecycle over the ledger: enrol, renew (same key), revoke.

Used by ``orderseal keys`` and by the renewal route. The device's private key never reaches
the server: enrolment and renewal take a CSR, which only proves possession of the key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from infra.errors import NotFoundError
from infra.ledger.models import Device
from infra.ledger.repository import Ledger
from keys.attestation import verify_signature
from keys.ca import create_root
from keys.enroll import certificate_from_csr
from keys.errors import CertificateError, KeysError
from keys.revocation import Revocation, issuer_key_id, parse_reason
from keys.store import KeyStore
from keys.trust import certificates_to_pem

__all__ = [
    "RENEWAL_SKEW",
    "IssuedDevice",
    "enrol_device",
    "renew_device",
    "renewal_payload",
    "revoke_device",
    "revoke_service_certificate",
    "verify_renewal_proof",
]

#: How far a renewal request's timestamp may be from our clock.
RENEWAL_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedDevice:
    """A certificate issued to a device, with the chain it verifies through."""

    device_id: str
    kind: str
    owner_id: str | None
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    @property
    def certificate_pem(self) -> str:
        """The leaf as PEM."""
        return certificates_to_pem((self.certificate,))

    @property
    def chain_pem(self) -> str:
        """Device CA and root as PEM."""
        return certificates_to_pem(self.chain)


def enrol_device(
    keys: KeyStore,
    ledger: Ledger,
    *,
    csr_pem: bytes,
    device_id: str,
    kind: str,
    owner_id: str | None,
    now: datetime,
    validity: timedelta,
) -> IssuedDevice:
    """Approve a CSR: issue the leaf and record the device.

    Raises:
        CertificateError: bad CSR, key or kind (``certificate_invalid``).
        ConflictError: the device id (or serial) is already enrolled.
    """
    if kind == "buyer" and not owner_id:
        raise CertificateError("expected --owner (the buyer id) for a buyer device")
    device_ca = keys.load_ca("device-ca")
    certificate = certificate_from_csr(
        device_ca, csr_pem, device_id=device_id, kind=kind, now=now, validity=validity
    )
    ledger.add_device(
        Device(
            device_id=device_id,
            kind=kind,
            owner_id=owner_id,
            certificate_pem=certificates_to_pem((certificate,)),
            serial_hex=format(certificate.serial_number, "x"),
            not_after=certificate.not_valid_after_utc,
            enrolled_at=now,
            revoked_at=None,
            revoke_reason=None,
        )
    )
    return IssuedDevice(device_id, kind, owner_id, certificate, device_ca.chain_to_root)


def renewal_payload(device_id: str, csr_pem: bytes, timestamp: str) -> bytes:
    """The bytes a device signs (with its enrolled key) to ask for renewal."""
    digest = hashlib.sha256(csr_pem.strip()).hexdigest()
    return "\n".join(["ORDERSEAL-RENEW-V1", device_id, timestamp, digest]).encode()


@cache
def decoy_certificate_pem() -> str:
    """A certificate no device holds the key of, built once per process.

    An unknown device id is checked against it, so the route does the same work (parse a
    certificate, verify one ECDSA signature) and gives the same answer for an unknown id as
    for an enrolled one with a bad proof: ids cannot be probed.
    """
    decoy = create_root("renewal decoy", now=datetime(2000, 1, 1, tzinfo=UTC))
    return certificates_to_pem((decoy.certificate,))


def verify_renewal_proof(
    enrolled_certificate_pem: str | None,
    *,
    device_id: str,
    csr_pem: bytes,
    timestamp: str,
    signature: str,
    now: datetime,
) -> None:
    """Check a fresh renewal request signed by the device's current key.

    ``enrolled_certificate_pem`` is the device's certificate as the ledger holds it, or None
    for an id that is not enrolled. Both get the same refusal after the same work, so this
    check does not tell an unknown id from an enrolled one (ask about revocation or expiry
    only after it passes: then the caller holds the device key).

    Raises:
        CertificateError: stale timestamp (``renewal_expired``), or no enrolled device whose
            key signed this request (``renewal_proof_invalid``).
    """
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), tz=now.tzinfo)
    except (ValueError, OverflowError, OSError) as exc:
        raise CertificateError("expected a unix timestamp", code="renewal_expired") from exc
    if abs(now - sent_at) > RENEWAL_SKEW:
        raise CertificateError(
            "expected a renewal request signed within 5 minutes", code="renewal_expired"
        )
    refused = CertificateError(
        "expected a renewal request signed by the enrolled device key",
        code="renewal_proof_invalid",
    )
    try:
        certificate = x509.load_pem_x509_certificate(
            (enrolled_certificate_pem or decoy_certificate_pem()).encode()
        )
    except ValueError as exc:
        raise refused from exc
    try:
        verify_signature(certificate, renewal_payload(device_id, csr_pem, timestamp), signature)
    except CertificateError as exc:
        raise refused from exc
    if enrolled_certificate_pem is None:
        raise refused


def _spki(key: object) -> bytes:
    if not hasattr(key, "public_bytes"):
        return b""
    data: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def _current(ledger: Ledger, device_id: str) -> tuple[Device, x509.Certificate]:
    device = ledger.get_device(device_id)
    if device is None:
        raise NotFoundError("expected an enrolled device", code="device_unknown")
    return device, x509.load_pem_x509_certificate(device.certificate_pem.encode())


def renew_device(
    keys: KeyStore,
    ledger: Ledger,
    *,
    device_id: str,
    csr_pem: bytes,
    now: datetime,
    validity: timedelta,
) -> IssuedDevice:
    """Issue a fresh certificate for the same device key, before the current one expires.

    Raises:
        NotFoundError: unknown device (``device_unknown``).
        CertificateError: revoked (``device_revoked``), expired (``device_certificate_expired``:
            enrol again), or a CSR for another key (``renewal_key_mismatch``).
    """
    device, current = _current(ledger, device_id)
    if device.revoked_at is not None:
        raise CertificateError(
            "this device has been revoked", code="device_revoked", http_status=403
        )
    if now >= current.not_valid_after_utc:
        raise CertificateError(
            "expected a current certificate; an expired device must enrol again",
            code="device_certificate_expired",
            http_status=403,
        )
    device_ca = keys.load_ca("device-ca")
    certificate = certificate_from_csr(
        device_ca, csr_pem, device_id=device_id, kind=device.kind, now=now, validity=validity
    )
    if _spki(certificate.public_key()) != _spki(current.public_key()):
        raise CertificateError(
            "expected a CSR for the enrolled device key, found another key",
            code="renewal_key_mismatch",
        )
    ledger.renew_device(
        device_id,
        certificate_pem=certificates_to_pem((certificate,)),
        serial_hex=format(certificate.serial_number, "x"),
        not_after=certificate.not_valid_after_utc,
    )
    # The old certificate stays valid by its dates; listing it as superseded means a verifier
    # using our CRL accepts only the current one (and a later revocation of the device, which
    # names the current serial, cannot leave the old one looking good).
    _list_on_device_crl(keys, current, device_id, at=now, reason="superseded", now=now)
    return IssuedDevice(
        device_id, device.kind, device.owner_id, certificate, device_ca.chain_to_root
    )


def revoke_device(
    keys: KeyStore,
    ledger: Ledger,
    device_id: str,
    *,
    reason: str,
    now: datetime,
    at: datetime | None = None,
) -> Revocation:
    """Revoke a device from ``at`` (default now): ledger, registry, and a fresh device CRL.

    Raises:
        NotFoundError: unknown device (``device_unknown``).
        KeysError: unknown reason (``revocation_reason_invalid``).
    """
    reason = parse_reason(reason)
    _, certificate = _current(ledger, device_id)
    device = ledger.revoke_device(device_id, at=at or now, reason=reason)
    revoked_at = device.revoked_at if device and device.revoked_at else at or now
    return _list_on_device_crl(keys, certificate, device_id, at=revoked_at, reason=reason, now=now)


def _list_on_device_crl(
    keys: KeyStore,
    certificate: x509.Certificate,
    device_id: str,
    *,
    at: datetime,
    reason: str,
    now: datetime,
) -> Revocation:
    """Record a device certificate in the revocation file and republish the device CRL."""
    entry = keys.revocations.add(
        Revocation(
            serial_hex=format(certificate.serial_number, "x"),
            issuer_key_id=issuer_key_id(certificate),
            kind="device",
            subject=device_id,
            revoked_at=at,
            reason=reason,
        )
    )
    keys.publish_crl("device-ca", now=now)
    return entry


def revoke_service_certificate(
    keys: KeyStore,
    serial: str,
    *,
    reason: str,
    now: datetime,
    at: datetime | None = None,
) -> Revocation:
    """Revoke a sealing certificate (``serial`` in hex, or ``current``) and republish the CRL.

    Seals by that key after ``at`` verify as ``block``/``signer_revoked``; rotate first so
    the service stops sealing with it.

    Raises:
        KeysError: no sealing certificate with that serial (``certificate_unknown``).
    """
    reason = parse_reason(reason)
    known = keys.service_certificates()
    if serial == "current":
        matches = known[:1]
    else:
        matches = tuple(c for c in known if format(c.serial_number, "x") == serial.lower())
    if not matches:
        raise KeysError(
            "expected the serial of one of our sealing certificates", code="certificate_unknown"
        )
    certificate = matches[0]
    entry = keys.revocations.add(
        Revocation(
            serial_hex=format(certificate.serial_number, "x"),
            issuer_key_id=issuer_key_id(certificate),
            kind="service",
            subject=format(certificate.serial_number, "x"),
            revoked_at=at or now,
            reason=reason,
        )
    )
    keys.publish_crl("service-ca", now=now)
    return entry

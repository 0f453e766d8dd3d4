"""Devices: the one enrolment path, identity checks, renewal (same key) and revocation.

Used by ``orderseal keys`` and by the device routes through :class:`DeviceService`. The
device's private key never reaches the server: enrolment and renewal take a CSR, which only
proves possession of the key, or (for a browser install, which cannot easily build a CSR)
its P-256 public key with a proof of possession.

Buyer app self-enrolment: the install sends its public key (SPKI) with a signature by that
key over :func:`enrolment_message`, which binds the key to the authenticated buyer and to a
single-use nonce the service issued (:func:`issue_enrolment_nonce`), so a captured proof
cannot be replayed. A buyer holds at most ``max_buyer_devices`` active installs (issue 14,
item 5). The private key stays in the browser (WebCrypto, non-extractable, kept in
IndexedDB). The device CA issues a short-lived buyer leaf and the device is recorded with
``owner_id`` = the buyer, exactly like an admin-approved CSR.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from capture.errors import CaptureError
from infra.errors import ConflictError, InputError, NotFoundError, OrderSealError
from infra.ledger.merchants import DEFAULT_MERCHANT
from infra.ledger.models import Device
from infra.ledger.repository import Ledger
from keys.attestation import verify_key_signature, verify_signature
from keys.ca import CertificateAuthority, create_root, issue_certificate, subject_name
from keys.enroll import certificate_from_csr
from keys.errors import CertificateError, KeysError
from keys.profile import CertificateRole
from keys.revocation import Revocation, issuer_key_id, parse_reason
from keys.store import KeyStore
from keys.trust import TrustList, certificates_to_pem, check_validity, verify_chain

__all__ = [
    "RENEWAL_SKEW",
    "DeviceIdentity",
    "DeviceService",
    "IssuedDevice",
    "enrol_device",
    "enrolment_message",
    "issue_buyer_device_certificate",
    "issue_enrolment_nonce",
    "renew_device",
    "renewal_payload",
    "revoke_device",
    "revoke_service_certificate",
    "verify_enrolment_nonce",
    "verify_renewal_proof",
]

#: How far a renewal request's timestamp may be from our clock.
RENEWAL_SKEW = timedelta(minutes=5)
_ISSUED_CACHE_SIZE = 4096
_MESSAGE_PREFIX = "ORDERSEAL-BUYER-DEVICE-V2"
_NONCE_PREFIX = "bdc1"
# The used_nonces row that makes a nonce single-use (the ledger's device_id column).
_NONCE_OWNER = "buyer-device-enrolment"


@dataclass(frozen=True)
class DeviceIdentity:
    """An enrolled, currently valid device with its certificate."""

    device_id: str
    kind: str
    owner_id: str | None
    certificate: x509.Certificate


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
    merchant_id: str | None = None,
) -> IssuedDevice:
    """Approve a CSR from the operator's command line: issue the leaf and record the device.

    Raises:
        CertificateError: bad CSR, key or kind (``certificate_invalid``), or a buyer device
            without its owner.
        MerchantNotFoundError: ``merchant_not_found``, a station for an unregistered merchant.
        ConflictError: the device id (or serial) is already enrolled.
    """
    return _enrol_csr(
        keys,
        ledger,
        csr_pem=csr_pem,
        device_id=device_id,
        kind=kind,
        owner_id=owner_id,
        now=now,
        validity=validity,
        merchant_id=merchant_id,
    )


def _enrol_csr(
    keys: KeyStore,
    ledger: Ledger,
    *,
    csr_pem: bytes,
    device_id: str,
    kind: str,
    owner_id: str | None,
    now: datetime,
    validity: timedelta,
    merchant_id: str | None = None,
) -> IssuedDevice:
    """The one CSR enrolment: the device CA issues the leaf and the ledger records it.

    A buyer device is refused without its owner: it could never upload, and an ownerless
    buyer key is one no ownership check can place. A station packs for one merchant
    (``merchant_id``, default ``default``), which must be registered; a buyer app names none.
    """
    if kind == "buyer" and not owner_id:
        raise CertificateError("expected the owner (the buyer id) for a buyer device")
    if kind == "buyer" and merchant_id is not None:
        raise InputError("expected no merchant for a buyer app", code="invalid_request")
    merchant = (
        ledger.merchants.require(merchant_id or DEFAULT_MERCHANT).merchant_id
        if kind == "station"
        else None
    )
    device_ca = keys.load_ca("device-ca")
    certificate = certificate_from_csr(
        device_ca, csr_pem, device_id=device_id, kind=kind, now=now, validity=validity
    )
    _record(
        ledger,
        certificate,
        device_id=device_id,
        kind=kind,
        owner_id=owner_id,
        now=now,
        merchant_id=merchant,
    )
    return IssuedDevice(device_id, kind, owner_id, certificate, device_ca.chain_to_root)


def _record(
    ledger: Ledger,
    certificate: x509.Certificate,
    *,
    device_id: str,
    kind: str,
    owner_id: str | None,
    now: datetime,
    merchant_id: str | None = None,
) -> None:
    ledger.add_device(
        Device(
            device_id=device_id,
            kind=kind,
            owner_id=owner_id,
            merchant_id=merchant_id,
            certificate_pem=certificates_to_pem((certificate,)),
            serial_hex=format(certificate.serial_number, "x"),
            not_after=certificate.not_valid_after_utc,
            enrolled_at=now,
            revoked_at=None,
            revoke_reason=None,
        )
    )


def enrolment_message(buyer_id: str, public_key_spki: str, nonce: str) -> bytes:
    """The bytes a buyer install signs: prefix, buyer id, the server's nonce and the key, one
    per line."""
    return "\n".join([_MESSAGE_PREFIX, buyer_id, nonce, public_key_spki]).encode()


def _nonce_mac(secret: bytes, buyer_id: str, issued: int, random_part: str) -> str:
    message = "|".join([_NONCE_PREFIX, buyer_id, str(issued), random_part]).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def issue_enrolment_nonce(secret: bytes, *, buyer_id: str, now: datetime) -> str:
    """A nonce bound to the buyer and the issue time by the service's MAC (stateless).

    Single use is the ledger's job (``used_nonces``), at enrolment.
    """
    issued, random_part = int(now.timestamp()), secrets.token_urlsafe(16)
    mac = _nonce_mac(secret, buyer_id, issued, random_part)
    return ".".join([_NONCE_PREFIX, str(issued), random_part, mac])


def verify_enrolment_nonce(
    secret: bytes, nonce: str, *, buyer_id: str, now: datetime, ttl: timedelta
) -> datetime:
    """Check the nonce is ours, for this buyer and not expired; returns its issue time.

    Raises:
        CaptureError: ``device_challenge_invalid`` (forged, another buyer's, or expired).
    """
    parts = nonce.split(".")
    if len(parts) == 4 and parts[0] == _NONCE_PREFIX and parts[1].isdigit():
        issued = int(parts[1])
        expected = _nonce_mac(secret, buyer_id, issued, parts[2])
        if hmac.compare_digest(expected, parts[3]) and issued <= now.timestamp() + 1:
            issued_at = datetime.fromtimestamp(issued, UTC)
            if now < issued_at + ttl:
                return issued_at
    raise CaptureError(
        "expected an unexpired nonce from POST /v1/buyer-devices/challenge for this buyer",
        code="device_challenge_invalid",
    )


def _parse_public_key(public_key_spki: str) -> ec.EllipticCurvePublicKey:
    try:
        der = base64.b64decode(public_key_spki, validate=True)
        key = serialization.load_der_public_key(der)
    except (binascii.Error, ValueError) as exc:
        raise CaptureError(
            "expected a base64 DER SubjectPublicKeyInfo", code="device_key_invalid"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise CaptureError("expected a P-256 public key", code="device_key_invalid")
    return key


def issue_buyer_device_certificate(
    device_ca: CertificateAuthority,
    *,
    public_key_spki: str,
    proof: str,
    nonce: str,
    buyer_id: str,
    device_id: str,
    now: datetime,
    validity: timedelta,
) -> x509.Certificate:
    """Check the proof of possession, then issue the buyer leaf for the key.

    Raises:
        CaptureError: malformed or non-P-256 key (``device_key_invalid``), or a proof that
            does not verify for this buyer and key (``device_proof_invalid``).
    """
    public_key = _parse_public_key(public_key_spki)
    try:
        verify_key_signature(public_key, enrolment_message(buyer_id, public_key_spki, nonce), proof)
    except CertificateError as exc:
        raise CaptureError(
            "expected a proof signed by this key for this buyer", code="device_proof_invalid"
        ) from exc
    return issue_certificate(
        device_ca,
        public_key,
        subject_name(device_id, unit="buyer"),
        role=CertificateRole.BUYER,
        now=now,
        validity=validity,
    )


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
        raise NotFoundError("expected an enrolled device", code="device_not_found")
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
        NotFoundError: unknown device (``device_not_found``).
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
        NotFoundError: unknown device (``device_not_found``).
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


class DeviceService:
    """Enrolled devices as the routes and the request checks see them.

    Device certificates whose CA signatures already verified are cached by PEM: every signed
    station request needs its device's certificate, and parsing and verifying the chain
    again each time was a tenth of a small upload. Validity dates and revocation are still
    checked on every request.
    """

    def __init__(
        self,
        *,
        keys: KeyStore,
        ledger: Ledger,
        trust: TrustList,
        device_ca_chain: tuple[x509.Certificate, ...],
        token_secret: bytes,
        device_validity: timedelta,
        challenge_ttl: timedelta,
        max_buyer_devices: int,
    ) -> None:
        self.keys = keys
        self.ledger = ledger
        self.trust = trust
        self.device_ca_chain = device_ca_chain
        self.token_secret = token_secret
        self.device_validity = device_validity
        self.challenge_ttl = challenge_ttl
        self.max_buyer_devices = max_buyer_devices
        self._issued_certificates: dict[str, x509.Certificate] = {}

    # Identity ----------------------------------------------------------------
    def identity(self, device_id: str, *, now: datetime) -> DeviceIdentity:
        """Load an enrolled device and check it may act now.

        Raises:
            OrderSealError: unknown (``device_unknown``), revoked (``device_revoked``) or
                expired or invalid (``device_certificate_invalid``) device.
        """
        device: Device | None = self.ledger.get_device(device_id)
        if device is None:
            raise OrderSealError(
                "expected an enrolled device", code="device_unknown", http_status=401
            )
        if device.revoked_at is not None:
            raise OrderSealError(
                "this device has been revoked", code="device_revoked", http_status=403
            )
        try:
            certificate = self._issued_certificate(device.certificate_pem, now=now)
        except CertificateError as exc:
            raise OrderSealError(
                "the device certificate is expired or invalid",
                code="device_certificate_invalid",
                http_status=403,
            ) from exc
        return DeviceIdentity(device.device_id, device.kind, device.owner_id, certificate)

    def buyer_app(self, device_id: str, *, buyer_id: str, now: datetime) -> DeviceIdentity:
        """The buyer's own enrolled app, valid now.

        Raises:
            OrderSealError: as :meth:`identity`, or ``wrong_device`` (403) for a station or
                another buyer's app.
        """
        device = self.identity(device_id, now=now)
        if device.kind != "buyer" or device.owner_id != buyer_id:
            raise OrderSealError(
                "this app is not enrolled to you", code="wrong_device", http_status=403
            )
        return device

    def _issued_certificate(self, certificate_pem: str, *, now: datetime) -> x509.Certificate:
        known = self._issued_certificates.get(certificate_pem)
        if known is not None:
            check_validity((known, *self.device_ca_chain[:-1]), now=now)
            return known
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
        verify_chain(certificate, self.device_ca_chain[:-1], self.trust, now=now)
        if len(self._issued_certificates) >= _ISSUED_CACHE_SIZE:
            self._issued_certificates.clear()  # renewals only ever add; start over
        self._issued_certificates[certificate_pem] = certificate
        return certificate

    # Enrolment ---------------------------------------------------------------
    def enrol(
        self,
        *,
        csr_pem: bytes,
        device_id: str,
        kind: str,
        owner_id: str | None,
        now: datetime,
        merchant_id: str | None = None,
    ) -> IssuedDevice:
        """Approve a device's CSR (admin): the device keeps its key, we issue a short leaf.

        Raises:
            CertificateError: bad CSR, key or kind, or a buyer device without its owner
                (``certificate_invalid``).
            ConflictError: the device id (or serial) is already enrolled.
        """
        return _enrol_csr(
            self.keys,
            self.ledger,
            csr_pem=csr_pem,
            device_id=device_id,
            kind=kind,
            owner_id=owner_id,
            now=now,
            validity=self.device_validity,
            merchant_id=merchant_id,
        )

    def enrolment_challenge(self, *, buyer_id: str, now: datetime) -> tuple[str, datetime]:
        """A single-use nonce a buyer install signs into its proof, and when it expires."""
        nonce = issue_enrolment_nonce(self.token_secret, buyer_id=buyer_id, now=now)
        return nonce, now + self.challenge_ttl

    def enrol_buyer_app(
        self, *, buyer_id: str, public_key_spki: str, proof: str, nonce: str, now: datetime
    ) -> IssuedDevice:
        """A buyer's app install enrols its own key (proof of possession over a fresh nonce).

        Raises:
            CaptureError: ``device_challenge_invalid``, ``device_key_invalid`` or
                ``device_proof_invalid``.
            ConflictError: ``device_limit_reached`` (``max_buyer_devices`` active installs
                already) or ``device_challenge_used`` (a replayed nonce).
        """
        verify_enrolment_nonce(
            self.token_secret, nonce, buyer_id=buyer_id, now=now, ttl=self.challenge_ttl
        )
        active = self.ledger.count_active_buyer_devices(buyer_id, now=now)
        if active >= self.max_buyer_devices:
            raise ConflictError(
                f"expected fewer than {self.max_buyer_devices} active devices for this buyer, "
                f"found {active}: revoke one first",
                code="device_limit_reached",
            )
        device_ca = self.keys.load_ca("device-ca")
        device_id = f"buyer-web-{secrets.token_hex(8)}"
        certificate = issue_buyer_device_certificate(
            device_ca,
            public_key_spki=public_key_spki,
            proof=proof,
            nonce=nonce,
            buyer_id=buyer_id,
            device_id=device_id,
            now=now,
            validity=self.device_validity,
        )
        # Spent only once the proof verified: a garbled request does not burn the nonce. The
        # row may be pruned after the nonce's lifetime: by then the nonce is expired anyway.
        nonce_key = hashlib.sha256(nonce.encode()).hexdigest()
        if not self.ledger.use_nonce(nonce_key, _NONCE_OWNER, now, keep_for=self.challenge_ttl):
            raise ConflictError(
                "expected a fresh nonce, found one already used", code="device_challenge_used"
            )
        _record(
            self.ledger, certificate, device_id=device_id, kind="buyer", owner_id=buyer_id, now=now
        )
        return IssuedDevice(device_id, "buyer", buyer_id, certificate, device_ca.chain_to_root)

    def buyer_device(self, device_id: str, *, buyer_id: str, now: datetime) -> IssuedDevice:
        """Is this install still enrolled to the buyer and valid now?

        Raises:
            NotFoundError: ``device_not_found``, alike for someone else's device and an
                unknown one, so ids cannot be probed.
            OrderSealError: revoked or expired (see :meth:`identity`).
        """
        row = self.ledger.get_device(device_id)
        if row is None or row.kind != "buyer" or row.owner_id != buyer_id:
            raise NotFoundError("no such device enrolled to you", code="device_not_found")
        identity = self.identity(device_id, now=now)
        return IssuedDevice(
            device_id, row.kind, buyer_id, identity.certificate, self.device_ca_chain
        )

    # Renewal -----------------------------------------------------------------
    def renew(
        self, device_id: str, *, csr_pem: bytes, timestamp: str, signature: str, now: datetime
    ) -> IssuedDevice:
        """Renew a device certificate before it expires, with the same device key.

        The proof is checked first, against the enrolled certificate or a decoy: an unknown
        id and an enrolled one with a bad proof get the same ``renewal_proof_invalid`` after
        the same work. Only the key holder learns that the device is revoked or expired.

        Raises:
            CertificateError: ``renewal_expired``, ``renewal_proof_invalid``,
                ``renewal_key_mismatch`` (see :func:`renew_device`).
            OrderSealError: revoked or expired device (see :meth:`identity`).
        """
        enrolled = self.ledger.get_device(device_id)
        verify_renewal_proof(
            enrolled.certificate_pem if enrolled is not None else None,
            device_id=device_id,
            csr_pem=csr_pem,
            timestamp=timestamp,
            signature=signature,
            now=now,
        )
        self.identity(device_id, now=now)  # revoked or expired: 403
        return renew_device(
            self.keys,
            self.ledger,
            device_id=device_id,
            csr_pem=csr_pem,
            now=now,
            validity=self.device_validity,
        )

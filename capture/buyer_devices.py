"""Buyer app self-enrolment: a browser install registers its own WebCrypto key.

A web page cannot easily build a CSR, so the buyer's install sends its P-256 public key (SPKI)
with a proof of possession: a signature by that key over :func:`enrolment_message`, which
binds the key to the authenticated buyer and to a single-use nonce the service issued
(``POST /v1/buyer-devices/challenge``), so a captured proof cannot be replayed. Enrolments
count against their own per-buyer rate limit and a buyer holds at most
``ORDERSEAL_MAX_BUYER_DEVICES`` active installs (issue 14, item 5). The private key stays
in the browser (WebCrypto, non-extractable, kept in IndexedDB). The device CA issues a
short-lived buyer leaf and the device is recorded with ``owner_id`` = the buyer, exactly like
an admin-approved CSR.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from capture.context import CaptureContext
from capture.errors import CaptureError
from infra.auth import BuyerPrincipal
from infra.errors import ConflictError, NotFoundError
from infra.ledger.models import Device
from infra.ratelimit import enforce
from keys.attestation import verify_key_signature
from keys.ca import CertificateAuthority, issue_certificate, subject_name
from keys.errors import CertificateError
from keys.profile import CertificateRole
from keys.trust import certificates_to_pem

__all__ = [
    "BuyerDeviceChallengeOut",
    "BuyerDeviceIn",
    "BuyerDeviceOut",
    "enrolment_message",
    "issue_buyer_device_certificate",
    "issue_enrolment_nonce",
    "router",
    "verify_enrolment_nonce",
]

router = APIRouter(prefix="/v1")

_MESSAGE_PREFIX = "ORDERSEAL-BUYER-DEVICE-V2"
_NONCE_PREFIX = "bdc1"
# The used_nonces row that makes a nonce single-use (the ledger's device_id column).
_NONCE_OWNER = "buyer-device-enrolment"


class BuyerDeviceIn(BaseModel):
    """A browser install's public key and its proof of possession."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    public_key_spki: str = Field(
        max_length=512, description="standard base64 DER SubjectPublicKeyInfo (P-256)"
    )
    proof: str = Field(
        max_length=256,
        description="base64url ECDSA P-256 SHA-256 signature (raw r||s or DER) by that key "
        "over the enrolment message",
    )
    nonce: str = Field(
        max_length=128, description="the nonce from POST /v1/buyer-devices/challenge, unused"
    )


class BuyerDeviceChallengeOut(BaseModel):
    """A single-use nonce for one enrolment, and when it stops being accepted."""

    nonce: str
    expires_at: datetime


class BuyerDeviceOut(BaseModel):
    """The enrolled install: its id and the certificate the device CA issued."""

    device_id: str
    owner_id: str
    certificate_pem: str
    chain_pem: str
    not_after: datetime


def enrolment_message(buyer_id: str, public_key_spki: str, nonce: str) -> bytes:
    """The bytes the install signs: prefix, buyer id, the server's nonce and the key, one per
    line."""
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
    body: BuyerDeviceIn,
    *,
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
    public_key = _parse_public_key(body.public_key_spki)
    try:
        verify_key_signature(
            public_key, enrolment_message(buyer_id, body.public_key_spki, body.nonce), body.proof
        )
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


def _services(request: Request) -> CaptureContext:
    services: CaptureContext = request.app.state.services
    return services


@router.post("/buyer-devices/challenge", status_code=201, tags=["buyer"])
def buyer_device_challenge(principal: BuyerPrincipal, request: Request) -> BuyerDeviceChallengeOut:
    """A single-use nonce the install signs into its enrolment proof (replays are refused)."""
    services = _services(request)
    now = services.clock()
    nonce = issue_enrolment_nonce(services.token_secret, buyer_id=principal.subject, now=now)
    ttl = timedelta(seconds=services.settings.buyer_device_challenge_seconds)
    return BuyerDeviceChallengeOut(nonce=nonce, expires_at=now + ttl)


@router.post("/buyer-devices", status_code=201, tags=["buyer"])
def enrol_buyer_device(
    body: BuyerDeviceIn, principal: BuyerPrincipal, request: Request
) -> BuyerDeviceOut:
    """A buyer's app install enrols its own key (proof of possession over a fresh nonce).

    Refusals: ``429 rate_limited`` (the buyer's ``enrolments`` bucket),
    ``422 device_challenge_invalid``, ``409 device_challenge_used`` (a replayed nonce),
    ``409 device_limit_reached`` (``ORDERSEAL_MAX_BUYER_DEVICES`` active installs already),
    ``422 device_key_invalid`` / ``device_proof_invalid``.
    """
    enforce(request, "enrolments", principal)
    services = _services(request)
    settings = services.settings
    now = services.clock()
    ttl = timedelta(seconds=settings.buyer_device_challenge_seconds)
    verify_enrolment_nonce(
        services.token_secret, body.nonce, buyer_id=principal.subject, now=now, ttl=ttl
    )
    active = services.ledger.count_active_buyer_devices(principal.subject, now=now)
    if active >= settings.max_buyer_devices:
        raise ConflictError(
            f"expected fewer than {settings.max_buyer_devices} active devices for this buyer, "
            f"found {active}: revoke one first",
            code="device_limit_reached",
        )
    device_ca = services.keys.load_ca("device-ca")
    device_id = f"buyer-web-{secrets.token_hex(8)}"
    certificate = issue_buyer_device_certificate(
        device_ca,
        body,
        buyer_id=principal.subject,
        device_id=device_id,
        now=now,
        validity=timedelta(days=settings.device_cert_days),
    )
    # Spent only once the proof verified: a garbled request does not burn the nonce. The row
    # may be pruned after the nonce's lifetime: by then the nonce is expired anyway.
    nonce_key = hashlib.sha256(body.nonce.encode()).hexdigest()
    if not services.ledger.use_nonce(nonce_key, _NONCE_OWNER, now, keep_for=ttl):
        raise ConflictError(
            "expected a fresh nonce, found one already used", code="device_challenge_used"
        )
    certificate_pem = certificates_to_pem((certificate,))
    services.ledger.add_device(
        Device(
            device_id=device_id,
            kind="buyer",
            owner_id=principal.subject,
            certificate_pem=certificate_pem,
            serial_hex=format(certificate.serial_number, "x"),
            not_after=certificate.not_valid_after_utc,
            enrolled_at=now,
            revoked_at=None,
            revoke_reason=None,
        )
    )
    return BuyerDeviceOut(
        device_id=device_id,
        owner_id=principal.subject,
        certificate_pem=certificate_pem,
        chain_pem=certificates_to_pem(device_ca.chain_to_root),
        not_after=certificate.not_valid_after_utc,
    )


@router.get("/buyer-devices/{device_id}", tags=["buyer"])
def buyer_device(device_id: str, principal: BuyerPrincipal, request: Request) -> BuyerDeviceOut:
    """Is this install still enrolled to the caller and valid now? (The page asks on load.)

    Someone else's device and an unknown one get the same 404, so ids cannot be probed.
    """
    services = _services(request)
    row = services.ledger.get_device(device_id)
    if row is None or row.kind != "buyer" or row.owner_id != principal.subject:
        raise NotFoundError("no such device enrolled to you", code="device_not_found")
    identity = services.capture.device_identity(device_id, now=services.clock())
    return BuyerDeviceOut(
        device_id=device_id,
        owner_id=principal.subject,
        certificate_pem=row.certificate_pem,
        chain_pem=certificates_to_pem(services.capture.device_ca_chain),
        not_after=identity.certificate.not_valid_after_utc,
    )

"""Buyer app self-enrolment: a browser install registers its own WebCrypto key.

A web page cannot easily build a CSR, so the buyer's install sends its P-256 public key (SPKI)
with a proof of possession: a signature by that key over :func:`enrolment_message`, which
binds the key to the authenticated buyer. The private key stays in the browser (WebCrypto,
non-extractable, kept in IndexedDB). The device CA issues a short-lived buyer leaf and the
device is recorded with ``owner_id`` = the buyer, exactly like an admin-approved CSR.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from capture.errors import CaptureError
from infra.auth import BuyerPrincipal
from infra.errors import NotFoundError
from infra.ledger.models import Device
from infra.services import Services
from keys.attestation import verify_key_signature
from keys.ca import CertificateAuthority, issue_certificate, subject_name
from keys.errors import CertificateError
from keys.profile import CertificateRole
from keys.trust import certificates_to_pem

__all__ = [
    "BuyerDeviceIn",
    "BuyerDeviceOut",
    "enrolment_message",
    "issue_buyer_device_certificate",
    "router",
]

router = APIRouter(prefix="/v1")

_MESSAGE_PREFIX = "ORDERSEAL-BUYER-DEVICE-V1"


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


class BuyerDeviceOut(BaseModel):
    """The enrolled install: its id and the certificate the device CA issued."""

    device_id: str
    owner_id: str
    certificate_pem: str
    chain_pem: str
    not_after: datetime


def enrolment_message(buyer_id: str, public_key_spki: str) -> bytes:
    """The bytes the install signs: prefix, buyer id and the key, one per line."""
    return "\n".join([_MESSAGE_PREFIX, buyer_id, public_key_spki]).encode()


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
            public_key, enrolment_message(buyer_id, body.public_key_spki), body.proof
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


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@router.post("/buyer-devices", status_code=201, tags=["buyer"])
def enrol_buyer_device(
    body: BuyerDeviceIn, principal: BuyerPrincipal, request: Request
) -> BuyerDeviceOut:
    """A buyer's app install enrols its own key (proof of possession, no CSR)."""
    services = _services(request)
    now = services.clock()
    device_ca = services.keys.load_ca("device-ca")
    device_id = f"buyer-web-{secrets.token_hex(8)}"
    certificate = issue_buyer_device_certificate(
        device_ca,
        body,
        buyer_id=principal.subject,
        device_id=device_id,
        now=now,
        validity=timedelta(days=services.settings.device_cert_days),
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

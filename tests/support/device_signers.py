"""Device keys used as C2PA claim signers, the way an attacker with an enrolled key would.

``sign_as_device`` signs with plain c2pa-python (Builder + a callback signer over the device
key and its chain), outside OrderSeal's sealer. ``legacy_device_certificate`` issues a device
leaf in the profile used before device leaves lost their claim-signing EKUs
(emailProtection + documentSigning, non-critical), as a device enrolled then still holds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from infra.ledger.models import Device
from infra.ledger.repository import Ledger
from keys.ca import CertificateAuthority, subject_name
from keys.profile import CertificateRole
from keys.signatures import der_to_raw_signature
from keys.trust import certificates_to_pem
from orderseal import forgery

__all__ = [
    "LEGACY_DEVICE_EKUS",
    "enrol_legacy_device",
    "legacy_device_certificate",
    "sign_as_device",
]

#: What ``keys/profile.py`` gave every non-CA leaf before the change.
LEGACY_DEVICE_EKUS = forgery.LEGACY_DEVICE_EKUS

_DIGITAL_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


def legacy_device_certificate(
    device_ca: CertificateAuthority,
    public_key: ec.EllipticCurvePublicKey,
    *,
    device_id: str,
    kind: str,
    now: datetime,
    validity: timedelta = timedelta(days=30),
) -> x509.Certificate:
    """A device leaf in the old profile: today's extensions with the old EKUs."""
    return forgery.legacy_device_certificate(
        device_ca,
        public_key,
        subject_name(device_id, unit=kind),
        role=CertificateRole.BUYER if kind == "buyer" else CertificateRole.STATION,
        now=now,
        validity=validity,
    )


def enrol_legacy_device(
    ledger: Ledger,
    certificate: x509.Certificate,
    *,
    device_id: str,
    kind: str,
    owner_id: str | None,
    now: datetime,
) -> None:
    """Record ``certificate`` in the ledger, as enrolment did before the profile change."""
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


def sign_as_device(
    source: Path,
    dest: Path,
    *,
    private_key: ec.EllipticCurvePrivateKey,
    chain: tuple[x509.Certificate, ...],
    settings: dict[str, Any] | None = None,
    assertions: tuple[dict[str, Any], ...] = (),
) -> Path:
    """Sign ``source`` (JPEG) into ``dest`` with plain c2pa and a device key.

    Args:
        source: the staged picture.
        dest: where the signed copy goes.
        private_key: the device's key.
        chain: the device leaf, then its issuers.
        settings: c2pa settings for the Builder's context (default: c2pa's own).
        assertions: more ``assertions[]`` entries, such as a forged ``org.orderseal.capture``.

    Raises:
        c2pa.C2paError: c2pa refuses to sign (``Signature`` for a certificate it will not
            accept as a claim signer).
    """

    def sign(data: bytes) -> bytes:
        return der_to_raw_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))

    signer = c2pa.Signer.from_callback(
        sign, c2pa.C2paSigningAlg.ES256, certificates_to_pem(chain), None
    )
    definition = {
        "claim_generator_info": [{"name": "staged-by-device", "version": "1"}],
        "title": source.name,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [{"action": "c2pa.created", "digitalSourceType": _DIGITAL_CAPTURE}]
                },
            },
            *assertions,
        ],
    }
    context = c2pa.Context.from_dict(settings or {})
    try:
        with (
            c2pa.Builder(definition, context=context) as builder,
            source.open("rb") as src,
            dest.open("w+b") as dst,
        ):
            builder.sign(signer, "image/jpeg", src, dst)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return dest

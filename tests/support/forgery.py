"""Forgers for the sealing-authority tests: real enrolled device keys, edited sealed files.

The signing itself is :mod:`orderseal.forgery` (shared with the demo). Here: how a forger gets
a key and certificate (self-enrolment with a buyer token, admin enrolment of a station, or a
device enrolled before the device EKU change, recorded in the ledger as enrolment did then),
and the byte edits that leave a sealed MP4 playable but no longer what was sealed.
"""

from __future__ import annotations

import base64
import secrets
import struct
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keys.attestation import b64url_encode
from keys.ca import generate_private_key, subject_name
from keys.profile import CertificateRole
from keys.signatures import der_to_raw_signature
from keys.trust import certificates_from_pem
from orderseal.forgery import legacy_device_certificate
from orderseal.services import Services
from tests.support.device_signers import enrol_legacy_device

__all__ = [
    "Forger",
    "admin_enrolled_station",
    "append_top_level_box",
    "edit_ftyp_compatible_brand",
    "legacy_enrolled_device",
    "self_enrolled_buyer_device",
]


@dataclass(frozen=True)
class Forger:
    """A device key with the certificate chain it signs under (leaf first, no root)."""

    device_id: str
    private_key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...]


def _without_root(certificates: tuple[x509.Certificate, ...]) -> tuple[x509.Certificate, ...]:
    return tuple(c for c in certificates if c.subject != c.issuer)


def self_enrolled_buyer_device(base_url: str, buyer_token: str, buyer_id: str) -> Forger:
    """Enrol a fresh key through ``POST /v1/buyer-devices`` with nothing but a buyer token."""
    from capture.devices import enrolment_message

    key = generate_private_key()
    spki = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    from tests.support.flows import enrolment_nonce

    nonce = enrolment_nonce(base_url, buyer_token)
    der = key.sign(enrolment_message(buyer_id, spki, nonce), ec.ECDSA(hashes.SHA256()))
    response = httpx.post(
        f"{base_url}/v1/buyer-devices",
        json={
            "public_key_spki": spki,
            "proof": b64url_encode(der_to_raw_signature(der)),
            "nonce": nonce,
        },
        headers={"Authorization": f"Bearer {buyer_token}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    leaf = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    chain = _without_root(certificates_from_pem(body["chain_pem"].encode()))
    return Forger(body["device_id"], key, (leaf, *chain))


def admin_enrolled_station(base_url: str, admin_key: str) -> Forger:
    """Enrol a station by CSR through the admin route; keep the certificate it returns."""
    device_id = f"station-{secrets.token_hex(4)}"
    key = generate_private_key()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, device_id)]))
        .sign(key, hashes.SHA256())
    )
    response = httpx.post(
        f"{base_url}/v1/devices",
        json={
            "device_id": device_id,
            "kind": "station",
            "owner_id": None,
            "csr_pem": csr.public_bytes(serialization.Encoding.PEM).decode(),
        },
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    leaf = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    return Forger(
        device_id, key, (leaf, *_without_root(certificates_from_pem(body["chain_pem"].encode())))
    )


def legacy_enrolled_device(services: Services, *, kind: str, owner_id: str | None) -> Forger:
    """A device enrolled before the EKU change: old-profile leaf, recorded in the ledger.

    The row is what enrolment wrote then (same fields as ``POST /v1/devices``), so the device
    can be revoked through ``orderseal keys revoke`` like any other.
    """
    now = services.clock()
    device_id = f"{kind}-legacy-{secrets.token_hex(4)}"
    device_ca = services.keys.load_ca("device-ca")
    key = generate_private_key()
    certificate = legacy_device_certificate(
        device_ca,
        key.public_key(),
        subject_name(device_id, unit=kind),
        role=CertificateRole(kind),
        now=now,
        validity=timedelta(days=services.settings.device_cert_days),
    )
    enrol_legacy_device(
        services.ledger, certificate, device_id=device_id, kind=kind, owner_id=owner_id, now=now
    )
    return Forger(device_id, key, (certificate, *_without_root(device_ca.chain_to_root)))


def append_top_level_box(source: Path, dest: Path, box_type: bytes, payload: bytes) -> Path:
    """Copy an MP4 and append one top-level box (``free``/``skip`` can carry anything)."""
    if len(box_type) != 4:
        raise ValueError(f"expected a 4-byte box type, found {box_type!r}")
    dest.write_bytes(source.read_bytes() + struct.pack(">I", 8 + len(payload)) + box_type + payload)
    return dest


def edit_ftyp_compatible_brand(source: Path, dest: Path, brand: bytes = b"qt  ") -> Path:
    """Copy an MP4 and replace the last compatible brand of its leading ``ftyp`` box.

    Raises:
        ValueError: the file does not start with an ``ftyp`` box with a compatible brand.
    """
    data = bytearray(source.read_bytes())
    size = struct.unpack(">I", data[:4])[0]
    if data[4:8] != b"ftyp" or size < 20 or len(brand) != 4:
        raise ValueError("expected an MP4 starting with ftyp and a compatible brand")
    if data[size - 4 : size] == brand:
        raise ValueError(f"the last compatible brand is already {brand!r}")
    data[size - 4 : size] = brand
    dest.write_bytes(bytes(data))
    return dest

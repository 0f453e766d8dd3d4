"""UNSAFE, demo and tests only: the attacker's tool. Signs C2PA claims with a device key.

OrderSeal's verifier must refuse every file whose claim is not signed by our sealing service.
To show that, the demo and the tests forge such files the way a buyer or a station owner
would: plain c2pa-python, their own device key and certificate, and whatever they can copy
out of an honest sealed file (its manifest id, its ``org.orderseal.capture`` assertion and
its shipment ingredients). Nothing in the service imports this module.

Current device certificates carry EKUs that c2pa refuses for claim signing, so c2pa will not
sign with them (:class:`ForgeryRefusedError`). Devices enrolled before that change hold
certificates of the old leaf profile (emailProtection + documentSigning), which c2pa accepts;
:func:`legacy_device_certificate` issues one so the verifier's own signer check is exercised.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from evidence.manifest import ASSERTION_LABEL, DIGITAL_CAPTURE
from keys.ca import CertificateAuthority, issue_certificate
from keys.profile import DOCUMENT_SIGNING_EKU, CertificateRole
from keys.signatures import der_to_raw_signature
from keys.trust import certificates_to_pem

__all__ = [
    "LEGACY_DEVICE_EKUS",
    "CopiedSeal",
    "ForgeryRefusedError",
    "legacy_device_certificate",
    "sign_with_device_key",
]

#: The leaf EKUs every certificate got before device leaves were split from sealing leaves.
LEGACY_DEVICE_EKUS = (ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_EKU)
_GENERATOR = {"name": "OrderSeal", "version": "0.1.0"}  # the forger claims to be us
# Fields of a reader's ingredient that a builder definition takes back unchanged.
_INGREDIENT_FIELDS = (
    "title",
    "format",
    "instance_id",
    "relationship",
    "active_manifest",
    "manifest_data",
    "validation_results",
    "label",
)


class ForgeryRefusedError(Exception):
    """c2pa refused to sign with the given certificate (or could not read the source)."""


def legacy_device_certificate(
    device_ca: CertificateAuthority,
    public_key: ec.EllipticCurvePublicKey,
    subject: x509.Name,
    *,
    role: CertificateRole,
    now: datetime,
    validity: timedelta,
) -> x509.Certificate:
    """Issue a device leaf in the old profile, as devices enrolled before the EKU split hold.

    Args:
        device_ca: the device CA (with its key).
        public_key: the device's key.
        subject: the device's subject name.
        role: ``station`` or ``buyer``.
        now: aware UTC issue time.
        validity: lifetime.

    Returns:
        A leaf like ``issue_certificate`` makes, with EKUs emailProtection + documentSigning.
    """
    current = issue_certificate(
        device_ca, public_key, subject, role=role, now=now, validity=validity
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(current.subject)
        .issuer_name(current.issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(current.not_valid_before_utc)
        .not_valid_after(current.not_valid_after_utc)
    )
    for extension in current.extensions:
        if isinstance(extension.value, x509.ExtendedKeyUsage):
            builder = builder.add_extension(
                x509.ExtendedKeyUsage(list(LEGACY_DEVICE_EKUS)), critical=False
            )
        else:
            builder = builder.add_extension(extension.value, critical=extension.critical)
    return builder.sign(device_ca.private_key, hashes.SHA256())


@dataclass(frozen=True)
class CopiedSeal:
    """What anyone holding an honest sealed file can cut out of its manifest store."""

    manifest_id: str
    assertion: dict[str, Any]
    ingredients: tuple[dict[str, Any], ...]
    manifest_data: dict[str, bytes]

    @classmethod
    def from_sealed(cls, path: Path, media_type: str) -> CopiedSeal:
        """Read an honest sealed file's active manifest id, capture assertion and ingredients.

        Raises:
            ForgeryRefusedError: the file has no readable manifest or no capture assertion.
        """
        try:
            with path.open("rb") as stream, c2pa.Reader(media_type, stream) as reader:
                store = json.loads(reader.json())
                label = store["active_manifest"]
                active = store["manifests"][label]
                ingredients = tuple(
                    {k: v for k, v in ing.items() if k in _INGREDIENT_FIELDS}
                    for ing in active.get("ingredients", [])
                )
                data: dict[str, bytes] = {}
                for ingredient in ingredients:
                    identifier = ingredient.get("manifest_data", {}).get("identifier")
                    if identifier:
                        buffer = io.BytesIO()
                        reader.resource_to_stream(identifier, buffer)
                        data[identifier] = buffer.getvalue()
        except c2pa.C2paError as exc:
            raise ForgeryRefusedError(f"could not read {path.name}") from exc
        assertion = next((a for a in active["assertions"] if a["label"] == ASSERTION_LABEL), None)
        if assertion is None:
            raise ForgeryRefusedError(f"{path.name} carries no {ASSERTION_LABEL} assertion")
        return cls(label, assertion["data"], ingredients, data)


def sign_with_device_key(
    source: Path,
    dest: Path,
    *,
    media_type: str,
    private_key: ec.EllipticCurvePrivateKey,
    chain: tuple[x509.Certificate, ...],
    trust_pem: str,
    copied: CopiedSeal | None = None,
) -> Path:
    """Sign ``source`` into ``dest`` with a device key, optionally wearing an honest seal.

    Args:
        source: the staged media.
        dest: where the signed file goes.
        media_type: the media type of ``source``.
        private_key: the device's P-256 key.
        chain: the device leaf and its CA certificates (no root).
        trust_pem: anchors the forger's c2pa loads (ours: a forger would use them too).
        copied: manifest id, capture assertion and ingredients to copy, or none (bare photo).

    Returns:
        ``dest``.

    Raises:
        ForgeryRefusedError: c2pa refused the certificate or the file.
    """
    definition: dict[str, Any] = {
        "title": source.name,
        "claim_generator_info": [_GENERATOR],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [{"action": "c2pa.created", "digitalSourceType": DIGITAL_CAPTURE}]
                },
            }
        ],
    }
    if copied is not None:
        definition["label"] = copied.manifest_id
        definition["assertions"].append({"label": ASSERTION_LABEL, "data": copied.assertion})
        definition["ingredients"] = [dict(ingredient) for ingredient in copied.ingredients]
    context = c2pa.Context.from_dict(
        {
            "trust": {"trust_anchors": trust_pem},
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            "builder": {"thumbnail": {"enabled": False}},
        }
    )

    def sign(data: bytes) -> bytes:
        return der_to_raw_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))

    try:
        signer = c2pa.Signer.from_callback(
            sign, c2pa.C2paSigningAlg.ES256, certificates_to_pem(chain), None
        )
        with c2pa.Builder(definition, context=context) as builder:
            for identifier, data in (copied.manifest_data if copied else {}).items():
                builder.add_resource(identifier, io.BytesIO(data))
            with source.open("rb") as src, dest.open("w+b") as dst:
                builder.sign(signer, media_type, src, dst)
    except c2pa.C2paError as exc:
        dest.unlink(missing_ok=True)
        raise ForgeryRefusedError(
            f"c2pa refused to sign with {chain[0].subject.rfc4514_string()}"
        ) from exc
    return dest

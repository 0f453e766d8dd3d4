"""Rotation of the sealing key and of the service CA, without breaking earlier evidence.

Old evidence keeps verifying because each manifest carries its own chain (leaf and service
CA) up to the unchanged root anchor. Retired chains stay in ``archive/`` so label tokens
signed by old keys still verify, and a retired CA's key can still sign its CRL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from keys.ca import CertificateAuthority, issue_intermediate
from keys.errors import KeysError
from keys.store import KeyStore

__all__ = ["SERVICE_CA_NAME", "Rotation", "replace_intermediate", "rotate_service_key"]

SERVICE_CA_NAME = "OrderSeal Service CA"
_CA_NAMES = {"service-ca": SERVICE_CA_NAME, "device-ca": "OrderSeal Device CA"}


@dataclass(frozen=True)
class Rotation:
    """Serials (hex) before and after a rotation."""

    old_serial: str
    new_serial: str
    intermediate_serial: str | None = None


def replace_intermediate(
    keys: KeyStore, root: CertificateAuthority, name: str, *, now: datetime
) -> CertificateAuthority:
    """Issue a new ``service-ca`` or ``device-ca`` under ``root``; archive the old one.

    Raises:
        KeysError: unknown CA name (``ca_unknown``), or a root that is not one of this key
            folder's anchors (``root_invalid``): a CA under it would seal what no verifier
            trusts.
    """
    if name not in _CA_NAMES:
        raise KeysError(f"expected service-ca or device-ca, found {name!r}", code="ca_unknown")
    if root.certificate not in keys.trust_list().anchors:
        raise KeysError("expected the root of this key folder's anchors", code="root_invalid")
    new_ca = issue_intermediate(root, _CA_NAMES[name], now=now)
    keys.archive_ca(name)
    keys.save_ca(name, new_ca)
    keys.publish_crl(name, now=now)
    return new_ca


def rotate_service_key(
    keys: KeyStore,
    *,
    now: datetime,
    validity: timedelta,
    intermediate: bool = False,
    public_key: ec.EllipticCurvePublicKey | None = None,
) -> Rotation:
    """Retire the current sealing certificate and issue the next one.

    Args:
        keys: the key folder.
        now: aware UTC time.
        validity: lifetime of the new sealing certificate.
        intermediate: also replace the service CA (needs the root key in the folder; with an
            offline root use ``orderseal keys issue-intermediate --root-dir`` first).
        public_key: certify this key (HSM or KMS); ``None`` makes a new PEM key in the folder.

    Raises:
        KeysError: ``root_offline`` when ``intermediate`` is asked without the root key.
    """
    root = None
    if intermediate:
        if not (keys.directory / "root.key").exists():
            raise KeysError(
                "expected the root key for a new intermediate; it is offline: run "
                "orderseal keys issue-intermediate --root-dir DIR",
                code="root_offline",
            )
        root = keys.load_ca("root")
    old = keys.archive_service_chain()
    new_ca_serial = None
    if root is not None:
        new_ca_serial = format(
            replace_intermediate(keys, root, "service-ca", now=now).certificate.serial_number, "x"
        )
    service_ca = keys.load_ca("service-ca")
    if public_key is None:
        new = keys.issue_service_key(service_ca, now=now, validity=validity)
    else:
        new = keys.issue_service_certificate(service_ca, public_key, now=now, validity=validity)
    return Rotation(format(old.serial_number, "x"), format(new.serial_number, "x"), new_ca_serial)

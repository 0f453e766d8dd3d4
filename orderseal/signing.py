"""Chooses the sealing key backend from settings: ``ORDERSEAL_SIGNER=file|pkcs11|kms``.

``ORDERSEAL_SERVICE_KEY_URI`` still works and wins when set; otherwise the URI is built from
the backend's own settings. The capture service only ever sees a ``keys.Signer``.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from infra.settings import Settings
from keys.backends.kms import KMSKeyRef
from keys.backends.pkcs11 import PKCS11KeyRef
from keys.errors import KeysError
from keys.signer import PublicKeySigner, Signer
from keys.store import KeyStore

__all__ = ["open_service_signer", "service_key_uri"]


def service_key_uri(settings: Settings, keys: KeyStore) -> str:
    """The key URI the settings select.

    Raises:
        KeysError: the selected backend lacks its required settings (``signer_misconfigured``).
    """
    if settings.service_key_uri:
        return settings.service_key_uri
    if settings.signer == "pkcs11":
        if not settings.pkcs11_token:
            raise KeysError(
                "expected ORDERSEAL_PKCS11_TOKEN with ORDERSEAL_SIGNER=pkcs11",
                code="signer_misconfigured",
            )
        return PKCS11KeyRef(
            settings.pkcs11_module, settings.pkcs11_token, settings.pkcs11_key_label
        ).to_uri()
    if settings.signer == "kms":
        if not settings.kms_key_id:
            raise KeysError(
                "expected ORDERSEAL_KMS_KEY_ID with ORDERSEAL_SIGNER=kms",
                code="signer_misconfigured",
            )
        return KMSKeyRef(
            settings.kms_key_id,
            settings.kms_region,
            settings.kms_endpoint_url,
            settings.kms_message_type,
        ).to_uri()
    return f"file:{keys.directory / 'service.key'}"


def open_service_signer(settings: Settings, keys: KeyStore, *, check_chain: bool = True) -> Signer:
    """Open the sealing signer and, by default, check the current chain certifies its key.

    Raises:
        KeysError: misconfigured backend, or a chain for another key
            (``service_certificate_mismatch``: run ``orderseal keys rotate``).
        SignerError: the backend cannot be reached.
    """
    uri = service_key_uri(settings, keys)
    pin = settings.pkcs11_pin.get_secret_value().encode() or None
    signer = keys.service_signer(uri, secret=pin if uri.startswith("pkcs11:") else None)
    if check_chain and isinstance(signer, PublicKeySigner):
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        leaf = signer.certificate_chain[0].public_key().public_bytes(*spki)
        if leaf != signer.public_key().public_bytes(*spki):
            raise KeysError(
                "expected the sealing certificate to certify the configured key, found another "
                "key; run orderseal keys rotate",
                code="service_certificate_mismatch",
            )
    return signer

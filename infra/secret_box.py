"""Secrets the service must read back (webhook ``whsec_`` secrets), sealed before they are stored.

A webhook secret has to be readable to sign with, so it cannot be hashed like an API key. The
ledger keeps it sealed with AES-256-GCM under a key derived (HKDF-SHA256, one ``purpose`` per
kind of secret) from the service's secret in ``keys/``, which is a 0600 file outside the
database. A database dump, a replica or a backup alone therefore reveals no secret.

Adversary: someone who reads the ledger (a leaked dump, a read-only SQL account, a backup) and
wants to forge ``v1`` webhook signatures a partner accepts. Without ``keys/token.key`` the
sealed values are useless. Someone who can *write* the ledger and copies one endpoint's sealed
secret onto another endpoint gains nothing either: the endpoint id is the associated data, so
the copy no longer opens.

Values stored before sealing existed (a plain ``whsec_...``) are read as they are, and sealed
the next time the endpoint's secret is rotated.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from infra.errors import OrderSealError

__all__ = ["SEALED_PREFIX", "SecretBox", "SecretUnreadableError"]

#: Marks a sealed value (version 1: 12-byte nonce, then ciphertext and tag, URL-safe base64).
SEALED_PREFIX = "sealed1."
_NONCE_BYTES = 12


class SecretUnreadableError(OrderSealError):
    """A stored secret does not open under this service's key (edited, moved or re-keyed)."""

    code = "stored_secret_unreadable"
    http_status = 500


@dataclass(frozen=True)
class SecretBox:
    """Seal and open stored secrets of one purpose, each bound to the row it belongs to."""

    _aead: AESGCM = field(repr=False)

    @classmethod
    def derive(cls, root_secret: bytes, *, purpose: str) -> SecretBox:
        """A box whose key is HKDF(``root_secret``) for ``purpose`` alone."""
        if len(root_secret) < 16:
            raise ValueError("expected a root secret of at least 16 bytes")
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=f"orderseal secret box v1: {purpose}".encode(),
        ).derive(root_secret)
        return cls(AESGCM(key))

    def seal(self, plaintext: str, *, context: str) -> str:
        """``plaintext`` sealed for the row named by ``context`` (its id)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str, *, context: str) -> str:
        """The plaintext of a stored value (a value from before sealing is returned as is).

        Raises:
            SecretUnreadableError: ``stored_secret_unreadable``.
        """
        if not stored.startswith(SEALED_PREFIX):
            return stored
        try:
            raw = base64.urlsafe_b64decode(stored.removeprefix(SEALED_PREFIX).encode())
            opened = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError) as exc:
            raise SecretUnreadableError(
                "a stored secret does not open under this service's key"
            ) from exc
        return opened.decode()

"""The webhook signing key: ed25519, kept in the key folder, signing Standard Webhooks ``v1a``.

Partners verify verdict webhooks with its public half (``whpk_...``), published at
``GET /v1/trust/webhook-keys`` and in the exported trust bundle, so no shared secret is needed.
The private key is created on first use (mode 0600) and never leaves this object.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.backends.pem import save_private_key
from keys.errors import KeysError

__all__ = ["WEBHOOK_KEY_FILE", "WebhookSigningKey"]

#: The key's file name in the key folder.
WEBHOOK_KEY_FILE = "webhook-signing.key"


class WebhookSigningKey:
    """Signs webhook content with ed25519; exposes only the public key and its id."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        #: The 32 raw bytes of the public key.
        self.public_key_raw = raw
        #: A short stable name for the key (rotation keeps old ids resolvable in the bundle).
        self.key_id = "whk_" + hashlib.sha256(raw).hexdigest()[:16]
        #: The public key as receivers take it: ``whpk_`` + base64 of the raw bytes.
        self.public_key = "whpk_" + base64.b64encode(raw).decode()

    def __repr__(self) -> str:
        return f"WebhookSigningKey({self.key_id})"

    @classmethod
    def load_or_create(cls, path: Path) -> WebhookSigningKey:
        """The key at ``path``, created there (0600) when missing.

        Raises:
            KeysError: ``keys_error`` when the file is not an ed25519 private key.
        """
        if not path.exists():
            try:
                save_private_key(Ed25519PrivateKey.generate(), path)
            except FileExistsError:
                pass  # another worker created it first: load theirs
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeysError("expected an ed25519 webhook signing key, found another key type")
        return cls(key)

    def sign(self, data: bytes) -> bytes:
        """The ed25519 signature of ``data``."""
        return self._key.sign(data)

"""The webhook signing key: ed25519, kept in the key folder, signing Standard Webhooks ``v1a``.

Partners verify verdict webhooks with its public half (``whpk_...``), published at
``GET /v1/trust/webhook-keys`` and in the exported trust bundle, so no shared secret is needed.
The private key is created on first use (mode 0600) and never leaves this object.

Rotation (``orderseal keys webhook rotate``) keeps the previous key for an overlap window:
during it every delivery carries a ``v1a`` signature under each key and both are published,
so a receiver that still holds only the old public key keeps verifying until it refreshes.
The keys are read from the folder on every use, so a rotation by the CLI counts at once in
every running server and worker.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.backends.pem import save_private_key
from keys.errors import KeyPermissionError, KeysError

__all__ = [
    "PREVIOUS_WEBHOOK_KEY_FILE",
    "WEBHOOK_KEY_FILE",
    "WebhookKeyRing",
    "WebhookSigningKey",
    "load_webhook_keys",
    "rotate_webhook_key",
]

#: The key's file name in the key folder.
WEBHOOK_KEY_FILE = "webhook-signing.key"
#: The key rotated out, kept (with its end of overlap beside it) while it still signs.
PREVIOUS_WEBHOOK_KEY_FILE = "webhook-signing.previous.key"
_PREVIOUS_UNTIL_FILE = "webhook-signing.previous.json"


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

        A key file that group or others may read (restored from a backup, copied by hand) is
        refused, as the sealing key's is (``keys.backends.pem``): whoever reads it forges
        every verdict webhook until the key is rotated.

        Raises:
            KeysError: ``keys_error`` when the file is not an ed25519 private key.
            KeyPermissionError: ``key_permissions_too_open``.
        """
        if not path.exists():
            try:
                save_private_key(Ed25519PrivateKey.generate(), path)
            except FileExistsError:
                pass  # another worker created it first: load theirs
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyPermissionError(
                f"expected webhook key file mode 0600, found {stat.S_IMODE(mode):04o}: "
                f"chmod 600 {path.name}, and rotate the key if others could read it"
            )
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeysError("expected an ed25519 webhook signing key, found another key type")
        return cls(key)

    def sign(self, data: bytes) -> bytes:
        """The ed25519 signature of ``data``."""
        return self._key.sign(data)


@dataclass(frozen=True)
class WebhookKeyRing:
    """The current webhook key and, during a rotation's overlap, the previous one."""

    current: WebhookSigningKey
    previous: WebhookSigningKey | None = None
    previous_until: datetime | None = None

    def live(self, now: datetime) -> tuple[WebhookSigningKey, ...]:
        """The keys that sign and are published at ``now``: the current one first."""
        if self.previous is not None and self.previous_until and now < self.previous_until:
            return (self.current, self.previous)
        return (self.current,)


def load_webhook_keys(folder: Path) -> WebhookKeyRing:
    """The keys in ``folder`` (the current one created when missing).

    Raises:
        KeysError: ``keys_error`` when a key file is not an ed25519 private key, or the
            overlap file is unreadable.
    """
    current = WebhookSigningKey.load_or_create(folder / WEBHOOK_KEY_FILE)
    previous_path = folder / PREVIOUS_WEBHOOK_KEY_FILE
    until_path = folder / _PREVIOUS_UNTIL_FILE
    if not previous_path.exists() or not until_path.exists():
        return WebhookKeyRing(current)
    try:
        until = datetime.fromisoformat(json.loads(until_path.read_text())["until"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeysError("expected the previous webhook key's overlap end, found none") from exc
    if until.tzinfo is None:
        raise KeysError("expected the previous webhook key's overlap end in UTC")
    previous = WebhookSigningKey.load_or_create(previous_path)
    return WebhookKeyRing(current, previous, until)


def rotate_webhook_key(folder: Path, *, now: datetime, overlap: timedelta) -> WebhookKeyRing:
    """Make a new current key; the old one keeps signing and is published for ``overlap``.

    A zero overlap drops the old key at once (a leaked key). A key still in an earlier
    rotation's overlap is dropped: only one previous key is kept.

    Raises:
        KeysError: ``keys_error`` when the current key file is not an ed25519 key.
    """
    current_path = folder / WEBHOOK_KEY_FILE
    old = WebhookSigningKey.load_or_create(current_path)
    previous_path = folder / PREVIOUS_WEBHOOK_KEY_FILE
    until_path = folder / _PREVIOUS_UNTIL_FILE
    parts = [folder / f".{name}.part" for name in (WEBHOOK_KEY_FILE, PREVIOUS_WEBHOOK_KEY_FILE)]
    for part in parts:
        part.unlink(missing_ok=True)
    save_private_key(Ed25519PrivateKey.generate(), parts[0])
    # The old key becomes "previous" (a hard link: the same 0600 file) before the new one
    # replaces it, and the current file is never missing: a reader in between sees the old
    # key, never none (and never creates one of its own).
    os.link(current_path, parts[1])
    until_part = folder / f".{_PREVIOUS_UNTIL_FILE}.part"
    until_part.write_text(json.dumps({"until": (now + overlap).isoformat()}) + "\n")
    os.replace(parts[1], previous_path)
    os.replace(until_part, until_path)
    os.replace(parts[0], current_path)
    ring = load_webhook_keys(folder)
    if ring.previous is None or ring.previous.key_id != old.key_id:
        raise KeysError("expected one rotation at a time, found the webhook keys changed")
    return ring

"""The one writer of private-key files: PKCS#8 PEM created with mode 0600.

The server's keys (``keys.store``, ``keys.offline``, re-exported by ``keys.backends.pem``) and
a packing station's device key (``clients.station``) are written here, so no key file is ever
created world-readable, whichever distribution is installed.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

__all__ = ["save_private_key"]


def save_private_key(
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
    path: Path,
    *,
    password: bytes | None = None,
) -> None:
    """Write ``key`` as PKCS#8 PEM, created with mode 0600 so it is never world-readable.

    Args:
        key: the private key.
        path: the new file; its folder is created when missing.
        password: encrypts the PEM when given.

    Raises:
        FileExistsError: ``path`` exists (a key is never overwritten).
    """
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)

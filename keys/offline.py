"""Keeping the root CA offline: export it, import it back, issue intermediates from it.

The development home creates the root next to the service. In production the root key is
exported to offline media (``export-root --remove``), and brought back only to issue a new
intermediate, either by ``import-root`` or, without copying it into the home at all, by
``issue-intermediate --root-dir`` reading it from the mounted media.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keys.backends.pem import save_private_key
from keys.ca import CertificateAuthority
from keys.errors import KeysError
from keys.store import KeyStore
from keys.trust import certificates_from_pem

__all__ = ["export_root", "import_root", "load_root"]


def load_root(directory: Path) -> CertificateAuthority:
    """Load ``root.crt`` and ``root.key`` from an offline folder.

    Raises:
        KeysError: missing or unreadable files, or a key that does not match (``root_invalid``).
    """
    try:
        certificate = certificates_from_pem((directory / "root.crt").read_bytes())[0]
        key = serialization.load_pem_private_key(
            (directory / "root.key").read_bytes(), password=None
        )
    except (OSError, IndexError, ValueError) as exc:
        raise KeysError(
            "expected root.crt and root.key in the root folder", code="root_invalid"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != (
        certificate.public_key()
    ):
        raise KeysError("expected root.key to match root.crt", code="root_invalid")
    return CertificateAuthority(certificate=certificate, private_key=key)


def export_root(keys: KeyStore, destination: Path, *, remove: bool) -> Path:
    """Copy the root certificate and key to ``destination`` (key mode 0600).

    Args:
        keys: the key folder.
        destination: offline media folder (created with mode 0700).
        remove: delete the root key from the key folder afterwards (root now offline).

    Raises:
        KeysError: no root key in the folder (``root_offline``).
    """
    key_path = keys.directory / "root.key"
    if not key_path.exists():
        raise KeysError("expected the root key in the key folder", code="root_offline")
    root = keys.load_ca("root")
    destination.mkdir(parents=True, exist_ok=True)
    os.chmod(destination, 0o700)
    (destination / "root.key").unlink(missing_ok=True)
    save_private_key(root.private_key, destination / "root.key")
    shutil.copyfile(keys.directory / "root.crt", destination / "root.crt")
    load_root(destination)  # read back before anything is removed
    if remove:
        key_path.unlink()
    return destination


def import_root(keys: KeyStore, source: Path) -> None:
    """Bring an exported root back into the key folder; it must be our anchor.

    Raises:
        KeysError: not our root (``root_invalid``).
    """
    root = load_root(source)
    if root.certificate not in keys.trust_list().anchors:
        raise KeysError("expected the root of this key folder's anchors", code="root_invalid")
    key_path = keys.directory / "root.key"
    key_path.unlink(missing_ok=True)
    save_private_key(root.private_key, key_path)

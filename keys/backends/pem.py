"""PEM-file signer: the embedded default. Refuses key files readable by group or others.

``save_private_key`` is ``wire.keyfile``'s, the one writer of key files, re-exported here.
"""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keys.errors import KeyPermissionError, SignerError
from keys.signatures import der_to_raw_signature
from wire.keyfile import save_private_key

__all__ = ["PEMFileSigner", "save_private_key"]


class PEMFileSigner:
    """ES256 signer over a P-256 key held in a PEM file (mode 0600)."""

    def __init__(
        self, private_key: ec.EllipticCurvePrivateKey, chain: tuple[x509.Certificate, ...]
    ) -> None:
        self._private_key = private_key
        self._chain = chain

    @classmethod
    def from_file(
        cls, path: Path, chain: tuple[x509.Certificate, ...], *, password: bytes | None = None
    ) -> PEMFileSigner:
        """Load a key file, refusing loose permissions.

        Raises:
            KeyPermissionError: the file is group- or world-accessible.
            SignerError: the file is missing or is not a P-256 private key.
        """
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise SignerError("expected a readable signing key file, found none") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyPermissionError(f"expected key file mode 0600, found {stat.S_IMODE(mode):04o}")
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=password)
        except (ValueError, TypeError) as exc:
            raise SignerError("expected a PEM private key, could not load it") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise SignerError("expected a P-256 private key")
        return cls(key, chain)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half of the key."""
        return self._private_key.public_key()

    @property
    def algorithm(self) -> str:
        return "es256"

    @property
    def certificate_chain(self) -> tuple[x509.Certificate, ...]:
        return self._chain

    def sign(self, data: bytes) -> bytes:
        der = self._private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        return der_to_raw_signature(der)

    def __repr__(self) -> str:  # never show key material
        subject = self._chain[0].subject.rfc4514_string() if self._chain else "?"
        return f"PEMFileSigner(subject={subject!r})"

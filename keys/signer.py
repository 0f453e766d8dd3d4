"""The one signing interface every backend implements, and backend selection by key URI."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from keys.errors import SignerError

__all__ = ["SIGNER_SCHEMES", "PublicKeySigner", "Signer", "signer_from_uri"]

#: Key URI schemes and the backend each selects.
SIGNER_SCHEMES = {"file": "PEM file", "pkcs11": "PKCS#11 HSM", "awskms": "AWS KMS"}


@runtime_checkable
class Signer(Protocol):
    """Signs C2PA claims. Private key material never leaves the implementing backend."""

    @property
    def algorithm(self) -> str:
        """COSE algorithm name as c2pa spells it (``es256``)."""
        ...

    @property
    def certificate_chain(self) -> tuple[x509.Certificate, ...]:
        """Leaf first, then intermediates; the root is not included."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` and return the raw ``r || s`` signature (COSE form).

        Raises:
            SignerError: when the backend cannot sign.
        """
        ...


@runtime_checkable
class PublicKeySigner(Signer, Protocol):
    """A signer that can show its public key (to certify it, or to check its chain)."""

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half of the signing key."""
        ...


def signer_from_uri(
    uri: str, chain: tuple[x509.Certificate, ...], *, password: bytes | None = None
) -> Signer:
    """Open the signer a key URI names.

    ``file:/path/key.pem`` (PEM, mode 0600), ``pkcs11:token=T;object=K?module-path=M``
    (HSM) or ``awskms:KEY?region=R&endpoint=E&message-type=DIGEST`` (AWS KMS).

    Args:
        uri: key URI; the scheme selects the backend.
        chain: certificate chain for the key, leaf first.
        password: passphrase for an encrypted PEM key, or the PKCS#11 user PIN.

    Returns:
        A ready signer.

    Raises:
        SignerError: for an unknown scheme or a key that cannot be opened.
    """
    scheme, _, rest = uri.partition(":")
    if scheme == "file":
        from keys.backends.pem import PEMFileSigner

        return PEMFileSigner.from_file(Path(rest), chain, password=password)
    if scheme == "pkcs11":
        from keys.backends.pkcs11 import PKCS11Signer

        return PKCS11Signer.from_uri(rest, chain, pin=(password or b"").decode())
    if scheme == "awskms":
        from keys.backends.kms import KMSSigner

        return KMSSigner.from_uri(rest, chain)
    raise SignerError(f"expected a key URI scheme in {sorted(SIGNER_SCHEMES)}, found {scheme!r}")

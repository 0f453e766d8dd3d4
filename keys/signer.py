"""The one signing interface every backend implements, and backend selection by key URI."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography import x509

from keys.errors import SignerError

__all__ = ["Signer", "signer_from_uri"]


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


def signer_from_uri(
    uri: str, chain: tuple[x509.Certificate, ...], *, password: bytes | None = None
) -> Signer:
    """Open the signer a key URI names: ``file:/path/key.pem`` (more schemes per backend).

    Args:
        uri: key URI; the scheme selects the backend.
        chain: certificate chain for the key, leaf first.
        password: passphrase for an encrypted PEM key.

    Returns:
        A ready signer.

    Raises:
        SignerError: for an unknown scheme or a key that cannot be opened.
    """
    scheme, _, rest = uri.partition(":")
    if scheme == "file":
        from keys.backends.pem import PEMFileSigner

        return PEMFileSigner.from_file(Path(rest), chain, password=password)
    raise SignerError(f"expected a key URI with scheme file:, found {scheme!r}")

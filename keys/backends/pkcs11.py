"""PKCS#11 HSM signer (SoftHSM2 in tests): the key is generated inside the token, never exported.

SoftHSM2 2.6 offers only the raw ``CKM_ECDSA`` mechanism (``CKM_ECDSA_SHA256`` fails with
MechanismInvalid), so the SHA-256 of the to-be-signed bytes is computed on the host and the
token signs the digest. ``CKM_ECDSA`` returns ``r || s`` (PKCS#11 §2.3.1), the COSE form.

Key URI (RFC 7512 shape)::

    pkcs11:token=<token label>;object=<key label>?module-path=/usr/lib/softhsm/libsofthsm2.so

The user PIN is passed separately (``ORDERSEAL_PKCS11_PIN``), never in the URI.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keys.errors import SignerError

__all__ = ["PKCS11KeyRef", "PKCS11Signer", "generate_token_key"]

_DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


@dataclass(frozen=True)
class PKCS11KeyRef:
    """Where a key lives: module, token label and key label."""

    module_path: str
    token_label: str
    key_label: str

    @classmethod
    def from_uri(cls, rest: str) -> PKCS11KeyRef:
        """Parse the part of a ``pkcs11:`` URI after the scheme.

        Raises:
            SignerError: token or object attribute missing.
        """
        path, _, query = rest.partition("?")
        attributes = dict(
            (unquote(k), unquote(v))
            for k, _, v in (part.partition("=") for part in path.split(";") if part)
        )
        params = parse_qs(query)
        token, label = attributes.get("token", ""), attributes.get("object", "")
        if not token or not label:
            raise SignerError("expected a pkcs11: URI naming token= and object=")
        module = params.get("module-path", [_DEFAULT_MODULE])[0]
        return cls(module_path=module, token_label=token, key_label=label)

    def to_uri(self) -> str:
        """The key URI (no PIN)."""
        path = f"token={self.token_label};object={self.key_label}"
        return f"pkcs11:{path}?module-path={self.module_path}"


def _open_token(ref: PKCS11KeyRef) -> Any:
    import pkcs11

    try:
        return pkcs11.lib(ref.module_path).get_token(token_label=ref.token_label)
    except (pkcs11.PKCS11Error, RuntimeError, OSError) as exc:
        raise SignerError("expected a reachable PKCS#11 token, could not open it") from exc


def _public_key(session: Any, label: str) -> ec.EllipticCurvePublicKey:
    from pkcs11 import ObjectClass
    from pkcs11.util.ec import encode_ec_public_key

    handle = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
    key = serialization.load_der_public_key(encode_ec_public_key(handle))
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise SignerError("expected a P-256 key in the token")
    return key


def generate_token_key(ref: PKCS11KeyRef, *, pin: str) -> ec.EllipticCurvePublicKey:
    """Generate a P-256 key pair inside the token (sensitive, not extractable).

    Args:
        ref: token and label for the new key.
        pin: the token's user PIN.

    Returns:
        The public half, for certification.

    Raises:
        SignerError: the token refused (e.g. wrong PIN).
    """
    import pkcs11
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_named_curve_parameters

    token = _open_token(ref)
    try:
        with token.open(user_pin=pin, rw=True) as session:
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            params.generate_keypair(
                store=True,
                label=ref.key_label,
                private_template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.SIGN: True,
                },
            )
            return _public_key(session, ref.key_label)
    except pkcs11.PKCS11Error as exc:
        raise SignerError(
            f"expected the token to generate a key, it refused ({type(exc).__name__})"
        ) from exc


class PKCS11Signer:
    """ES256 signer whose private key stays in a PKCS#11 token.

    One session is kept open and used under a lock: PKCS#11 sessions are not thread-safe
    and login state is per application.
    """

    def __init__(self, ref: PKCS11KeyRef, pin: str, chain: tuple[x509.Certificate, ...]) -> None:
        self._ref = ref
        self._pin = pin
        self._chain = chain
        self._lock = threading.Lock()
        self._session: Any = None
        self._key: Any = None

    @classmethod
    def from_uri(cls, rest: str, chain: tuple[x509.Certificate, ...], *, pin: str) -> PKCS11Signer:
        """Open the key a ``pkcs11:`` URI names and check it exists.

        Raises:
            SignerError: token unreachable, wrong PIN, or no such key.
        """
        if not pin:
            raise SignerError("expected a PKCS#11 user PIN (ORDERSEAL_PKCS11_PIN)")
        signer = cls(PKCS11KeyRef.from_uri(rest), pin, chain)
        with signer._lock:
            signer._connect()
        return signer

    def _connect(self) -> None:
        import pkcs11
        from pkcs11 import ObjectClass

        if self._session is not None:
            return
        token = _open_token(self._ref)
        try:
            try:
                session = token.open(user_pin=self._pin)
            except pkcs11.exceptions.UserAlreadyLoggedIn:
                # Login is per application: another signer in this process already did it.
                session = token.open()
            self._key = session.get_key(
                object_class=ObjectClass.PRIVATE_KEY, label=self._ref.key_label
            )
        except pkcs11.PKCS11Error as exc:
            raise SignerError(
                f"expected key {self._ref.key_label!r} in the token, could not open it "
                f"({type(exc).__name__})"
            ) from exc
        self._session = session

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The key's public half, read from the token."""
        with self._lock:
            self._connect()
            return _public_key(self._session, self._ref.key_label)

    @property
    def algorithm(self) -> str:
        return "es256"

    @property
    def certificate_chain(self) -> tuple[x509.Certificate, ...]:
        return self._chain

    def sign(self, data: bytes) -> bytes:
        import pkcs11
        from pkcs11 import Mechanism

        digest = hashlib.sha256(data).digest()
        with self._lock:
            for attempt in range(2):
                try:
                    self._connect()
                    signature: bytes = self._key.sign(digest, mechanism=Mechanism.ECDSA)
                    return signature
                except pkcs11.PKCS11Error as exc:
                    self._session = None  # reconnect once (token removed, session closed)
                    if attempt:
                        raise SignerError(
                            f"expected the token to sign, it failed ({type(exc).__name__})"
                        ) from exc
        raise SignerError("expected the token to sign")  # pragma: no cover - loop returns

    def close(self) -> None:
        """Close the session (logging out)."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def __repr__(self) -> str:  # never show the PIN
        return f"PKCS11Signer(token={self._ref.token_label!r}, key={self._ref.key_label!r})"

"""AWS KMS signer: ``kms.sign`` (ECDSA_SHA_256, ECC_NIST_P256); the key never leaves KMS.

KMS returns a DER ECDSA signature; COSE (and c2pa's callback signer) wants raw ``r || s``,
so it is converted here. ``MessageType``:

* ``DIGEST`` (default, production): the host hashes the COSE to-be-signed bytes and sends
  the 32-byte SHA-256. Real KMS caps ``RAW`` messages at 4096 bytes, and c2pa's
  to-be-signed structure carries the certificate chain, so RAW is one long chain away from
  failing.
* ``RAW``: KMS hashes. Used against moto (the local stand-in in tests), which mishandles
  ``DIGEST`` by hashing the digest again.

Key URI::

    awskms:<key id or ARN>?region=us-east-1&endpoint=http://127.0.0.1:5000&message-type=RAW

Credentials come from boto3's usual chain (environment, profile, instance role).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keys.errors import SignerError
from keys.signatures import der_to_raw_signature

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

__all__ = ["KMS_MESSAGE_TYPES", "KMSKeyRef", "KMSSigner"]

KMS_MESSAGE_TYPES = ("RAW", "DIGEST")
_RAW_LIMIT_BYTES = 4096


@dataclass(frozen=True)
class KMSKeyRef:
    """A KMS key and how to reach it."""

    key_id: str
    region: str = "us-east-1"
    endpoint_url: str = ""
    message_type: Literal["RAW", "DIGEST"] = "DIGEST"

    @classmethod
    def from_uri(cls, rest: str) -> KMSKeyRef:
        """Parse the part of an ``awskms:`` URI after the scheme.

        Raises:
            SignerError: no key id, or an unknown message type.
        """
        key_id, _, query = rest.partition("?")
        params = {k: v[0] for k, v in parse_qs(query).items()}
        message_type = params.get("message-type", "DIGEST").upper()
        if not key_id:
            raise SignerError("expected an awskms: URI naming a key id or ARN")
        if message_type == "RAW":
            return cls(key_id, params.get("region", "us-east-1"), params.get("endpoint", ""), "RAW")
        if message_type == "DIGEST":
            return cls(key_id, params.get("region", "us-east-1"), params.get("endpoint", ""))
        raise SignerError(f"expected KMS message type RAW or DIGEST, found {message_type!r}")

    def to_uri(self) -> str:
        """The key URI."""
        query = f"region={self.region}&message-type={self.message_type}"
        if self.endpoint_url:
            query += f"&endpoint={self.endpoint_url}"
        return f"awskms:{self.key_id}?{query}"

    def client(self) -> KMSClient:
        """A boto3 KMS client for this key's region and endpoint."""
        return boto3.client("kms", region_name=self.region, endpoint_url=self.endpoint_url or None)


class KMSSigner:
    """ES256 signer over an AWS KMS asymmetric key."""

    def __init__(
        self, ref: KMSKeyRef, chain: tuple[x509.Certificate, ...], *, client: KMSClient
    ) -> None:
        self._ref = ref
        self._chain = chain
        self._client = client

    @classmethod
    def from_uri(cls, rest: str, chain: tuple[x509.Certificate, ...]) -> KMSSigner:
        """Open the signer an ``awskms:`` URI names.

        Raises:
            SignerError: malformed URI.
        """
        ref = KMSKeyRef.from_uri(rest)
        return cls(ref, chain, client=ref.client())

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The key's public half (``kms.get_public_key``).

        Raises:
            SignerError: KMS unreachable, or not a P-256 signing key.
        """
        try:
            der = self._client.get_public_key(KeyId=self._ref.key_id)["PublicKey"]
        except (BotoCoreError, ClientError) as exc:
            raise SignerError("expected KMS to return the public key, it failed") from exc
        key = serialization.load_der_public_key(der)
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise SignerError("expected an ECC_NIST_P256 KMS key")
        return key

    @property
    def algorithm(self) -> str:
        return "es256"

    @property
    def certificate_chain(self) -> tuple[x509.Certificate, ...]:
        return self._chain

    def sign(self, data: bytes) -> bytes:
        if self._ref.message_type == "RAW":
            if len(data) > _RAW_LIMIT_BYTES:
                raise SignerError(
                    f"expected at most {_RAW_LIMIT_BYTES} bytes for KMS RAW signing, "
                    f"found {len(data)}; use message type DIGEST"
                )
            message = data
        else:
            message = hashlib.sha256(data).digest()
        try:
            response = self._client.sign(
                KeyId=self._ref.key_id,
                Message=message,
                MessageType=self._ref.message_type,
                SigningAlgorithm="ECDSA_SHA_256",
            )
        except (BotoCoreError, ClientError) as exc:
            raise SignerError("expected KMS to sign, it failed") from exc
        return der_to_raw_signature(response["Signature"])

    def __repr__(self) -> str:
        return f"KMSSigner(key={self._ref.key_id!r}, message_type={self._ref.message_type!r})"

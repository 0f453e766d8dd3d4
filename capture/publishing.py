"""What capture publishes for anyone to verify against: anchors, label chain, CRLs, c2pa trust.

All of it is public: certificates and revocation lists, never a key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization

from keys.publish import c2pa_settings, claim_signing_trust
from keys.signer import Signer
from keys.store import KeyStore
from keys.trust import certificates_to_pem

__all__ = ["TrustPublisher"]


class TrustPublisher:
    """The key folder's public parts, as the trust routes serve them."""

    def __init__(self, *, keys: KeyStore, label_signer: Signer) -> None:
        self.keys = keys
        self.label_signer = label_signer

    def anchors_pem(self) -> str:
        """The PKI root(s) that device, label and sealing certificates chain to."""
        return self.keys.trust_list().pem

    def label_certificates_pem(self) -> str:
        """The certificate chain that signs parcel-label tokens, leaf first."""
        return certificates_to_pem(tuple(self.label_signer.certificate_chain))

    def crl(self, ca: Literal["device", "service"], *, now: datetime, pem: bool) -> bytes:
        """The CRL signed by the device CA or the service CA, as PEM or DER."""
        crl = self.keys.published_crl(f"{ca}-ca", now=now)
        encoding = serialization.Encoding.PEM if pem else serialization.Encoding.DER
        return crl.public_bytes(encoding)

    def c2pa_anchors_pem(self) -> str:
        """The anchors for a C2PA validator: service CAs and TSA roots, never the device root."""
        return claim_signing_trust(self.keys).pem

    def c2pa_settings(self) -> dict[str, Any]:
        """c2pa-rs settings that verify OrderSeal evidence offline."""
        return c2pa_settings(self.c2pa_anchors_pem())

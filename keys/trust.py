"""Immutable trust list verifiers load: our root anchors, as certificates and as PEM."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from keys.errors import CertificateError

__all__ = [
    "TrustList",
    "certificates_from_pem",
    "certificates_to_pem",
    "check_validity",
    "verify_chain",
]


def certificates_to_pem(certificates: tuple[x509.Certificate, ...]) -> str:
    """Serialise certificates as one PEM bundle."""
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


def certificates_from_pem(data: bytes) -> tuple[x509.Certificate, ...]:
    """Parse a PEM bundle.

    Raises:
        CertificateError: the bundle holds no certificate or is malformed.
    """
    try:
        certificates = tuple(x509.load_pem_x509_certificates(data))
    except ValueError as exc:
        raise CertificateError("expected PEM certificates, could not parse them") from exc
    return certificates


@dataclass(frozen=True)
class TrustList:
    """The anchors OrderSeal evidence must chain to."""

    anchors: tuple[x509.Certificate, ...]

    @property
    def pem(self) -> str:
        """Anchors as a PEM bundle (what c2pa's ``trust.trust_anchors`` takes)."""
        return certificates_to_pem(self.anchors)

    @classmethod
    def from_pem(cls, data: bytes) -> TrustList:
        """Parse a PEM bundle; an empty trust list is refused."""
        anchors = certificates_from_pem(data)
        if not anchors:
            raise CertificateError("expected at least one trust anchor, found none")
        return cls(anchors)


def verify_chain(
    leaf: x509.Certificate,
    intermediates: tuple[x509.Certificate, ...],
    trust: TrustList,
    *,
    now: datetime,
) -> None:
    """Check ``leaf`` chains through ``intermediates`` to an anchor, all valid at ``now``.

    Raises:
        CertificateError: broken signature, unknown issuer or outside validity.
    """
    path = (leaf, *intermediates)
    check_validity(path, now=now)
    for child, parent in pairwise(path):
        _verify_issued(child, parent)
    top = path[-1]
    if top in trust.anchors:
        return
    # Several anchors may share a subject (retired CAs keep their name): try each of them.
    for anchor in trust.anchors:
        if top.issuer != anchor.subject:
            continue
        try:
            _verify_issued(top, anchor)
        except CertificateError:
            continue
        return
    raise CertificateError("expected a chain to an OrderSeal anchor, found an unknown issuer")


def check_validity(path: tuple[x509.Certificate, ...], *, now: datetime) -> None:
    """Check every certificate of ``path`` is within its validity period at ``now``.

    Raises:
        CertificateError: ``certificate_expired`` (or not yet valid).
    """
    for cert in path:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CertificateError(
                f"expected a certificate valid at {now.isoformat()}, "
                f"found one valid {cert.not_valid_before_utc.isoformat()}"
                f" to {cert.not_valid_after_utc.isoformat()}",
                code="certificate_expired",
            )


def _verify_issued(child: x509.Certificate, parent: x509.Certificate) -> None:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CertificateError("expected a certificate issued by our CA, found a forgery") from exc

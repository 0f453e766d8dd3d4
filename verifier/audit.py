"""Tamper-evident audit log of verdicts: each entry commits to the previous entry's hash and
to the verdict it covers, and is signed by the service key.

The chain is read as stored, by someone who may have written to the database: every field
that does not parse (body not a JSON object, hashes not hex, signature not base64url r||s,
certificate not PEM) is a broken entry in the finding, never an exception.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from keys.attestation import b64url_decode, b64url_encode, from_json_bounded
from keys.errors import CertificateError
from keys.signatures import raw_to_der_signature
from keys.signer import Signer
from keys.trust import TrustList, certificates_to_pem, verify_chain

__all__ = ["AuditFinding", "AuditLink", "entry_hash", "make_sealer", "verify_audit_chain"]

GENESIS = "0" * 64
_HASH_HEX = frozenset("0123456789abcdef")
_ES256_BYTES = 64
#: A stored verdict body is one JSON object; its checks and traces nest a few levels.
_MAX_BODY_DEPTH = 64
_MAX_BODY_BYTES = 16 * 1024 * 1024


def _canonical(verdict_id: int, body: dict[str, Any]) -> bytes:
    return json.dumps(
        {"verdict_id": verdict_id, "verdict": body}, sort_keys=True, separators=(",", ":")
    ).encode()


def entry_hash(prev_hash: str, verdict_id: int, body: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the canonical verdict."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + _canonical(verdict_id, body)).hexdigest()


def make_sealer(signer: Signer) -> Callable[[str, int, dict[str, Any]], tuple[str, str, str]]:
    """The callback the ledger calls to hash and sign a new entry."""
    certificate = certificates_to_pem(signer.certificate_chain)

    def seal(prev_hash: str, verdict_id: int, body: dict[str, Any]) -> tuple[str, str, str]:
        digest = entry_hash(prev_hash, verdict_id, body)
        return digest, b64url_encode(signer.sign(bytes.fromhex(digest))), certificate

    return seal


@dataclass(frozen=True)
class AuditLink:
    """One stored entry with the verdict row as it is now."""

    position: int
    verdict_id: int
    dispute_id: str
    prev_hash: str
    entry_hash: str
    signature: str
    certificate_pem: str
    verdict_json: str  # the verdict body as stored: parsed (bounded) when checked
    created_at: datetime


@dataclass(frozen=True)
class AuditFinding:
    """The result of checking the chain: ok, or the first entry that fails and why."""

    ok: bool
    entries: int
    failed_at: int | None = None
    dispute_id: str | None = None
    problem: str = ""


def _is_hash(text: object) -> bool:
    return isinstance(text, str) and len(text) == 64 and set(text) <= _HASH_HEX


def _body(link: AuditLink) -> dict[str, Any] | None:
    try:
        body = from_json_bounded(
            link.verdict_json, max_depth=_MAX_BODY_DEPTH, max_bytes=_MAX_BODY_BYTES
        )
    except (TypeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _signature_ok(link: AuditLink, trust: TrustList) -> bool:
    try:
        chain = x509.load_pem_x509_certificates(link.certificate_pem.encode())
    except (AttributeError, ValueError):  # not text, not PEM, or no certificate in it
        return False
    if not chain:
        return False
    try:
        verify_chain(chain[0], tuple(chain[1:]), trust, now=link.created_at)
    except CertificateError:
        return False
    key = chain[0].public_key()
    try:
        raw = b64url_decode(link.signature)
    except (TypeError, ValueError):
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey) or len(raw) != _ES256_BYTES:
        return False
    der = raw_to_der_signature(raw)
    try:
        key.verify(der, bytes.fromhex(link.entry_hash), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _problem(link: AuditLink, prev: str, trust: TrustList) -> str:
    """Why ``link`` does not continue the chain after ``prev``, or "" when it does."""
    if link.prev_hash != prev:
        return "does not continue the previous entry (entry removed or reordered)"
    if not _is_hash(link.entry_hash):
        return "the entry's hash is not a SHA-256 hex digest (entry edited)"
    body = _body(link)
    if body is None:
        return "the stored verdict is not a JSON object (verdict edited)"
    if entry_hash(link.prev_hash, link.verdict_id, body) != link.entry_hash:
        return "the stored verdict no longer matches its audit entry (verdict edited)"
    if not _signature_ok(link, trust):
        return "the entry's signature does not verify under the OrderSeal CA"
    return ""


def verify_audit_chain(links: Sequence[AuditLink], trust: TrustList) -> AuditFinding:
    """Walk the chain from the start; report the first broken link.

    Returns:
        ``ok`` when every entry continues the one before, matches its verdict and is
        signed under ``trust``; otherwise the first entry that does not, and why. Malformed
        stored fields are reported this way too; this function does not raise for them.
    """
    prev = GENESIS
    for link in links:
        problem = _problem(link, prev, trust)
        if problem:
            return AuditFinding(False, len(links), link.position, link.dispute_id, problem)
        prev = link.entry_hash
    return AuditFinding(True, len(links))

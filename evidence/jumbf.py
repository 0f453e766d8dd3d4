"""Claim signers from a C2PA manifest store: the verified certificate chain of each manifest.

c2pa's report names a signer only by issuer, common name and serial, which a certificate
under another anchor can copy. The sealing-authority check needs the signing certificate
itself, so this module walks the JUMBF manifest store (ISO 19566-5) that c2pa validated and
decodes each manifest's ``c2pa.signature`` box: a COSE_Sign1 (RFC 9052) whose ``x5chain``
header (label 33, C2PA 2.1 §14.6) holds the signer's chain, leaf first.

A chain is returned only when it is unambiguous and proven:

* exactly one ``x5chain`` entry (label ``33`` or the text label ``"x5chain"``), in the
  *protected* header, every element a byte string; none in the unprotected header. Readers
  disagree on which entry wins when there are several (c2pa-rs takes the first protected
  key of either spelling, then the unprotected text label), so several mean no chain;
* the COSE signature verifies with the leaf's public key over the ``Sig_structure``
  (``["Signature1", protected, b"", claim]``, the claim box's CBOR as detached payload).
  Whatever certificate c2pa chose, the leaf returned here provably signed this claim;
* a manifest label that appears twice in the store gives no chain.

Pure bytes in, DER certificates out. Malformed input yields no chain for that manifest, never
an exception: no chain means "not signed by us" (fail closed).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, Final

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from keys.signatures import raw_to_der_signature

__all__ = ["signer_chains"]

_COSE_SIGN1_TAG: Final = 18
_COSE_ALG: Final = 1
_X5CHAIN_LABELS: Final = (33, "x5chain")
_MAX_BOXES: Final = 100_000
_LABEL_PRESENT: Final = 0x02
_CLAIM_LABELS: Final = frozenset({"c2pa.claim", "c2pa.claim.v2"})
#: COSE algorithm ids (RFC 9053 §2.1) of the ECDSA signatures our sealing keys make.
_ECDSA_HASHES: Final[dict[int, type[hashes.HashAlgorithm]]] = {
    -7: hashes.SHA256,
    -35: hashes.SHA384,
    -36: hashes.SHA512,
}
_CBOR_ERRORS: Final = (
    cbor2.CBORDecodeError,
    ValueError,
    TypeError,
    OverflowError,
    RecursionError,
)


def signer_chains(store: bytes) -> dict[str, tuple[bytes, ...]]:
    """Map each manifest label in ``store`` to its proven claim signer's chain (DER, leaf first).

    Args:
        store: the JUMBF manifest store (the ``c2pa`` superbox) as c2pa read it.

    Returns:
        Labels of manifests whose signature decodes unambiguously and verifies with the leaf;
        every other manifest is absent.
    """
    chains: dict[str, tuple[bytes, ...]] = {}
    seen: set[str] = set()
    duplicated: set[str] = set()
    budget = [_MAX_BOXES]
    for label, children in _superboxes(store, budget):
        if label != "c2pa":
            continue
        for manifest_label, manifest_children in _superboxes(children, budget):
            if manifest_label in seen:
                duplicated.add(manifest_label)
            seen.add(manifest_label)
            chain = _manifest_chain(manifest_children, budget)
            if chain:
                chains[manifest_label] = chain
    return {label: chain for label, chain in chains.items() if label not in duplicated}


def _manifest_chain(children: bytes, budget: list[int]) -> tuple[bytes, ...]:
    claims: list[bytes] = []
    signatures: list[bytes] = []
    for part_label, part in _superboxes(children, budget):
        if part_label in _CLAIM_LABELS:
            claims.extend(_cbor_payloads(part, budget))
        elif part_label == "c2pa.signature":
            signatures.extend(_cbor_payloads(part, budget))
    if len(claims) != 1 or len(signatures) != 1:
        return ()
    return _verified_chain(signatures[0], claims[0])


def _boxes(data: bytes, budget: list[int]) -> Iterator[tuple[bytes, bytes]]:
    """(type, payload) of each box in ``data``; stops at the first malformed header."""
    offset = 0
    while offset + 8 <= len(data) and budget[0] > 0:
        budget[0] -= 1
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if offset + 16 > len(data):
                return
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = len(data) - offset
        if size < header or offset + size > len(data):
            return
        yield kind, data[offset + header : offset + size]
        offset += size


def _superboxes(data: bytes, budget: list[int]) -> Iterator[tuple[str, bytes]]:
    """(label, content after the description box) of each ``jumb`` box in ``data``."""
    for kind, payload in _boxes(data, budget):
        if kind != b"jumb":
            continue
        parsed = _description(payload, budget)
        if parsed is not None:
            yield parsed


def _description(payload: bytes, budget: list[int]) -> tuple[str, bytes] | None:
    boxes = _boxes(payload, budget)
    first = next(boxes, None)
    if first is None or first[0] != b"jumd":
        return None
    body = first[1]
    # 16-byte content type UUID, 1 toggle byte, then the label when toggled on.
    if len(body) < 17 or not body[16] & _LABEL_PRESENT:
        return None
    end = body.find(b"\0", 17)
    if end < 0:
        return None
    try:
        label = body[17:end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    desc_size = struct.unpack_from(">I", payload, 0)[0]
    return label, payload[desc_size:] if 8 <= desc_size <= len(payload) else b""


def _cbor_payloads(content: bytes, budget: list[int]) -> list[bytes]:
    return [payload for kind, payload in _boxes(content, budget) if kind == b"cbor"]


def _verified_chain(signature_box: bytes, claim: bytes) -> tuple[bytes, ...]:
    try:
        message = cbor2.loads(signature_box)
    except _CBOR_ERRORS:
        return ()
    if isinstance(message, cbor2.CBORTag):
        if message.tag != _COSE_SIGN1_TAG:
            return ()
        message = message.value
    if not isinstance(message, (list, tuple)) or len(message) != 4:
        return ()
    protected_raw, unprotected, _payload, signature = message
    if not isinstance(protected_raw, bytes) or not isinstance(signature, bytes):
        return ()
    try:
        protected = cbor2.loads(protected_raw)
    except _CBOR_ERRORS:
        return ()
    if not _is_map(protected) or not _is_map(unprotected):
        return ()
    if any(label in unprotected for label in _X5CHAIN_LABELS):
        return ()
    present = [label for label in _X5CHAIN_LABELS if label in protected]
    if len(present) != 1:
        return ()
    chain = _as_chain(protected[present[0]])
    if not chain or not _signed_by_leaf(chain[0], protected, protected_raw, claim, signature):
        return ()
    return chain


def _signed_by_leaf(
    leaf_der: bytes, protected: Any, protected_raw: bytes, claim: bytes, signature: bytes
) -> bool:
    """Verify the COSE_Sign1 signature (raw r||s, RFC 9053 §2.1) with the leaf's key."""
    algorithm = _ECDSA_HASHES.get(protected.get(_COSE_ALG))
    if algorithm is None or not signature or len(signature) % 2:
        return False
    try:
        key = x509.load_der_x509_certificate(leaf_der).public_key()
    except ValueError:
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    der = raw_to_der_signature(signature)
    to_be_signed = cbor2.dumps(["Signature1", protected_raw, b"", claim])
    try:
        key.verify(der, to_be_signed, ec.ECDSA(algorithm()))
    except InvalidSignature:
        return False
    return True


def _is_map(value: Any) -> bool:
    # cbor2 may hand back immutable maps (FrozenDict) inside tags: duck-type them.
    return isinstance(value, dict) or (hasattr(value, "get") and hasattr(value, "__contains__"))


def _as_chain(value: Any) -> tuple[bytes, ...]:
    if isinstance(value, bytes):
        return (value,)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, bytes) for v in value):
        return tuple(value)
    return ()

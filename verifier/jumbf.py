"""Claim signers from a C2PA manifest store: the certificate chain of every manifest.

c2pa's report names a signer only by issuer, common name and serial, which a certificate
under another anchor can copy. The sealing-authority check needs the signing certificate
itself, so this module walks the JUMBF manifest store (ISO 19566-5) that c2pa validated and
decodes each manifest's ``c2pa.signature`` box: a COSE_Sign1 (RFC 9052) whose ``x5chain``
header (label 33, C2PA 2.1 §14.6) holds the signer's chain, leaf first.

Pure bytes in, DER certificates out; nothing here verifies a signature (c2pa did that on
the same bytes). Malformed input yields no chain for that manifest, never an exception.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from typing import Any, Final

import cbor2

__all__ = ["signer_chains"]

_COSE_SIGN1_TAG: Final = 18
_X5CHAIN: Final = 33
_MAX_BOXES: Final = 100_000
_LABEL_PRESENT: Final = 0x02


def signer_chains(store: bytes) -> dict[str, tuple[bytes, ...]]:
    """Map each manifest label in ``store`` to its claim signer's chain (DER, leaf first).

    Args:
        store: the JUMBF manifest store (the ``c2pa`` superbox) as c2pa read it.

    Returns:
        Labels of manifests whose signature box decodes; others are absent.
    """
    chains: dict[str, tuple[bytes, ...]] = {}
    budget = [_MAX_BOXES]
    for label, children in _superboxes(store, budget):
        if label != "c2pa":
            continue
        for manifest_label, manifest_children in _superboxes(children, budget):
            for part_label, part in _superboxes(manifest_children, budget):
                if part_label != "c2pa.signature":
                    continue
                chain = _chain_from_signature_box(part, budget)
                if chain:
                    chains[manifest_label] = chain
    return chains


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


def _chain_from_signature_box(content: bytes, budget: list[int]) -> tuple[bytes, ...]:
    for kind, payload in _boxes(content, budget):
        if kind == b"cbor":
            return _chain_from_cose(payload)
    return ()


def _chain_from_cose(data: bytes) -> tuple[bytes, ...]:
    try:
        message = cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError):
        return ()
    if isinstance(message, cbor2.CBORTag):
        if message.tag != _COSE_SIGN1_TAG:
            return ()
        message = message.value
    if not isinstance(message, (list, tuple)) or len(message) != 4:
        return ()
    protected_raw, unprotected = message[0], message[1]
    protected: Any = {}
    if isinstance(protected_raw, bytes) and protected_raw:
        try:
            protected = cbor2.loads(protected_raw)
        except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError):
            return ()
    # C2PA 2.x puts x5chain in the protected header; 1.x signers used the unprotected one.
    for header in (protected, unprotected):
        # cbor2 may hand back immutable maps (FrozenDict) inside tags: duck-type them.
        if isinstance(header, Mapping) or hasattr(header, "get"):
            chain = _as_chain(header.get(_X5CHAIN, header.get("x5chain")))
            if chain:
                return chain
    return ()


def _as_chain(value: Any) -> tuple[bytes, ...]:
    if isinstance(value, bytes):
        return (value,)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, bytes) for v in value):
        return tuple(value)
    return ()

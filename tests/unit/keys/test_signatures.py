"""Raw r||s and DER ECDSA signatures convert both ways without loss."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from keys.signatures import der_to_raw_signature, raw_to_der_signature, split_raw_signature


def test_der_and_raw_round_trip() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.sign(b"data", ec.ECDSA(hashes.SHA256()))
    raw = der_to_raw_signature(der)
    assert len(raw) == 64
    assert raw_to_der_signature(raw) == der
    key.public_key().verify(raw_to_der_signature(raw), b"data", ec.ECDSA(hashes.SHA256()))


def test_split_takes_equal_halves() -> None:
    assert split_raw_signature(b"\x00\x01\x00\x02") == (1, 2)

"""Label and buyer tokens: the honest path, and what a forger can send (issue 14, items 7, 9, 10).

Adversaries: an anonymous client who crafts token text (nested JSON, huge expiry, the high-S
twin of a genuine label signature), and an issuer whose payload is odd but correctly signed.
Every refusal is a ``TokenError`` with one of the existing codes, never another exception.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from capture.errors import TokenError
from capture.tokens import (
    issue_buyer_token,
    issue_label_token,
    verify_buyer_token,
    verify_label_token,
)
from keys.attestation import b64url_decode, b64url_encode
from keys.backends.pem import PEMFileSigner
from keys.ca import create_root, issue_certificate, issue_intermediate, subject_name
from keys.profile import CertificateRole

NOW = datetime(2025, 1, 1, tzinfo=UTC)
SECRET = b"s" * 32
#: Order of the P-256 group.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
NESTED = "[" * 1400


@pytest.fixture(scope="module")
def signer() -> PEMFileSigner:
    service_ca = issue_intermediate(create_root("Test Root", now=NOW), "Service CA", now=NOW)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = issue_certificate(
        service_ca,
        key.public_key(),
        subject_name("sealer", unit="service"),
        role=CertificateRole.SERVICE,
        now=NOW,
        validity=timedelta(days=30),
    )
    return PEMFileSigner(key, (certificate, service_ca.certificate))


def _label(signer: PEMFileSigner, payload_text: str) -> str:
    """A label token over any payload text, correctly (low-S) signed by the service key."""
    signing_input = f"OS1.{b64url_encode(payload_text.encode())}"
    raw = signer.sign(signing_input.encode())
    s = int.from_bytes(raw[32:], "big")
    low = raw[:32] + min(s, P256_N - s).to_bytes(32, "big")
    return f"{signing_input}.{b64url_encode(low)}"


def _buyer(payload_text: str, secret: bytes = SECRET) -> str:
    signing_input = f"obt.{b64url_encode(payload_text.encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


def _high_s_twin(token: str) -> str:
    """The same signature with s replaced by n - s: valid ECDSA, other bytes."""
    head, body, signature = token.split(".")
    raw = b64url_decode(signature)
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    return f"{head}.{body}.{b64url_encode(r + (P256_N - s).to_bytes(32, 'big'))}"


def _s(token: str) -> int:
    return int.from_bytes(b64url_decode(token.rsplit(".", 1)[1])[32:], "big")


def _certs(signer: PEMFileSigner) -> tuple[x509.Certificate, ...]:
    return signer.certificate_chain[:1]


def _code(call: object) -> str:
    assert callable(call)
    with pytest.raises(TokenError) as caught:
        call()
    return caught.value.code


def test_honest_tokens_verify(signer: PEMFileSigner) -> None:
    label = issue_label_token(signer, order_id="O-1", session_id="S-1", now=NOW, ttl=timedelta(1))
    assert verify_label_token(label, _certs(signer), now=NOW).order_id == "O-1"
    buyer = issue_buyer_token(SECRET, buyer_id="b-1", now=NOW, ttl=timedelta(hours=1))
    assert verify_buyer_token(buyer, SECRET, now=NOW).buyer_id == "b-1"


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (f"obt.{b64url_encode(NESTED.encode())}.{b64url_encode(b'x' * 32)}", "token_forged"),
        (_buyer(NESTED), "token_malformed"),
        (
            _buyer('{"exp":4102444800,"sub":"b-1","x":' + "[" * 40 + "]" * 40 + "}"),
            "token_malformed",
        ),
        (_buyer('{"sub":"b-1","exp":1e400}'), "token_malformed"),
    ],
    ids=["nested-unsigned", "nested-signed", "deep-but-valid-json-signed", "float-exp"],
)
def test_buyer_token_refusals(token: str, code: str) -> None:
    assert _code(lambda: verify_buyer_token(token, SECRET, now=NOW)) == code


def test_unsigned_nested_label_is_forged(signer: PEMFileSigner) -> None:
    token = f"OS1.{b64url_encode(NESTED.encode())}.{b64url_encode(b'x' * 64)}"
    assert _code(lambda: verify_label_token(token, _certs(signer), now=NOW)) == "token_forged"


@pytest.mark.parametrize(
    "payload",
    [NESTED, '{"o":"O-1","s":"S-1","exp":' + "[" * 40 + "1" + "]" * 40 + "}"],
    ids=["nested-array", "nested-exp"],
)
def test_signed_nested_label_is_malformed(signer: PEMFileSigner, payload: str) -> None:
    token = _label(signer, payload)
    assert _code(lambda: verify_label_token(token, _certs(signer), now=NOW)) == "token_malformed"


@pytest.mark.parametrize("exp", [10**20, -(10**20), 2**63], ids=["huge", "huge-negative", "2^63"])
def test_label_with_absurd_expiry_is_malformed(signer: PEMFileSigner, exp: int) -> None:
    token = _label(signer, json.dumps({"o": "O-1", "s": "S-1", "exp": exp}))
    assert _code(lambda: verify_label_token(token, _certs(signer), now=NOW)) == "token_malformed"


@pytest.mark.parametrize("exp", [10**20, True], ids=["huge", "bool"])
def test_buyer_token_with_absurd_expiry_is_malformed(exp: object) -> None:
    token = _buyer(json.dumps({"sub": "b-1", "exp": exp}))
    assert _code(lambda: verify_buyer_token(token, SECRET, now=NOW)) == "token_malformed"


def test_label_signatures_are_low_s(signer: PEMFileSigner) -> None:
    for index in range(32):  # a raw ECDSA signer gives high S about half the time
        token = issue_label_token(
            signer, order_id=f"O-{index}", session_id="S", now=NOW, ttl=timedelta(days=1)
        )
        assert _s(token) <= P256_N // 2


def test_high_s_twin_of_a_genuine_label_is_forged(signer: PEMFileSigner) -> None:
    token = issue_label_token(signer, order_id="O-1", session_id="S-1", now=NOW, ttl=timedelta(1))
    assert verify_label_token(token, _certs(signer), now=NOW).session_id == "S-1"
    twin = _high_s_twin(token)
    assert _code(lambda: verify_label_token(twin, _certs(signer), now=NOW)) == "token_forged"

"""Provisional labels and assignment lists (issue 18 §1): one valid encoding each, signed by
the key they name, parsed only after the signature.

Adversaries: a buyer signing a provisional label with their own key; an edited payload (the
order swapped); the high-S twin of a printed label; a token of the other format or oversize;
an assignment list signed by a station instead of the service.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from wire.attestation import b64url_decode, b64url_encode
from wire.provisional import (
    AssignmentList,
    ProvisionalLabel,
    ProvisionalTokenError,
    assignment_signing_input,
    issue_provisional_token,
    low_s_raw,
    peek_provisional_token,
    verify_assignment_list,
    verify_provisional_token,
)

_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _label(order_id: str = "ord-1") -> ProvisionalLabel:
    return ProvisionalLabel(
        order_id=order_id,
        device_id="station-a",
        local_session_id="ls_abc",
        station_time=NOW,
        nonce="n0nce",
    )


def _assignment_token(key: ec.EllipticCurvePrivateKey, listed: AssignmentList) -> str:
    text = assignment_signing_input(listed)
    signature = key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
    return f"{text}.{b64url_encode(low_s_raw(signature))}"


def test_a_station_signed_label_verifies_with_its_key_and_says_what_it_binds() -> None:
    key = _key()
    token = issue_provisional_token(key, _label())
    assert token.startswith("OSP1.")
    assert verify_provisional_token(token, key.public_key()) == _label()
    assert peek_provisional_token(token) == _label()


def test_a_label_signed_with_another_key_is_forged() -> None:
    # The buyer's own device key (or another station's) over the same claims.
    token = issue_provisional_token(_key(), _label())
    with pytest.raises(ProvisionalTokenError) as refused:
        verify_provisional_token(token, _key().public_key())
    assert refused.value.code == "token_forged"


def test_an_edited_payload_is_forged() -> None:
    key = _key()
    prefix, _, signature = issue_provisional_token(key, _label()).split(".")
    other = issue_provisional_token(key, _label("ord-2")).split(".")[1]
    with pytest.raises(ProvisionalTokenError) as refused:
        verify_provisional_token(f"{prefix}.{other}.{signature}", key.public_key())
    assert refused.value.code == "token_forged"


def test_the_high_s_twin_of_a_printed_label_is_refused() -> None:
    key = _key()
    token = issue_provisional_token(key, _label())
    prefix, body, signature = token.split(".")
    raw = b64url_decode(signature)
    s = int.from_bytes(raw[32:], "big")
    twin = raw[:32] + (_ORDER - s).to_bytes(32, "big")
    with pytest.raises(ProvisionalTokenError) as refused:
        verify_provisional_token(f"{prefix}.{body}.{b64url_encode(twin)}", key.public_key())
    assert refused.value.code == "token_forged"


@pytest.mark.parametrize(
    "token",
    ["OS1.e30.AAAA", "OSP1.only-two", "OSP1." + "A" * 3000 + ".AA", "OSP1.!!.AA", ""],
    ids=["server_prefix", "two_parts", "oversize", "not_base64", "empty"],
)
def test_malformed_tokens_are_refused_with_a_code(token: str) -> None:
    with pytest.raises(ProvisionalTokenError) as refused:
        verify_provisional_token(token, _key().public_key())
    assert refused.value.code in {"token_malformed", "token_forged"}


def test_a_label_missing_a_claim_is_malformed_even_when_signed() -> None:
    key = _key()
    payload = _label().to_payload()
    del payload["l"]
    body = b64url_encode(json.dumps(payload).encode())
    text = f"OSP1.{body}"
    signature = key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(ProvisionalTokenError) as refused:
        verify_provisional_token(f"{text}.{b64url_encode(low_s_raw(signature))}", key.public_key())
    assert refused.value.code == "token_malformed"


def test_an_assignment_list_verifies_with_the_service_key_and_covers_its_window() -> None:
    service = _key()
    listed = AssignmentList("station-a", "m1", ("ord-1", "ord-2"), NOW, NOW + timedelta(hours=24))
    token = _assignment_token(service, listed)
    assert verify_assignment_list(token, service.public_key()) == listed
    assert listed.covers("ord-1", at=NOW)
    assert listed.covers("ord-2", at=NOW + timedelta(hours=24, seconds=-1))
    assert not listed.covers("ord-2", at=NOW + timedelta(hours=24))
    assert not listed.covers("ord-1", at=NOW - timedelta(seconds=1))
    assert not listed.covers("ord-3", at=NOW)


def test_an_assignment_list_signed_by_a_station_is_forged() -> None:
    listed = AssignmentList("station-a", "m1", ("ord-9",), NOW, NOW + timedelta(hours=1))
    token = _assignment_token(_key(), listed)
    with pytest.raises(ProvisionalTokenError) as refused:
        verify_assignment_list(token, _key().public_key())
    assert refused.value.code == "token_forged"

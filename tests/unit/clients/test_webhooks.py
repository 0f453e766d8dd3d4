"""verify_webhook: the Standard Webhooks test vector, ed25519 v1a, rotation, stale and forged."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clients.webhooks import WebhookVerificationError, verify_webhook
from wire.webhooks import (
    encode_public_key,
    new_secret,
    sign_ed25519,
    sign_hmac,
    signature_header,
)

# The spec's published vector (standard-webhooks reference libraries).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
NOW = datetime.fromtimestamp(VECTOR_TS, UTC)
BODY = b'{"type":"dispute.decided","timestamp":"2021-02-25T15:02:10Z","data":{"dispute_id":"dp_1"}}'


def _headers(signature: str, *, ts: int = VECTOR_TS, webhook_id: str = VECTOR_ID) -> dict[str, str]:
    return {"Webhook-Id": webhook_id, "Webhook-Timestamp": str(ts), "Webhook-Signature": signature}


def _key() -> tuple[Ed25519PrivateKey, str]:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return private, encode_public_key(raw)


def test_the_spec_vector_signs_exactly() -> None:
    assert sign_hmac(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE


def test_the_spec_vector_verifies_among_other_signatures() -> None:
    header = signature_header(["v1,bm9wZQ==", "v1a,bm9wZQ==", VECTOR_SIGNATURE])
    from wire.webhooks import verify_signature_header

    message = verify_signature_header(
        _headers(header), VECTOR_BODY, secrets=[VECTOR_SECRET], now=NOW
    )
    assert message.webhook_id == VECTOR_ID


def test_ed25519_needs_no_shared_secret() -> None:
    private, public = _key()
    header = sign_ed25519(private.sign, "msg_1", VECTOR_TS, BODY)
    event = verify_webhook(_headers(header, webhook_id="msg_1"), BODY, key=public, now=NOW)
    assert (event.webhook_id, event.type, event.data) == (
        "msg_1",
        "dispute.decided",
        {"dispute_id": "dp_1"},
    )


def test_another_key_is_refused() -> None:
    private, _ = _key()
    _, other = _key()
    header = sign_ed25519(private.sign, "msg_1", VECTOR_TS, BODY)
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(_headers(header, webhook_id="msg_1"), BODY, key=other, now=NOW)
    assert caught.value.code == "webhook_invalid"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, b: (h, b + b" "), id="body"),
        pytest.param(lambda h, b: ({**h, "Webhook-Id": "msg_2"}, b), id="webhook-id"),
        pytest.param(
            lambda h, b: ({**h, "Webhook-Timestamp": str(VECTOR_TS + 1)}, b), id="timestamp"
        ),
    ],
)
def test_a_forged_field_fails_every_signature(tamper: object) -> None:
    private, public = _key()
    secret = new_secret(b"k" * 32)
    header = signature_header(
        [
            sign_ed25519(private.sign, "msg_1", VECTOR_TS, BODY),
            sign_hmac(secret, "msg_1", VECTOR_TS, BODY),
        ]
    )
    headers, body = tamper(_headers(header, webhook_id="msg_1"), BODY)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(headers, body, key=public, secret=secret, now=NOW)
    assert caught.value.code == "webhook_invalid"


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        pytest.param(timedelta(minutes=5), True, id="5min-late"),
        pytest.param(timedelta(minutes=5, seconds=1), False, id="5min1s-late"),
        pytest.param(-timedelta(minutes=5), True, id="5min-early"),
        pytest.param(-timedelta(minutes=5, seconds=1), False, id="5min1s-early"),
    ],
)
def test_a_replayed_delivery_is_stale_one_second_past_the_tolerance(
    offset: timedelta, accepted: bool
) -> None:
    secret = new_secret(b"s" * 32)
    header = sign_hmac(secret, "msg_1", VECTOR_TS, BODY)
    headers = _headers(header, webhook_id="msg_1")
    if accepted:
        verify_webhook(headers, BODY, secret=secret, now=NOW + offset)
        return
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(headers, BODY, secret=secret, now=NOW + offset)
    assert caught.value.code == "webhook_timestamp_stale"


def test_both_secrets_verify_during_a_rotation() -> None:
    old, new = new_secret(b"o" * 32), new_secret(b"n" * 32)
    header = signature_header(
        [sign_hmac(new, "msg_1", VECTOR_TS, BODY), sign_hmac(old, "msg_1", VECTOR_TS, BODY)]
    )
    for secret in (old, new):
        verify_webhook(_headers(header, webhook_id="msg_1"), BODY, secret=secret, now=NOW)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(
            {"webhook-timestamp": str(VECTOR_TS), "webhook-signature": "v1,x"}, id="no-id"
        ),
        pytest.param({"webhook-id": "m", "webhook-signature": "v1,x"}, id="no-timestamp"),
        pytest.param({"webhook-id": "m", "webhook-timestamp": str(VECTOR_TS)}, id="no-signature"),
        pytest.param(
            {"webhook-id": "m", "webhook-timestamp": "1.5e9", "webhook-signature": "v1,x"},
            id="float-timestamp",
        ),
    ],
)
def test_missing_or_malformed_headers_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(headers, BODY, secret=VECTOR_SECRET, now=NOW)
    assert caught.value.code == "webhook_invalid"


def test_a_verified_body_that_is_not_an_event_is_refused() -> None:
    secret = new_secret(b"s" * 32)
    body = b"[1, 2]"
    header = sign_hmac(secret, "msg_1", VECTOR_TS, body)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(_headers(header, webhook_id="msg_1"), body, secret=secret, now=NOW)


def test_bad_key_material_has_its_own_codes() -> None:
    header = sign_hmac(VECTOR_SECRET, "msg_1", VECTOR_TS, BODY)
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(
            _headers(header), BODY, key="whpk_" + base64.b64encode(b"x").decode(), now=NOW
        )
    assert caught.value.code == "webhook_key_invalid"
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(_headers(header), BODY, secret="whsec_!!!", now=NOW)
    assert caught.value.code == "webhook_secret_invalid"

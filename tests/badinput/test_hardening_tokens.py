"""Issue 14 items 7, 9 and 10 over HTTP: hostile tokens get the token codes, never a 500.

Adversaries: an anonymous client sending a crafted bearer token (nested JSON, item 7); a
buyer with a genuine token who sends a crafted label to ``/v1/qr/check`` and
``/v1/receipt-sessions`` (nested JSON, item 7; the high-S twin of a genuine label, item 9); and
a label signed with an absurd expiry (item 10; only a signing-key holder can make one, and it
must still not crash the route).
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from keys.attestation import b64url_decode, b64url_encode
from orderseal.services import Services
from tests.support import flows

#: Order of the P-256 group.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
NESTED = b64url_encode(b"[" * 1400)


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.fixture(scope="module")
def shipped(cast: flows.Actors, tmp_path_factory: pytest.TempPathFactory) -> flows.Shipped:
    order_id = flows.register_order(cast)
    return flows.ship(cast, order_id, tmp_path_factory.mktemp("tokens"))


def _buyer_token(cast: flows.Actors) -> str:
    token: str = flows.buyer_token_response(cast.platform, cast.buyer_id)["token"]
    return token


def _signed_label(services: Services, payload: dict[str, object]) -> str:
    """A label over ``payload``, signed (low S) by the service's own sealing key."""
    body = b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
    raw = services.capture.sealer.signer.sign(f"OS1.{body}".encode())
    s = int.from_bytes(raw[32:], "big")
    return f"OS1.{body}.{b64url_encode(raw[:32] + min(s, P256_N - s).to_bytes(32, 'big'))}"


def _high_s_twin(token: str) -> str:
    head, body, signature = token.split(".")
    raw = b64url_decode(signature)
    s = int.from_bytes(raw[32:], "big")
    return f"{head}.{body}.{b64url_encode(raw[:32] + (P256_N - s).to_bytes(32, 'big'))}"


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert logged == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/receipt-sessions", {"token": "OS1.e30.AA"}),
        ("POST", "/v1/qr/check", {"payload": "x"}),
        ("GET", "/v1/buyer-devices/buyer-web-0", None),
    ],
    ids=["receipt-sessions", "qr-check", "buyer-device"],
)
def test_nested_buyer_bearer_is_refused_not_500(
    live_api: str,
    cast: flows.Actors,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    honest = httpx.post(
        f"{live_api}/v1/qr/check",
        json={"payload": "x"},
        headers={"Authorization": f"Bearer {_buyer_token(cast)}"},
    )
    assert honest.status_code == 200
    bearer = f"obt.{NESTED}.{b64url_encode(b'm' * 32)}"
    with caplog.at_level(logging.INFO):
        response = httpx.request(
            method, f"{live_api}{path}", json=body, headers={"Authorization": f"Bearer {bearer}"}
        )
    assert _code(response) == (401, "credentials_forged")  # buyer auth maps token_* codes
    _no_traceback(caplog)


def test_nested_label_is_refused_not_500(
    live_api: str, cast: flows.Actors, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Authorization": f"Bearer {_buyer_token(cast)}"}
    unsigned = f"OS1.{NESTED}.{b64url_encode(b's' * 64)}"
    deep: list[object] = []
    for _ in range(40):
        deep = [deep]
    signed = _signed_label(services, {"o": deep, "s": "S-1", "exp": 4102444800})
    with caplog.at_level(logging.INFO):
        forged = httpx.post(
            f"{live_api}/v1/receipt-sessions", json={"token": unsigned}, headers=headers
        )
        too_deep = httpx.post(
            f"{live_api}/v1/receipt-sessions", json={"token": signed}, headers=headers
        )
        check = httpx.post(f"{live_api}/v1/qr/check", json={"payload": unsigned}, headers=headers)
    assert _code(forged) == (401, "token_forged")
    assert _code(too_deep) == (401, "token_malformed")
    assert check.status_code == 200
    assert check.json()["official"] is False
    _no_traceback(caplog)


def test_high_s_twin_of_a_genuine_label_opens_nothing(
    live_api: str, cast: flows.Actors, shipped: flows.Shipped
) -> None:
    buyer = cast.buyer()
    twin = _high_s_twin(shipped.label_token)
    headers = {"Authorization": f"Bearer {_buyer_token(cast)}"}
    refused = httpx.post(f"{live_api}/v1/receipt-sessions", json={"token": twin}, headers=headers)
    assert _code(refused) == (401, "token_forged")
    check = httpx.post(f"{live_api}/v1/qr/check", json={"payload": twin}, headers=headers)
    assert check.json()["official"] is False
    session = buyer.open_receipt(shipped.label_token)  # the genuine label still opens one
    assert session["order_id"] == shipped.order_id


@pytest.mark.parametrize("exp", [10**20, -(10**20)], ids=["huge", "huge-negative"])
def test_label_with_absurd_expiry_is_malformed(
    live_api: str, cast: flows.Actors, services: Services, shipped: flows.Shipped, exp: int
) -> None:
    token = _signed_label(services, {"o": shipped.order_id, "s": "S-1", "exp": exp})
    headers = {"Authorization": f"Bearer {_buyer_token(cast)}"}
    refused = httpx.post(f"{live_api}/v1/receipt-sessions", json={"token": token}, headers=headers)
    assert _code(refused) == (401, "token_malformed")

"""Each role's allowed and refused actions on the capture routes, over real HTTP.

Stations sign requests with their device key, buyers present platform-issued tokens,
operators use API keys. Refusals carry stable codes: a station or buyer never learns whether
someone else's session exists.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from capture.tokens import issue_buyer_token
from clients.client import APIError, BuyerClient, DeviceKey, PlatformClient, StationClient
from clients.schemas import SessionResponse
from keys.attestation import request_signing_payload, sign_bytes
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows

EMPTY_SHA = hashlib.sha256(b"").hexdigest()


@dataclass
class World:
    """Two stations, two buyers with their apps, and one shipped order per buyer."""

    base_url: str
    a: flows.Actors
    b: flows.Actors
    station_b: StationClient
    order_a: str
    order_b: str
    shipped_a: flows.Shipped
    open_session_a: SessionResponse
    receipt_a: SessionResponse
    photo: Path


@pytest.fixture(scope="module")
def world(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> World:
    work = tmp_path_factory.mktemp("auth")
    a = flows.actors(live_api, credentials)
    b = flows.actors(live_api, credentials)
    order_a, order_b = flows.register_order(a), flows.register_order(b)
    shipped_a = flows.ship(a, order_a, work)
    flows.ship(b, order_b, work)
    flows.reopen(a, order_a)  # packed: a new packing session needs the platform's reopen
    open_session = a.station.open_session(order_a)
    receipt = a.buyer().open_receipt(shipped_a.label_token)
    photo = make_jpeg(work / "auth.jpg", seed=11, size=(160, 120))
    return World(
        live_api, a, b, b.station, order_a, order_b, shipped_a, open_session, receipt, photo
    )


def _code(call: Any) -> tuple[int, str]:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status, caught.value.code


def _raw_station(
    base_url: str,
    device: DeviceKey,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    signed_body: bytes | None = None,
    signer: DeviceKey | None = None,
) -> tuple[httpx.Response, dict[str, str]]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or secrets.token_hex(16)
    digest = hashlib.sha256(body if signed_body is None else signed_body).hexdigest()
    payload = request_signing_payload(method, path, stamp, nonce, digest)
    headers = {
        "X-OrderSeal-Device": device.device_id,
        "X-OrderSeal-Timestamp": stamp,
        "X-OrderSeal-Nonce": nonce,
        "X-OrderSeal-Signature": sign_bytes((signer or device).private_key, payload),
        "Content-Type": "application/json",
    }
    response = httpx.request(method, base_url + path, content=body, headers=headers)
    return response, headers


def _error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# Station ---------------------------------------------------------------------------------
def test_station_works_within_its_own_session(world: World) -> None:
    sealed = world.a.station.upload(world.open_session_a, world.photo, title="own.jpg")
    assert sealed["order_id"] == world.order_a
    # order_a was reopened: its released session prints no fresh label until this one closes.
    assert _code(lambda: world.a.station.label_png(world.order_a)) == (404, "no_label")
    assert world.station_b.label_png(world.order_b).startswith(b"\x89PNG")


def test_station_cannot_upload_into_another_stations_session(world: World) -> None:
    call = lambda: world.station_b.upload(world.open_session_a, world.photo, title="x.jpg")  # noqa: E731
    assert _code(call) == (404, "session_not_found")


def test_station_cannot_close_another_stations_session(world: World) -> None:
    assert _code(lambda: world.station_b.close(world.open_session_a)) == (404, "session_not_found")


def test_unknown_session_looks_the_same_as_someone_elses(world: World) -> None:
    ghost = dict(world.open_session_a, session_id="ss_doesnotexist")
    assert _code(lambda: world.a.station.close(ghost)) == (404, "session_not_found")


def test_station_signature_older_than_the_skew_is_expired(world: World) -> None:
    body = b'{"order_id": "%s"}' % world.order_a.encode()
    old = int(time.time()) - 6 * 60
    response, _ = _raw_station(
        world.base_url, world.a.station.device, "POST", "/v1/shipment-sessions", body, timestamp=old
    )
    assert _error_code(response) == (401, "credentials_expired")


def test_station_signature_by_another_key_is_forged(world: World) -> None:
    body = b'{"order_id": "%s"}' % world.order_a.encode()
    response, _ = _raw_station(
        world.base_url,
        world.a.station.device,
        "POST",
        "/v1/shipment-sessions",
        body,
        signer=world.station_b.device,
    )
    assert _error_code(response) == (401, "credentials_forged")


def test_station_signature_over_another_body_is_forged(world: World) -> None:
    body = b'{"order_id": "%s"}' % world.order_b.encode()
    signed = b'{"order_id": "%s"}' % world.order_a.encode()
    response, _ = _raw_station(
        world.base_url,
        world.a.station.device,
        "POST",
        "/v1/shipment-sessions",
        body,
        signed_body=signed,
    )
    assert _error_code(response) == (401, "credentials_forged")


def test_replayed_station_request_is_refused(world: World) -> None:
    body = b'{"order_id": "%s"}' % world.order_a.encode()
    first, headers = _raw_station(
        world.base_url, world.a.station.device, "POST", "/v1/shipment-sessions", body
    )
    assert first.status_code == 201
    again = httpx.post(world.base_url + "/v1/shipment-sessions", content=body, headers=headers)
    assert _error_code(again) == (401, "credentials_replayed")


def test_upload_body_must_match_the_signed_content_hash(world: World) -> None:
    path = f"/v1/shipment-sessions/{world.open_session_a['session_id']}/evidence"
    signed_hash = hashlib.sha256(b"something else").hexdigest()
    headers = world.a.station.signed_headers("PUT", path, signed_hash)
    headers.update(
        {
            "X-OrderSeal-Content-SHA256": signed_hash,
            "X-OrderSeal-Statement": "e30",
            "X-OrderSeal-Statement-Signature": "AA",
        }
    )
    response = httpx.put(world.base_url + path, content=world.photo.read_bytes(), headers=headers)
    assert _error_code(response) == (401, "credentials_forged")


def test_declared_content_hash_binds_a_small_body(world: World) -> None:
    """A proxy on the path swaps the order in a signed "open session" request (issue 14.8)."""
    signed_order, swapped_order = flows.register_order(world.a), flows.register_order(world.a)
    signed = b'{"order_id": "%s"}' % signed_order.encode()
    swapped = b'{"order_id": "%s"}' % swapped_order.encode()
    stamp, nonce = str(int(time.time())), secrets.token_hex(16)
    digest = hashlib.sha256(signed).hexdigest()
    payload = request_signing_payload("POST", "/v1/shipment-sessions", stamp, nonce, digest)
    headers = {
        "X-OrderSeal-Device": world.a.station.device.device_id,
        "X-OrderSeal-Timestamp": stamp,
        "X-OrderSeal-Nonce": nonce,
        "X-OrderSeal-Signature": sign_bytes(world.a.station.device.private_key, payload),
        "X-OrderSeal-Content-SHA256": digest,
        "Content-Type": "application/json",
    }
    url = world.base_url + "/v1/shipment-sessions"
    tampered = httpx.post(url, content=swapped, headers=headers)
    assert _error_code(tampered) == (401, "credentials_forged")
    honest = httpx.post(url, content=signed, headers=headers)
    assert honest.status_code == 201
    assert honest.json()["order_id"] == signed_order


def test_unsigned_station_request_is_refused(world: World, credentials: dict[str, str]) -> None:
    response = httpx.post(
        world.base_url + "/v1/shipment-sessions",
        json={"order_id": world.order_a},
        headers={"Authorization": f"Bearer {credentials['platform']}"},
    )
    assert _error_code(response) == (401, "credentials_missing")


def test_unknown_device_is_refused_like_a_bad_signature(world: World) -> None:
    """A prober learns nothing: an unknown id and an enrolled id signed with the wrong key get
    the same answer (the signature is checked first, against a decoy for an unknown id)."""
    stranger = DeviceKey.generate("station-never-enrolled")
    unknown, _ = _raw_station(world.base_url, stranger, "GET", "/v1/orders/X/label.png")
    enrolled = world.a.station.device
    impostor, _ = _raw_station(
        world.base_url, enrolled, "GET", "/v1/orders/X/label.png", signer=stranger
    )
    assert _error_code(unknown) == _error_code(impostor) == (401, "credentials_forged")
    assert unknown.json() == impostor.json()


def test_buyer_app_key_cannot_act_as_a_station(world: World) -> None:
    body = b'{"order_id": "%s"}' % world.order_a.encode()
    response, _ = _raw_station(
        world.base_url, world.a.buyer_device, "POST", "/v1/shipment-sessions", body
    )
    assert _error_code(response) == (403, "wrong_role")


# Buyer -----------------------------------------------------------------------------------
def test_buyer_opens_receipt_only_for_own_order(world: World) -> None:
    assert world.receipt_a["order_id"] == world.order_a
    stranger = world.b.buyer()
    call = lambda: stranger.open_receipt(world.shipped_a.label_token)  # noqa: E731
    assert _code(call) == (403, "not_your_order")


def test_buyer_cannot_upload_into_another_buyers_session(world: World) -> None:
    stranger = world.b.buyer()
    call = lambda: stranger.upload(world.receipt_a, world.photo, title="x.jpg")  # noqa: E731
    assert _code(call) == (404, "session_not_found")


def test_buyer_cannot_use_another_buyers_app(world: World) -> None:
    token = flows.buyer_token_response(world.b.platform, world.b.buyer_id)
    impostor = BuyerClient(world.base_url, token["token"], world.a.buyer_device)
    call = lambda: impostor.upload(world.receipt_a, world.photo, title="x.jpg")  # noqa: E731
    assert _code(call) == (403, "wrong_device")


def test_buyer_cannot_finish_or_read_another_buyers_session(world: World) -> None:
    stranger = world.b.buyer()
    assert _code(lambda: stranger.finish(world.receipt_a)) == (404, "session_not_found")
    call = lambda: stranger.download(world.receipt_a, "ev_whatever")  # noqa: E731
    assert _code(call) == (404, "session_not_found")


def _as_buyer(base_url: str, token: str) -> httpx.Response:
    return httpx.post(
        base_url + "/v1/qr/check",
        json={"payload": "hello"},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_buyer_token_signed_with_another_secret_is_forged(world: World, services: Services) -> None:
    token = issue_buyer_token(
        b"not-the-platform-secret" * 2,
        buyer_id=world.a.buyer_id,
        now=services.clock(),
        ttl=timedelta(minutes=5),
    )
    assert _error_code(_as_buyer(world.base_url, token)) == (401, "credentials_forged")


def test_buyer_token_with_an_edited_subject_is_forged(world: World) -> None:
    token = flows.buyer_token_response(world.a.platform, world.a.buyer_id)
    prefix, _payload, mac = token["token"].split(".")
    other = flows.buyer_token_response(world.b.platform, world.b.buyer_id)
    spliced = ".".join([prefix, other["token"].split(".")[1], mac])
    assert _error_code(_as_buyer(world.base_url, spliced)) == (401, "credentials_forged")


@pytest.mark.parametrize(
    ("issued_ago", "ttl", "expected"),
    [
        (timedelta(minutes=61), timedelta(minutes=60), 401),
        (timedelta(minutes=59), timedelta(minutes=60), 200),
    ],
    ids=["expired", "still-valid"],
)
def test_buyer_token_expiry(
    world: World, services: Services, issued_ago: timedelta, ttl: timedelta, expected: int
) -> None:
    token = issue_buyer_token(
        services.token_secret,
        buyer_id=world.a.buyer_id,
        now=services.clock() - issued_ago,
        ttl=ttl,
    )
    response = _as_buyer(world.base_url, token)
    assert response.status_code == expected
    if expected == 401:
        assert response.json()["error"]["code"] == "credentials_expired"


def test_api_key_is_not_a_buyer_token(world: World, credentials: dict[str, str]) -> None:
    response = _as_buyer(world.base_url, credentials["platform"])
    assert _error_code(response) == (401, "credentials_malformed")


# Operators -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "method", "path", "body", "expected"),
    [
        ("platform", "POST", "/v1/devices", {}, (403, "wrong_role")),
        ("agent", "POST", "/v1/orders", {}, (403, "wrong_role")),
        ("admin", "POST", "/v1/buyer-tokens", {"buyer_id": "x"}, (403, "wrong_role")),
        ("platform", "GET", "/v1/evidence/ev_x/file", None, (403, "wrong_role")),
        (None, "POST", "/v1/orders", {}, (401, "credentials_missing")),
        ("bogus", "POST", "/v1/orders", {}, (401, "credentials_invalid")),
    ],
    ids=[
        "platform-enrols",
        "agent-registers-order",
        "admin-issues-buyer-token",
        "platform-downloads",
        "anonymous",
        "unknown-key",
    ],
)
def test_api_keys_act_only_in_their_role(
    world: World,
    credentials: dict[str, str],
    role: str | None,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    expected: tuple[int, str],
) -> None:
    headers = {}
    if role is not None:
        headers["Authorization"] = f"Bearer {credentials.get(role, 'osk_bogus_' + 'x' * 30)}"
    response = httpx.request(method, world.base_url + path, json=body, headers=headers)
    assert _error_code(response) == expected


def test_agent_downloads_sealed_evidence(world: World, credentials: dict[str, str]) -> None:
    agent = PlatformClient(world.base_url, credentials["agent"])
    evidence_id = world.shipped_a.evidence[0]["evidence_id"]
    assert agent.call("GET", f"/v1/evidence/{evidence_id}/file")[:3] == b"\xff\xd8\xff"


def test_only_the_packing_station_prints_the_label(world: World) -> None:
    assert world.station_b.label_pdf(world.order_b).startswith(b"%PDF")
    call = lambda: world.a.station.label_png(world.order_b)  # noqa: E731
    assert _code(call) == (404, "no_label")

"""Every bad-input corpus file through the station, buyer and dispute upload routes.

Capture routes refuse each with a 4xx and a stable code before anything is sealed or stored.
The dispute route is different by design: a buyer's attachment is whatever they sent, so a
merely broken file is stored and *judged* (never ``allow``); only an empty or oversized body or
a bad filename is refused at the door. After every case the server still answers.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.client import APIError, BuyerClient, PlatformClient
from clients.schemas import SessionResponse
from infra.settings import Settings
from tests.badinput.conftest import MAX_UPLOAD_BYTES
from tests.badinput.corpus import BadFile, build_corpus, oversized_assertion
from tests.badinput.state import stored
from tests.support import flows

#: Capture-route outcome per corpus case: (HTTP status, stable code).
CAPTURE_EXPECTED: dict[str, tuple[int, str]] = {
    "zero-byte": (422, "empty_file"),
    "jpeg-cut-3": (422, "corrupt_media"),
    "jpeg-cut-header": (422, "corrupt_media"),
    "jpeg-cut-half": (422, "corrupt_media"),
    "jpeg-cut-before-eoi": (422, "corrupt_media"),
    "png-cut-9": (422, "corrupt_media"),
    "png-cut-ihdr": (422, "corrupt_media"),
    "png-cut-half": (422, "corrupt_media"),
    "png-no-iend": (422, "corrupt_media"),
    "mp4-cut-ftyp": (422, "corrupt_media"),
    "mp4-cut-half": (422, "corrupt_media"),
    "mp4-cut-end": (422, "corrupt_media"),
    "sealed-cut-in-manifest": (422, "corrupt_media"),
    "sealed-cut-after-manifest": (422, "corrupt_media"),
    "text-as-jpeg": (422, "unsupported_media"),
    "html-as-png": (422, "unsupported_media"),
    "decompression-bomb": (422, "image_too_large"),
    "absurd-dimensions-png": (422, "image_too_large"),
    "absurd-dimensions-jpeg": (422, "image_too_large"),
    "polyglot-jpeg-zip": (422, "trailing_data"),
    "corrupt-jumbf": (422, "corrupt_media"),
}
#: Accepted on purpose: the name and Content-Type are ignored, the content decides the type.
ACCEPTED = {"png-named-jpg"}


@dataclass
class World:
    settings: Settings
    base_url: str
    cast: flows.Actors
    buyer: BuyerClient
    station_session: SessionResponse
    receipt_session: SessionResponse
    dispute_id: str
    corpus: dict[str, BadFile]
    work: Path


@pytest.fixture(scope="module")
def world(
    live_api: str,
    credentials: dict[str, str],
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> World:
    work = tmp_path_factory.mktemp("badinput")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    agent = PlatformClient(live_api, credentials["agent"])
    sealed = agent.call("GET", f"/v1/evidence/{shipped.evidence[0]['evidence_id']}/file")
    corpus = {case.name: case for case in build_corpus(work / "corpus", sealed_jpeg=sealed)}
    buyer = cast.buyer()
    dispute = cast.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": cast.buyer_id,
            "claim_type": "damaged",
            "amount": "10.00",
            "currency": "USD",
        },
    )
    flows.reopen(cast, order_id)  # packed: a new packing session needs the platform's reopen
    return World(
        settings,
        live_api,
        cast,
        buyer,
        cast.station.open_session(order_id),
        buyer.open_receipt(shipped.label_token),
        dispute["dispute_id"],
        corpus,
        work,
    )


def test_corpus_cases_all_have_an_expectation(world: World) -> None:
    assert set(world.corpus) == set(CAPTURE_EXPECTED) | ACCEPTED


def _file(world: World, case: BadFile) -> Path:
    path = world.work / f"upload-{case.name}-{case.filename}"
    path.write_bytes(case.data)
    return path


def _assert_alive(world: World) -> None:
    assert httpx.get(f"{world.base_url}/healthz", timeout=10).status_code == 200


def _refused(call: Any) -> APIError:
    with pytest.raises(APIError) as caught:
        call()
    error = caught.value
    assert error.message
    assert "Traceback" not in error.message
    return error


@pytest.mark.parametrize("route", ["station", "buyer"])
@pytest.mark.parametrize("name", sorted(CAPTURE_EXPECTED))
def test_capture_routes_refuse_bad_files_and_store_nothing(
    world: World, route: str, name: str
) -> None:
    case = world.corpus[name]
    path = _file(world, case)
    before = stored(world.settings)
    if route == "station":
        error = _refused(
            lambda: world.cast.station.upload(world.station_session, path, title=case.filename)
        )
    else:
        error = _refused(lambda: world.buyer.upload(world.receipt_session, path, title="c.jpg"))
    assert (error.status, error.code) == CAPTURE_EXPECTED[name]
    assert stored(world.settings) == before
    _assert_alive(world)


def test_claimed_name_and_type_are_ignored_content_decides(world: World) -> None:
    path = _file(world, world.corpus["png-named-jpg"])
    sealed = world.cast.station.upload(world.station_session, path, title="photo.jpg")
    assert sealed["media_type"] == "image/png"


def test_dispute_route_judges_merely_bad_files(world: World) -> None:
    """Broken files are what a fraudster sends: they are kept and never allowed."""
    names = sorted(set(CAPTURE_EXPECTED) - {"zero-byte"})
    for name in names:
        case = world.corpus[name]
        world.cast.platform.attach_file(world.dispute_id, _file(world, case), filename=name)
    oversized = world.work / "oversized-assertion.jpg"
    oversized.write_bytes(oversized_assertion(world.work, assertion_bytes=700_000))
    world.cast.platform.attach_file(world.dispute_id, oversized, filename="oversized-assertion")
    decided = world.cast.platform.call("POST", f"/v1/disputes/{world.dispute_id}/decide")
    by_name = {item["filename"]: item for item in decided["verdict"]["evidence"]}
    assert set(by_name) >= {*names, "oversized-assertion"}
    for name in [*names, "oversized-assertion"]:
        assert by_name[name]["decision"] in ("review", "block"), name
    assert decided["verdict"]["decision"] != "allow"
    failed = {c["code"] for item in by_name.values() for c in item["checks"] if not c["passed"]}
    assert {"corrupt_media", "unsupported_media", "no_manifest", "untrusted_signer"} <= failed
    _assert_alive(world)


def test_dispute_route_refuses_an_empty_file(world: World) -> None:
    before = stored(world.settings)
    path = _file(world, world.corpus["zero-byte"])
    error = _refused(lambda: world.cast.platform.attach_file(world.dispute_id, path, filename="e"))
    assert (error.status, error.code) == (422, "empty_file")
    assert stored(world.settings) == before


# Sizes ---------------------------------------------------------------------------------------
def _raw_exchange(base_url: str, head: str, body: bytes) -> tuple[int, bytes]:
    """Send a request line + headers + a short body on a raw socket; read the reply."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply) < reply.find(b"\r\n\r\n") + 40:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    return status, reply


def _station_upload_headers(world: World, path: str, digest: str) -> dict[str, str]:
    statement, signature, _ = world.cast.station.device.attest(
        order_id=world.station_session["order_id"],
        session_id=world.station_session["session_id"],
        stage="shipment",
        path=_file(world, world.corpus["png-named-jpg"]),
    )
    headers = world.cast.station.signed_headers("PUT", path, digest)
    headers.update(
        {
            "X-OrderSeal-Content-SHA256": digest,
            "X-OrderSeal-Statement": statement,
            "X-OrderSeal-Statement-Signature": signature,
        }
    )
    return headers


def test_declared_content_length_above_the_limit_is_refused_before_reading(world: World) -> None:
    before = stored(world.settings)
    path = f"/v1/disputes/{world.dispute_id}/files"
    api_key = world.cast.platform.http.headers["authorization"]
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {api_key}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {10**12}\r\n"
    )
    status, reply = _raw_exchange(world.base_url, head, b"\0" * 1024)
    assert status == 413
    assert b'"payload_too_large"' in reply
    assert stored(world.settings) == before
    _assert_alive(world)


def _endless(total: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        sent += chunk
        yield b"\xff" * chunk


@pytest.mark.parametrize("route", ["station", "dispute"])
def test_chunked_body_streaming_past_the_limit_is_cut_off(world: World, route: str) -> None:
    before = stored(world.settings)
    if route == "station":
        path = f"/v1/shipment-sessions/{world.station_session['session_id']}/evidence"
        headers = _station_upload_headers(world, path, hashlib.sha256(b"x").hexdigest())
    else:
        path = f"/v1/disputes/{world.dispute_id}/files"
        headers = {"Authorization": world.cast.platform.http.headers["authorization"]}
    try:
        response = httpx.put(
            world.base_url + path,
            content=_endless(MAX_UPLOAD_BYTES + 2 * 1024 * 1024),
            headers=headers,
            timeout=30,
        )
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the server answered and closed while we were still sending: also a refusal
    else:
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
    assert stored(world.settings) == before
    assert not list((world.settings.resolved_home / "work").glob("upload-*.part"))
    _assert_alive(world)


# Names, ids and JSON ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd", "..", "a\\b.jpg", "x" * 240, "\xff\xfe.jpg", "tab\there.jpg"],
    ids=["traversal", "dotdot", "backslash", "oversize", "non-utf8", "control"],
)
def test_dispute_filenames_are_refused_when_not_plain(world: World, filename: str) -> None:
    before = stored(world.settings)
    response = httpx.put(
        f"{world.base_url}/v1/disputes/{world.dispute_id}/files",
        content=b"\xff\xd8\xff" + b"\0" * 64,
        headers=[
            (b"Authorization", world.cast.platform.http.headers["authorization"].encode()),
            (b"X-OrderSeal-Filename", filename.encode("latin-1")),
        ],
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_filename"
    assert stored(world.settings) == before


def test_utf8_filename_is_kept(world: World) -> None:
    response = httpx.put(
        f"{world.base_url}/v1/disputes/{world.dispute_id}/files",
        content=b"not a photo at all",
        headers=[
            (b"Authorization", world.cast.platform.http.headers["authorization"].encode()),
            (b"X-OrderSeal-Filename", "café.jpg".encode()),
        ],
    )
    assert response.status_code == 201, response.text
    report = world.cast.platform.call("GET", f"/v1/disputes/{world.dispute_id}")
    assert report["dispute_id"] == world.dispute_id


@pytest.mark.parametrize(
    "order_id",
    ["../../etc/passwd", "ORD\u0000X", "ORD\nX", "O" * 5000, "ORD-ñ", ""],
    ids=["traversal", "nul", "newline", "oversize", "non-ascii", "empty"],
)
def test_bad_order_ids_in_json_are_refused(world: World, order_id: str) -> None:
    before = stored(world.settings)
    for path, body in [
        ("/v1/orders", {**_order_body(world), "order_id": order_id}),
        ("/v1/disputes", {**_dispute_body(world), "order_id": order_id}),
    ]:
        response = world.cast.platform.http.post(path, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_request"
    assert stored(world.settings) == before


def test_nul_in_free_text_is_never_a_server_error(world: World) -> None:
    body = {**_order_body(world), "order_id": "ORD-NUL-1", "carrier": "UPS\u0000X"}
    response = world.cast.platform.http.post("/v1/orders", json=body)
    # SQLite stores it; PostgreSQL cannot hold NUL in text: 422 there, never a 500.
    assert response.status_code in (201, 422), response.text


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/disputes/..%2F..%2Fetc%2Fpasswd", 404, "not_found"),
        ("/v1/disputes/%00", 400, "invalid_path"),
        ("/v1/disputes/a%0Ab", 400, "invalid_path"),
        ("/v1/disputes/%FF%FE", 404, "dispute_not_found"),
        ("/v1/disputes/" + "d" * 5000, 404, "dispute_not_found"),
        ("/v1/disputes/../../etc/passwd", 404, "not_found"),
    ],
    ids=["encoded-traversal", "nul", "newline", "non-utf8", "oversize", "raw-traversal"],
)
def test_bad_ids_in_paths_are_not_found(world: World, path: str, status: int, code: str) -> None:
    response = world.cast.platform.http.get(path)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def _order_body(world: World) -> dict[str, Any]:
    return {
        "order_id": "ORD-OK",
        "buyer_id": world.cast.buyer_id,
        "items": [{"sku": "S", "quantity": 1}],
        "declared_value": "1.00",
        "currency": "USD",
    }


def _dispute_body(world: World) -> dict[str, Any]:
    return {
        "order_id": world.station_session["order_id"],
        "buyer_id": world.cast.buyer_id,
        "claim_type": "damaged",
        "amount": "1.00",
        "currency": "USD",
    }


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b"[]",
        b'{"order_id": "\xff\xfe"}',
        b'{"order_id": 12}',
        b'{"unrelated": 1}',
        b"null",
        b'{"order_id": "A", "order_id": "B", "x": {"deep": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
    ],
    ids=["broken", "empty", "array", "non-utf8", "wrong-type", "missing", "null", "deep"],
)
@pytest.mark.parametrize("path", ["/v1/orders", "/v1/disputes", "/v1/buyer-tokens"])
def test_malformed_json_and_missing_fields(world: World, path: str, content: bytes) -> None:
    before = stored(world.settings)
    response = world.cast.platform.http.post(
        path, content=content, headers={"Content-Type": "application/json"}
    )
    error = response.json()["error"]
    # Bytes the framework cannot decode are its 400; JSON that decodes but is wrong is ours.
    assert (response.status_code, error["code"]) in {(400, "bad_request"), (422, "invalid_request")}
    assert error["message"]
    assert "Traceback" not in response.text
    assert stored(world.settings) == before


def test_malformed_json_from_a_station_is_refused(world: World) -> None:
    body = b'{"order_id": '
    headers = world.cast.station.signed_headers(
        "POST", "/v1/shipment-sessions", hashlib.sha256(body).hexdigest()
    )
    headers["Content-Type"] = "application/json"
    response = httpx.post(f"{world.base_url}/v1/shipment-sessions", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


# Forms -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("route", ["station", "buyer", "public"])
def test_a_multipart_form_is_refused_on_every_upload_route(world: World, route: str) -> None:
    """``curl -F file=@photo.jpg`` wraps the photo in a form: every upload route answers 415
    ``multipart_unsupported`` before storing anything, as the dispute attachment route does."""
    photo = _file(world, world.corpus["png-named-jpg"])
    boundary = "orderseal-form"
    form = (
        (
            f"--{boundary}\r\nContent-Disposition: form-data; name=file; filename=p.jpg\r\n"
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    digest = hashlib.sha256(form).hexdigest()
    if route == "station":
        path = f"/v1/shipment-sessions/{world.station_session['session_id']}/evidence"
        headers = _station_upload_headers(world, path, digest)
    elif route == "buyer":
        path = f"/v1/receipt-sessions/{world.receipt_session['session_id']}/evidence"
        statement, signature, _ = world.buyer.device.attest(
            order_id=world.receipt_session["order_id"],
            session_id=world.receipt_session["session_id"],
            stage="receipt",
            path=photo,
        )
        headers = {
            "Authorization": world.buyer.http.headers["authorization"],
            "X-OrderSeal-Device": world.buyer.device.device_id,
            "X-OrderSeal-Statement": statement,
            "X-OrderSeal-Statement-Signature": signature,
            "X-OrderSeal-Content-SHA256": digest,
        }
    else:
        path = "/verify"
        headers = {}
    headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    before = stored(world.settings)
    method = "POST" if route == "public" else "PUT"
    response = httpx.request(
        method, world.base_url + path, content=form, headers=headers, timeout=30
    )
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "multipart_unsupported"
    assert stored(world.settings) == before
    assert not list((world.settings.resolved_home / "work").glob("upload-*.part"))
    _assert_alive(world)

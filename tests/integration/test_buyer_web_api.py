"""The API behind the buyer web page: self-enrolment, WebM conversion, typed codes, pages."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from PIL import Image

from capture.devices import enrolment_message
from capture.qr import render_label_png
from clients.client import DeviceKey, PlatformClient, StationClient
from keys.attestation import CaptureStatement, b64url_encode
from orderseal.samples import make_jpeg
from tests.support import flows
from tests.support.label_video import label_top

BUYER = "buyer-api-3001"
OTHER = "buyer-api-3002"


def _raw_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    """What WebCrypto returns: raw r||s (IEEE P1363), base64url."""
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _spki(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _make_webm(path: Path, label_token: str | None = None) -> Path:
    """A short WebM; with ``label_token``, the parcel's label is in view (as a buyer films it)."""
    size = (640, 480) if label_token else (160, 120)
    label = None
    if label_token:
        label = label_top(render_label_png(label_token, order_id="ORD-API-1"))
        label.thumbnail((300, 440))
    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=15)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.time_base = Fraction(1, 15)
        for index in range(15):
            scene = Image.new("RGB", size, ((index * 15) % 255,) * 3)
            if label is not None:
                scene.paste(label, (20 + index * 4, 20))
            pixels = np.asarray(scene, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def api(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Clients, a shipped order for BUYER and one for OTHER, and buyer tokens."""
    platform = PlatformClient(live_api, credentials["platform"])
    admin = PlatformClient(live_api, credentials["admin"])
    station_key = DeviceKey.generate("station-api-01")
    enrolled = admin.call(
        "POST",
        "/v1/devices",
        json={"device_id": "station-api-01", "kind": "station", "csr_pem": station_key.csr_pem()},
    )
    station = StationClient(
        live_api,
        DeviceKey(
            station_key.device_id,
            station_key.private_key,
            x509.load_pem_x509_certificate(enrolled["certificate_pem"].encode()),
        ),
    )
    orders = {}
    work = tmp_path_factory.mktemp("station-api")
    for order_id, buyer in (("ORD-API-1", BUYER), ("ORD-API-2", OTHER), ("ORD-API-3", BUYER)):
        platform.call(
            "POST",
            "/v1/orders",
            json={
                "order_id": order_id,
                "buyer_id": buyer,
                "items": [{"sku": "MUG-1", "quantity": 1}],
                "declared_value": "12.00",
                "currency": "USD",
            },
        )
        session = station.open_session(order_id)
        # Each parcel its own photo: the same bytes in a second order are refused.
        photo = make_jpeg(work / f"{order_id}.jpg", seed=3, caption=order_id)
        station.upload(session, photo, title="pack.jpg")
        orders[order_id] = station.close(session)["token"]
    tokens = {b: flows.buyer_token_response(platform, b)["token"] for b in (BUYER, OTHER)}
    with httpx.Client(base_url=live_api, timeout=60) as http:
        yield {"http": http, "platform": platform, "tokens": tokens, "labels": orders}


def _auth(api: dict[str, Any], buyer: str = BUYER) -> dict[str, str]:
    return {"Authorization": f"Bearer {api['tokens'][buyer]}"}


def _nonce(api: dict[str, Any], buyer: str = BUYER) -> str:
    response = api["http"].post("/v1/buyer-devices/challenge", headers=_auth(api, buyer))
    assert response.status_code == 201, response.text
    nonce: str = response.json()["nonce"]
    return nonce


def _enrol(api: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> httpx.Response:
    spki = _spki(key)
    nonce = _nonce(api)
    proof = _raw_sign(key, enrolment_message(BUYER, spki, nonce))
    response: httpx.Response = api["http"].post(
        "/v1/buyer-devices",
        json={"public_key_spki": spki, "proof": proof, "nonce": nonce},
        headers=_auth(api),
    )
    return response


@pytest.fixture(scope="module")
def web_device(api: dict[str, Any]) -> tuple[str, ec.EllipticCurvePrivateKey]:
    """A browser-style install: enrolled with a raw r||s proof."""
    key = ec.generate_private_key(ec.SECP256R1())
    response = _enrol(api, key)
    assert response.status_code == 201, response.text
    return response.json()["device_id"], key


def test_self_enrolled_device_is_the_callers_only(
    api: dict[str, Any], web_device: tuple[str, ec.EllipticCurvePrivateKey]
) -> None:
    device_id, _ = web_device
    assert device_id.startswith("buyer-web-")
    mine = api["http"].get(f"/v1/buyer-devices/{device_id}", headers=_auth(api))
    assert mine.status_code == 200
    assert mine.json()["owner_id"] == BUYER
    theirs = api["http"].get(f"/v1/buyer-devices/{device_id}", headers=_auth(api, OTHER))
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "device_not_found"


@pytest.mark.parametrize(
    ("case", "code", "status"),
    [
        ("not-base64", "device_key_invalid", 422),
        ("rsa-key", "device_key_invalid", 422),
        ("proof-for-another-buyer", "device_proof_invalid", 422),
        ("proof-by-another-key", "device_proof_invalid", 422),
        ("no-token", "credentials_missing", 401),
    ],
    ids=lambda v: str(v),
)
def test_enrolment_refusals(api: dict[str, Any], case: str, code: str, status: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    spki = _spki(key)
    nonce = _nonce(api)
    proof = _raw_sign(key, enrolment_message(BUYER, spki, nonce))
    headers = _auth(api)
    if case == "not-base64":
        spki = "%%%not base64%%%"
    elif case == "rsa-key":
        spki = _spki(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif case == "proof-for-another-buyer":
        proof = _raw_sign(key, enrolment_message(OTHER, spki, nonce))
    elif case == "proof-by-another-key":
        other_key = ec.generate_private_key(ec.SECP256R1())
        proof = _raw_sign(other_key, enrolment_message(BUYER, spki, nonce))
    elif case == "no-token":
        headers = {}
    response = api["http"].post(
        "/v1/buyer-devices",
        json={"public_key_spki": spki, "proof": proof, "nonce": nonce},
        headers=headers,
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def _upload(
    api: dict[str, Any],
    session: dict[str, Any],
    device: tuple[str, ec.EllipticCurvePrivateKey],
    body: bytes,
    title: str,
) -> httpx.Response:
    device_id, key = device
    digest = hashlib.sha256(body).hexdigest()
    statement = CaptureStatement(
        device_id=device_id,
        order_id=session["order_id"],
        session_id=session["session_id"],
        stage="receipt",
        captured_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        content_sha256=digest,
    ).canonical()
    headers = {
        **_auth(api),
        "X-OrderSeal-Device": device_id,
        "X-OrderSeal-Statement": b64url_encode(statement),
        "X-OrderSeal-Statement-Signature": _raw_sign(key, statement),
        "X-OrderSeal-Content-SHA256": digest,
        "X-OrderSeal-Title": title,
        "Content-Type": "application/octet-stream",
    }
    url = f"/v1/receipt-sessions/{session['session_id']}/evidence"
    response: httpx.Response = api["http"].put(url, content=body, headers=headers)
    return response


def test_webm_upload_is_converted_sealed_and_allowed(
    api: dict[str, Any], web_device: tuple[str, ec.EllipticCurvePrivateKey], tmp_path: Path
) -> None:
    http = api["http"]
    opened = http.post(
        "/v1/receipt-sessions", json={"token": api["labels"]["ORD-API-1"]}, headers=_auth(api)
    )
    assert opened.status_code == 201
    session = opened.json()
    webm = _make_webm(tmp_path / "unboxing.webm", api["labels"]["ORD-API-1"]).read_bytes()
    photo = make_jpeg(tmp_path / "unboxing.jpg", seed=11).read_bytes()
    video = _upload(api, session, web_device, webm, "unboxing.webm")
    assert video.status_code == 201, video.text
    assert video.json()["media_type"] == "video/mp4"
    assert video.json()["original_sha256"] == hashlib.sha256(webm).hexdigest()
    assert _upload(api, session, web_device, photo, "unboxing.jpg").status_code == 201

    summary = http.get(f"/v1/receipt-sessions/{session['session_id']}/receipt", headers=_auth(api))
    assert summary.status_code == 200
    assert {i["media_type"] for i in summary.json()["sealed"]} == {"video/mp4", "image/jpeg"}
    assert len(summary.json()["shipment"]) == 1
    elsewhere = http.get(
        f"/v1/receipt-sessions/{session['session_id']}/receipt", headers=_auth(api, OTHER)
    )
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"]["code"] == "session_not_found"

    platform: PlatformClient = api["platform"]
    dispute = platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": "ORD-API-1",
            "buyer_id": BUYER,
            "claim_type": "damaged",
            "amount": "12.00",
            "currency": "USD",
        },
    )
    for item in summary.json()["sealed"]:
        url = f"/v1/receipt-sessions/{session['session_id']}/evidence/{item['evidence_id']}/file"
        sealed = tmp_path / f"sealed-{item['title']}"
        sealed.write_bytes(http.get(url, headers=_auth(api)).raise_for_status().content)
        platform.attach_file(dispute["dispute_id"], sealed, filename=item["title"])
    decided = platform.call("POST", f"/v1/disputes/{dispute['dispute_id']}/decide")
    assert decided["verdict"]["decision"] == "allow", decided["verdict"]["reasons"]


def test_undecodable_webm_is_refused_with_a_code(
    api: dict[str, Any], web_device: tuple[str, ec.EllipticCurvePrivateKey]
) -> None:
    opened = api["http"].post(
        "/v1/receipt-sessions", json={"token": api["labels"]["ORD-API-3"]}, headers=_auth(api)
    )
    fake_webm = b"\x1a\x45\xdf\xa3" + b"\x00not really a webm" * 64
    response = _upload(api, opened.json(), web_device, fake_webm, "broken.webm")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "transcode_failed"


@pytest.mark.parametrize("order_id", ["ORD-API-3", "ORD-API-2", "ORD-NOPE"])
def test_order_number_alone_opens_no_receipt_session(api: dict[str, Any], order_id: str) -> None:
    """Issue 14.18: a typed order number proves nothing about holding the parcel; only the
    signed label token opens a receipt session (the former by-order route is gone)."""
    response = api["http"].post(
        "/v1/receipt-sessions/by-order", json={"order_id": order_id}, headers=_auth(api)
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    typed_as_token = api["http"].post(
        "/v1/receipt-sessions", json={"token": order_id}, headers=_auth(api)
    )
    assert typed_as_token.status_code == 401
    assert typed_as_token.json()["error"]["code"].startswith("token_")
    honest = api["http"].post(
        "/v1/receipt-sessions", json={"token": api["labels"]["ORD-API-3"]}, headers=_auth(api)
    )
    assert (honest.status_code, honest.json()["order_id"]) == (201, "ORD-API-3")


def test_capture_page_and_vendored_decoder_are_served_same_origin(api: dict[str, Any]) -> None:
    http = api["http"]
    page = http.get("/capture")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "/capture/static/vendor/jsQR.js" in page.text
    assert 'src="http' not in page.text  # nothing from a CDN
    assert 'href="http' not in page.text
    decoder = http.get("/capture/static/vendor/jsQR.js")
    assert decoder.status_code == 200
    assert decoder.headers["content-type"].startswith("text/javascript")
    assert http.get("/capture/static/vendor/jsQR.LICENSE").status_code == 200


@pytest.mark.parametrize(
    "name",
    ["../pages.py", "..%2F..%2Fapi.py", "nope.js", "vendor/../../__init__.py", "capture.py"],
)
def test_capture_static_refuses_other_files(api: dict[str, Any], name: str) -> None:
    response = api["http"].get(f"/capture/static/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

"""Attacks on the review stage, typed label codes and merchant file views (reviewer's set).

Each test is one adversary's attempt against the real HTTP API and passes when it is refused
(or judged) with a stable code; the honest path beside it is in the feature's own tests
(``tests/integration/test_review_stage.py``, ``test_label_entry.py``, ``test_merchants.py``).

Adversaries:
* a buyer on someone else's review session, with someone else's app, or racing the order's
  review-photo bound with concurrent uploads;
* a buyer presenting a picture signed by their own device key (wearing a copied seal) as a
  sealed review photo;
* a seller presenting another merchant's station photo as a counter-image, or asking about
  another merchant's order;
* a buyer token on platform and merchant routes, and an anonymous client sending a huge body
  (refused from the headers, before the body is read);
* hostile media on every review route;
* a page sending an ``entry`` outside the three; a buyer stripping a typed receipt so that
  only its recovered original speaks.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from clients.client import DeviceKey, PlatformClient, StationClient
from infra.settings import Settings
from orderseal.forgery import CopiedSeal, sign_with_device_key
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.badinput.corpus import bomb_png
from tests.conftest import make_settings
from tests.support import flows
from tests.support.forgery import legacy_enrolled_device

#: One review photo per order: the race below needs only two uploads to pass it.
MAX_REVIEW_PHOTOS = 1
#: What an anonymous client claims to send (never sent: the answer must come first).
HUGE = 1 << 30


@pytest.fixture(scope="module")
def settings(
    module_home: Path,
    database_url: str,
    storage_overrides: dict[str, object],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    policy = tmp_path_factory.mktemp("policy") / "no-limits.toml"
    policy.write_text("[limits]\nmax_refunds_per_order = 1000\nmax_disputes_per_buyer = 10000\n")
    return make_settings(
        module_home,
        database_url=database_url,
        policy_file=policy,
        max_review_photos=MAX_REVIEW_PHOTOS,
        **storage_overrides,
    )


@dataclass
class OtherSeller:
    merchant_id: str
    station: StationClient
    key: str


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.fixture(scope="module")
def other_seller(live_api: str, credentials: dict[str, str], services: Services) -> OtherSeller:
    merchant_id = f"m-rival-{secrets.token_hex(3)}"
    now = services.clock()
    services.ledger.merchants.add(merchant_id, name="Rival seller", now=now)
    device = DeviceKey.generate(f"station-rival-{secrets.token_hex(3)}")
    PlatformClient(live_api, credentials["admin"]).enrol_device(
        device, kind="station", merchant_id=merchant_id
    )
    key = services.ledger.api_keys.issue(
        role="merchant", subject="rival-admin", merchant_id=merchant_id, now=now
    ).secret
    return OtherSeller(merchant_id, StationClient(live_api, device), key)


def _token(cast: flows.Actors) -> str:
    token: str = flows.buyer_token_response(cast.platform, cast.buyer_id)["token"]
    return token


def _http(cast: flows.Actors) -> httpx.Client:
    return httpx.Client(
        base_url=cast.base_url, timeout=120, headers={"Authorization": f"Bearer {_token(cast)}"}
    )


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def _received(cast: flows.Actors, work: Path) -> str:
    """An order shipped and received by the cast's buyer (receipt closed); its id."""
    order_id = flows.register_order(cast)
    flows.receive(cast, flows.ship(cast, order_id, work), work)
    return order_id


def _review_put(
    http: httpx.Client,
    device: DeviceKey,
    session: dict[str, Any],
    path: Path,
    *,
    body: bytes | None = None,
) -> httpx.Response:
    statement, signature, digest = device.attest(
        order_id=session["order_id"], session_id=session["session_id"], stage="review", path=path
    )
    return http.put(
        f"/v1/review-sessions/{session['session_id']}/evidence",
        content=path.read_bytes() if body is None else body,
        headers={
            "X-OrderSeal-Device": device.device_id,
            "X-OrderSeal-Statement": statement,
            "X-OrderSeal-Statement-Signature": signature,
            "X-OrderSeal-Content-SHA256": digest,
            "X-OrderSeal-Title": path.name,
            "Content-Type": "application/octet-stream",
        },
    )


def _sealed_file(live_api: str, credentials: dict[str, str], evidence_id: str, dest: Path) -> Path:
    dest.write_bytes(
        httpx.get(
            f"{live_api}/v1/evidence/{evidence_id}/file",
            headers={"Authorization": f"Bearer {credentials['agent']}"},
            timeout=60,
        ).content
    )
    return dest


# A buyer on someone else's review session ---------------------------------------------------
def test_another_buyer_cannot_upload_into_or_finish_a_review_session(
    cast: flows.Actors, live_api: str, credentials: dict[str, str], tmp_path: Path
) -> None:
    order_id = _received(cast, tmp_path)
    victim = _http(cast)
    session = victim.post("/v1/review-sessions", json={"order_id": order_id}).json()
    stranger = flows.actors(live_api, credentials)
    theirs = _http(stranger)
    photo = make_jpeg(tmp_path / "stranger.jpg", seed=4242, size=(160, 120))
    upload = _review_put(theirs, stranger.buyer_device, session, photo)
    finish = theirs.post(f"/v1/review-sessions/{session['session_id']}/finish")
    assert (upload.status_code, _code(upload)) == (404, "session_not_found")
    assert (finish.status_code, _code(finish)) == (404, "session_not_found")
    # The victim's session is untouched: still open, still room for their own photo.
    own = _review_put(victim, cast.buyer_device, session, photo)
    assert own.status_code == 201, own.text


def test_a_buyer_cannot_upload_a_review_with_another_buyers_app(
    cast: flows.Actors, live_api: str, credentials: dict[str, str], tmp_path: Path
) -> None:
    order_id = _received(cast, tmp_path)
    http = _http(cast)
    session = http.post("/v1/review-sessions", json={"order_id": order_id}).json()
    stranger = flows.actors(live_api, credentials)
    photo = make_jpeg(tmp_path / "borrowed.jpg", seed=4343, size=(160, 120))
    answer = _review_put(http, stranger.buyer_device, session, photo)
    assert (answer.status_code, _code(answer)) == (403, "wrong_device")


def test_a_station_cannot_open_a_review_session(
    cast: flows.Actors, live_api: str, tmp_path: Path
) -> None:
    order_id = _received(cast, tmp_path)
    body = json.dumps({"order_id": order_id}).encode()
    headers = cast.station.signed_headers(
        "POST", "/v1/review-sessions", hashlib.sha256(body).hexdigest()
    )
    answer = httpx.post(
        f"{live_api}/v1/review-sessions",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 401
    assert _code(answer).startswith("credentials_")


def test_concurrent_review_uploads_stay_within_the_orders_bound(
    cast: flows.Actors, tmp_path: Path
) -> None:
    """Adversary: a buyer firing review photos at once, past ``ORDERSEAL_MAX_REVIEW_PHOTOS``."""
    order_id = _received(cast, tmp_path)
    http = _http(cast)
    session = http.post("/v1/review-sessions", json={"order_id": order_id}).json()
    racers = 4
    photos = [
        make_jpeg(tmp_path / f"race-{i}.jpg", seed=5100 + i, size=(160, 120)) for i in range(racers)
    ]
    start = threading.Barrier(racers)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def upload(path: Path) -> None:
        with _http(cast) as client:
            start.wait()
            answer = _review_put(client, cast.buyer_device, session, path)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=upload, args=(p,)) for p in photos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sealed = [a for a in answers if a.status_code == 201]
    refused = {(a.status_code, _code(a)) for a in answers if a.status_code != 201}
    assert len(sealed) == MAX_REVIEW_PHOTOS
    assert refused == {(409, "review_limit_reached")}


def test_a_receipt_uploads_idempotency_key_does_not_replay_into_a_review(
    cast: flows.Actors, tmp_path: Path
) -> None:
    """Adversary: a buyer re-sending the receipt capture's key to the review route, to be told
    "replayed" (a review photo the order never got) or to slip the receipt in as a review."""
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, tmp_path)
    buyer = cast.buyer()
    receipt = buyer.open_receipt(shipped.label_token)
    photo = make_jpeg(tmp_path / "both.jpg", seed=6262, size=(320, 240))
    buyer.upload(receipt, photo, title="both.jpg", idempotency_key="key-both")
    buyer.finish(receipt)
    http = _http(cast)
    session = http.post("/v1/review-sessions", json={"order_id": order_id}).json()
    statement, signature, digest = cast.buyer_device.attest(
        order_id=order_id, session_id=session["session_id"], stage="review", path=photo
    )
    answer = http.put(
        f"/v1/review-sessions/{session['session_id']}/evidence",
        content=photo.read_bytes(),
        headers={
            "X-OrderSeal-Device": cast.buyer_device.device_id,
            "X-OrderSeal-Statement": statement,
            "X-OrderSeal-Statement-Signature": signature,
            "X-OrderSeal-Content-SHA256": digest,
            "Idempotency-Key": "key-both",
            "Content-Type": "application/octet-stream",
        },
    )
    assert (answer.status_code, _code(answer)) == (409, "idempotency_key_reused")


# The platform's question --------------------------------------------------------------------
@dataclass
class Reviewed:
    order_id: str
    review_file: Path


@pytest.fixture(scope="module")
def reviewed(
    cast: flows.Actors,
    live_api: str,
    credentials: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Reviewed:
    work = tmp_path_factory.mktemp("reviewed")
    order_id = _received(cast, work)
    buyer = cast.buyer()
    session = buyer.open_review(order_id)
    photo = make_jpeg(work / "review.jpg", seed=6161, size=(320, 240))
    evidence = buyer.upload_review(session, photo, title="review.jpg")
    return Reviewed(
        order_id,
        _sealed_file(live_api, credentials, evidence["evidence_id"], work / "review-sealed.jpg"),
    )


def _ask(live_api: str, key: str, body: bytes, *, order_id: str, buyer_id: str) -> httpx.Response:
    return httpx.put(
        f"{live_api}/v1/platform/review-images",
        params={"order_id": order_id, "buyer_id": buyer_id},
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream"},
        timeout=120,
    )


@pytest.mark.parametrize("wearing", [False, True], ids=["bare", "copied-seal"])
def test_a_buyers_own_key_signed_picture_is_not_a_sealed_review(
    cast: flows.Actors,
    reviewed: Reviewed,
    services: Services,
    live_api: str,
    credentials: dict[str, str],
    tmp_path: Path,
    wearing: bool,
) -> None:
    forger = legacy_enrolled_device(services, kind="buyer", owner_id=cast.buyer_id)
    staged = make_jpeg(tmp_path / "staged.jpg", seed=7272 + wearing, size=(320, 240))
    signed = sign_with_device_key(
        staged,
        tmp_path / "own-key.jpg",
        media_type="image/jpeg",
        private_key=forger.private_key,
        chain=forger.chain,
        trust_pem=services.keys.trust_list().pem,
        copied=CopiedSeal.from_sealed(reviewed.review_file, "image/jpeg") if wearing else None,
    )
    answer = _ask(
        live_api,
        credentials["platform"],
        signed.read_bytes(),
        order_id=reviewed.order_id,
        buyer_id=cast.buyer_id,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["answer"], body["review_sealed"]) == ("untrusted_signer", False)


def test_the_review_photo_of_another_buyer_is_buyer_mismatch(
    cast: flows.Actors, reviewed: Reviewed, live_api: str, credentials: dict[str, str]
) -> None:
    body = _ask(
        live_api,
        credentials["platform"],
        reviewed.review_file.read_bytes(),
        order_id=reviewed.order_id,
        buyer_id=f"buyer-{secrets.token_hex(3)}",
    ).json()
    assert body["review_sealed"] is False
    assert body["answer"] == "buyer_mismatch"


# The seller's counter-image -----------------------------------------------------------------
def _counter(live_api: str, key: str, order_id: str, body: bytes) -> httpx.Response:
    return httpx.put(
        f"{live_api}/v1/merchant/orders/{order_id}/counter-images",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream"},
        timeout=120,
    )


def test_another_merchants_station_photo_does_not_count(
    cast: flows.Actors,
    reviewed: Reviewed,
    other_seller: OtherSeller,
    live_api: str,
    credentials: dict[str, str],
    tmp_path: Path,
) -> None:
    rival_order = f"ORD-R-{secrets.token_hex(4).upper()}"
    cast.platform.register_order(
        order_id=rival_order,
        buyer_id=cast.buyer_id,
        items=[{"sku": "SKU-R", "quantity": 1}],
        declared_value="9.00",
        currency="USD",
        expected_delivery=(datetime.now(UTC) + timedelta(days=3)).date().isoformat(),
        merchant_id=other_seller.merchant_id,
    )
    session = other_seller.station.open_session(rival_order)
    photo = make_jpeg(tmp_path / "rival-pack.jpg", seed=8383, size=(200, 150))
    evidence = other_seller.station.upload(session, photo, title="pack.jpg")
    rival_file = _sealed_file(live_api, credentials, evidence["evidence_id"], tmp_path / "r.jpg")
    # Our merchant presents the rival's sealed packing photo against a review of its order.
    answer = _counter(live_api, credentials["merchant"], reviewed.order_id, rival_file.read_bytes())
    assert answer.status_code == 200, answer.text
    assert (answer.json()["answer"], answer.json()["counts"]) == ("order_mismatch", False)
    # The rival asks about our order: it looks absent.
    theirs = _counter(live_api, other_seller.key, reviewed.order_id, rival_file.read_bytes())
    assert (theirs.status_code, _code(theirs)) == (404, "order_unknown")


def test_a_buyers_review_photo_is_no_counter_image(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str]
) -> None:
    answer = _counter(
        live_api, credentials["merchant"], reviewed.order_id, reviewed.review_file.read_bytes()
    )
    assert (answer.json()["answer"], answer.json()["counts"]) == ("wrong_stage", False)


# Roles and bodies ---------------------------------------------------------------------------
def test_a_buyer_token_cannot_call_the_platform_or_merchant_review_routes(
    cast: flows.Actors, reviewed: Reviewed, live_api: str
) -> None:
    token = _token(cast)
    body = reviewed.review_file.read_bytes()
    asked = _ask(live_api, token, body, order_id=reviewed.order_id, buyer_id=cast.buyer_id)
    countered = _counter(live_api, token, reviewed.order_id, body)
    # A buyer token is no API key: it opens neither route (nor reads a byte of the body).
    assert (asked.status_code, _code(asked)) == (401, "credentials_invalid")
    assert (countered.status_code, _code(countered)) == (401, "credentials_invalid")


def _huge_request(
    base_url: str, method: str, target: str, headers: dict[str, str]
) -> tuple[int, str]:
    """Send the headers of a 1 GiB body and a few KiB of it; the answer must come anyway."""
    url = urlsplit(base_url)
    lines = [
        f"{method} {target} HTTP/1.1",
        f"Host: {url.netloc}",
        f"Content-Length: {HUGE}",
        "Content-Type: application/octet-stream",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "",
    ]
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=20) as sock:
        sock.sendall("\r\n".join(lines).encode() + b"\xff" * 4096)
        response = http.client.HTTPResponse(sock)
        response.begin()
        code = json.loads(response.read())["error"]["code"]
        return response.status, str(code)


@pytest.mark.parametrize(
    "target",
    [
        "/v1/review-sessions/vs_x/evidence",
        "/v1/platform/review-images?order_id=O&buyer_id=B",
        "/v1/merchant/orders/O/counter-images",
        "/v1/review-sessions",
    ],
    ids=["review-evidence", "review-images", "counter-images", "open-review"],
)
def test_an_anonymous_huge_body_is_refused_before_it_is_read(live_api: str, target: str) -> None:
    method = "POST" if target == "/v1/review-sessions" else "PUT"
    status, code = _huge_request(live_api, method, target, {})
    if method == "POST":
        # A JSON route refuses an oversized body from its length alone, before anything.
        assert (status, code) == (413, "payload_too_large")
        return
    assert status == 401
    assert code.startswith("credentials_")


def test_a_huge_body_for_another_merchants_order_is_refused_before_it_is_read(
    reviewed: Reviewed, other_seller: OtherSeller, live_api: str
) -> None:
    status, code = _huge_request(
        live_api,
        "PUT",
        f"/v1/merchant/orders/{reviewed.order_id}/counter-images",
        {"Authorization": f"Bearer {other_seller.key}"},
    )
    assert (status, code) == (404, "order_unknown")


def test_a_huge_review_body_is_refused_from_its_length(
    live_api: str, credentials: dict[str, str]
) -> None:
    status, code = _huge_request(
        live_api,
        "PUT",
        "/v1/platform/review-images?order_id=O&buyer_id=B",
        {"Authorization": f"Bearer {credentials['platform']}"},
    )
    assert (status, code) == (413, "payload_too_large")


def _hostile(tmp_path: Path) -> dict[str, bytes]:
    jpeg = make_jpeg(tmp_path / "whole.jpg", seed=9090, size=(160, 120)).read_bytes()
    return {
        "empty": b"",
        "text": b"not an image at all\n" * 10,
        "html": b"<!doctype html><script>alert(1)</script>",
        "truncated-jpeg": jpeg[: len(jpeg) // 2],
        "png-bomb": bomb_png(),
    }


HOSTILE = ["empty", "text", "html", "truncated-jpeg", "png-bomb"]


@pytest.mark.parametrize("name", HOSTILE, ids=HOSTILE)
def test_hostile_media_is_judged_not_a_review_or_counter_image(
    cast: flows.Actors,
    reviewed: Reviewed,
    live_api: str,
    credentials: dict[str, str],
    tmp_path: Path,
    name: str,
) -> None:
    body = _hostile(tmp_path)[name]
    asked = _ask(
        live_api, credentials["platform"], body, order_id=reviewed.order_id, buyer_id=cast.buyer_id
    )
    countered = _counter(live_api, credentials["merchant"], reviewed.order_id, body)
    for answer in (asked, countered):
        assert answer.status_code < 500, answer.text
        if answer.status_code == 200:
            assert answer.json()["answer"] in {"no_manifest", "not_verified"}
        else:
            assert answer.status_code in {413, 415, 422}
            assert _code(answer)
    assert asked.status_code != 200 or asked.json()["review_sealed"] is False
    assert countered.status_code != 200 or countered.json()["counts"] is False


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("empty", "empty_file"),
        ("text", "unsupported_media"),
        ("html", "unsupported_media"),
        ("truncated-jpeg", "corrupt_media"),
        ("png-bomb", "image_too_large"),
    ],
    ids=HOSTILE,
)
def test_hostile_media_is_not_sealed_as_a_review(
    cast: flows.Actors, tmp_path: Path, name: str, code: str
) -> None:
    order_id = _received(cast, tmp_path)
    http = _http(cast)
    session = http.post("/v1/review-sessions", json={"order_id": order_id}).json()
    path = tmp_path / f"{name}.bin"
    path.write_bytes(_hostile(tmp_path)[name])
    answer = _review_put(http, cast.buyer_device, session, path)
    assert (answer.status_code, _code(answer)) == (422, code)


# Typed label codes --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "entry",
    ["SCANNED", "", "typed ", "qr", 1, None, ["typed"], {"v": "typed"}, True],
    ids=["upper", "empty", "padded", "other-word", "int", "null", "list", "object", "bool"],
)
def test_an_entry_outside_the_three_is_invalid_request(
    cast: flows.Actors, tmp_path: Path, entry: object
) -> None:
    shipped = flows.ship(cast, flows.register_order(cast), tmp_path)
    http = _http(cast)
    answer = http.post("/v1/receipt-sessions", json={"token": shipped.label_token, "entry": entry})
    assert (answer.status_code, _code(answer)) == (422, "invalid_request")
    # Nothing opened: the honest scan afterwards still opens its session.
    honest = http.post("/v1/receipt-sessions", json={"token": shipped.label_token})
    assert honest.status_code == 201
    assert honest.json()["label_entry"] == "scanned"


def test_a_stripped_copy_of_a_typed_receipt_is_still_typed(
    cast: flows.Actors, tmp_path: Path
) -> None:
    """Adversary: a buyer who typed the code strips the seal, hoping the copy loses the mark."""
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, tmp_path)
    buyer = cast.buyer()
    opened = buyer.http.post(
        "/v1/receipt-sessions", json={"token": shipped.label_token, "entry": "typed"}
    )
    assert opened.status_code == 201
    session = opened.json()
    photo = make_jpeg(tmp_path / "typed-unbox.jpg", seed=9797, size=(320, 240))
    sealed = buyer.upload(session, photo, title="unbox.jpg")
    original = tmp_path / "typed-sealed.jpg"
    original.write_bytes(buyer.download(session, sealed["evidence_id"]))
    buyer.finish(session)
    stripped = tmp_path / "typed-stripped.jpg"
    with Image.open(original) as image:
        image.convert("RGB").save(stripped, format="JPEG", quality=60)
    decided = flows.dispute(cast, order_id, [stripped])
    reasons = flows.codes(decided)
    assert "manifest_recovered" in reasons
    assert "label_typed" in reasons
    assert decided["verdict"]["decision"] != "allow"


# A merchant after the buyer's own file ------------------------------------------------------
@dataclass
class Disputed:
    dispute_id: str
    receipt_ids: list[str]
    review_ids: list[str]
    stored: bytes


@pytest.fixture(scope="module")
def disputed(cast: flows.Actors, reviewed: Reviewed, services: Services) -> Disputed:
    """A dispute on the reviewed order (default merchant) with the buyer's sealed receipt."""
    receipts = services.ledger.evidence_for_order(reviewed.order_id, "receipt")
    reviews = services.ledger.evidence_for_order(reviewed.order_id, "review")
    with services.store.open_local(receipts[0].storage_key) as path:
        stored = path.read_bytes()
        decided = flows.dispute(cast, reviewed.order_id, [path])
    return Disputed(
        decided["dispute_id"],
        [r.evidence_id for r in receipts],
        [r.evidence_id for r in reviews],
        stored,
    )


def test_a_merchant_cannot_fetch_the_buyers_sealed_captures_by_evidence_id(
    disputed: Disputed, live_api: str, credentials: dict[str, str]
) -> None:
    merchant = {"Authorization": f"Bearer {credentials['merchant']}"}
    for evidence_id in (*disputed.receipt_ids, *disputed.review_ids):
        for tail in ("file", "thumbnail.jpg"):
            own = httpx.get(
                f"{live_api}/v1/merchant/evidence/{evidence_id}/{tail}", headers=merchant
            )
            assert (own.status_code, _code(own)) == (404, "evidence_not_found")
            agents = httpx.get(f"{live_api}/v1/evidence/{evidence_id}/{tail}", headers=merchant)
            assert (agents.status_code, _code(agents)) == (403, "wrong_role")


def test_the_merchants_dispute_view_and_file_do_not_name_the_buyers_device(
    cast: flows.Actors, disputed: Disputed, live_api: str, credentials: dict[str, str]
) -> None:
    device = cast.buyer_device.device_id.encode()
    assert device in disputed.stored  # the file as stored names it
    merchant = {"Authorization": f"Bearer {credentials['merchant']}"}
    view = httpx.get(f"{live_api}/v1/merchant/disputes/{disputed.dispute_id}", headers=merchant)
    assert view.status_code == 200, view.text
    assert device not in view.content
    files = view.json()["buyer_files"]
    assert files
    for entry in files:
        got = httpx.get(
            f"{live_api}/v1/merchant/disputes/{disputed.dispute_id}/files/"
            f"{entry['content_sha256']}",
            headers=merchant,
        )
        assert got.status_code == 200
        assert device not in got.content
        assert b"c2pa" not in got.content


def test_another_merchant_sees_neither_the_dispute_nor_its_file(
    disputed: Disputed, other_seller: OtherSeller, live_api: str
) -> None:
    rival = {"Authorization": f"Bearer {other_seller.key}"}
    sha = hashlib.sha256(disputed.stored).hexdigest()
    view = httpx.get(f"{live_api}/v1/merchant/disputes/{disputed.dispute_id}", headers=rival)
    got = httpx.get(
        f"{live_api}/v1/merchant/disputes/{disputed.dispute_id}/files/{sha}", headers=rival
    )
    assert (view.status_code, _code(view)) == (404, "dispute_not_found")
    assert (got.status_code, _code(got)) == (404, "dispute_not_found")


def test_a_report_link_serves_no_buyer_file(
    disputed: Disputed, live_api: str, credentials: dict[str, str]
) -> None:
    """Whoever the platform hands a report link gets a page, never the buyer's raw file."""
    link = httpx.post(
        f"{live_api}/v1/disputes/{disputed.dispute_id}/report-links",
        headers={"Authorization": f"Bearer {credentials['platform']}"},
        json={},
    ).json()
    page = httpx.get(f"{live_api}{link['url']}")
    assert page.status_code == 200
    assert "/file" not in page.text
    for image in re.findall(r'src="data:image/jpeg;base64,([^"]+)"', page.text):
        thumbnail = base64.b64decode(image)
        assert b"c2pa" not in thumbnail
        assert b"Exif" not in thumbnail


# Compare-and-set verdicts -------------------------------------------------------------------
def test_concurrent_decides_append_one_verdict_each_and_keep_the_chain(
    cast: flows.Actors, services: Services, tmp_path: Path
) -> None:
    """Adversary: a platform script firing decide at once; no answer without its own verdict,
    no verdict without an answer, and the audit chain stays one line."""
    order_id = flows.register_order(cast)
    files = flows.receive(cast, flows.ship(cast, order_id, tmp_path), tmp_path)
    created = cast.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": cast.buyer_id,
            "claim_type": "damaged",
            "amount": "49.00",
            "currency": "USD",
        },
    )
    dispute_id = created["dispute_id"]
    cast.platform.attach_file(dispute_id, files[0], filename=files[0].name)
    racers = 4
    start = threading.Barrier(racers)
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    key = cast.platform.http.headers["Authorization"]

    def decide() -> None:
        with httpx.Client(base_url=cast.base_url, timeout=120) as client:
            start.wait()
            answer = client.post(
                f"/v1/disputes/{dispute_id}/decide", headers={"Authorization": key}
            )
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=decide) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    decided = [a for a in answers if a.status_code == 200]
    stale = [a for a in answers if a.status_code != 200]
    assert {(a.status_code, _code(a)) for a in stale} <= {(409, "verdict_stale")}
    assert decided
    assert len(services.ledger.verdicts(dispute_id)) == len(decided)
    assert services.verifier.verify_audit(services.keys.trust_list()).ok


@pytest.mark.parametrize(
    "query",
    ["order_id=O", "buyer_id=B", f"order_id={'O' * 5000}&buyer_id=B", "order_id=O%00&buyer_id=B"],
    ids=["no-buyer", "no-order", "long-order", "nul-order"],
)
def test_a_bad_review_query_is_refused_before_the_body(
    live_api: str, credentials: dict[str, str], query: str
) -> None:
    status, code = _huge_request(
        live_api,
        "PUT",
        f"/v1/platform/review-images?{query}",
        {"Authorization": f"Bearer {credentials['platform']}"},
    )
    assert (status, code) == (422, "invalid_request")


def test_a_buyers_huge_review_body_is_refused_from_its_length(
    cast: flows.Actors, live_api: str, tmp_path: Path
) -> None:
    order_id = _received(cast, tmp_path)
    http = _http(cast)
    session = http.post("/v1/review-sessions", json={"order_id": order_id}).json()
    photo = make_jpeg(tmp_path / "claimed.jpg", seed=6363, size=(160, 120))
    statement, signature, digest = cast.buyer_device.attest(
        order_id=order_id, session_id=session["session_id"], stage="review", path=photo
    )
    status, code = _huge_request(
        live_api,
        "PUT",
        f"/v1/review-sessions/{session['session_id']}/evidence",
        {
            "Authorization": http.headers["Authorization"],
            "X-OrderSeal-Device": cast.buyer_device.device_id,
            "X-OrderSeal-Statement": statement,
            "X-OrderSeal-Statement-Signature": signature,
            "X-OrderSeal-Content-SHA256": digest,
        },
    )
    assert (status, code) == (413, "payload_too_large")

"""Merchant tenants over real HTTP: stations, orders, disputes and responses of two merchants.

Adversaries, each next to the honest path:
- merchant A's packing station opening, sealing into, closing or relabelling (label.png/pdf)
  an order of merchant B, to take B's parcel and label over: answered exactly like an order
  or session that does not exist;
- merchant A's admin key reading B's disputes, sealed packing video or the buyer's files, or
  answering B's dispute: answered like a missing dispute or evidence;
- a merchant answering its own dispute with another order's sealed video:
  ``422 response_evidence_invalid``;
- a merchant key on platform or agent routes, and platform or agent keys on merchant routes:
  ``403 wrong_role``;
- a station re-opening a packed order by opening a new session: ``409 order_already_packed``;
  only the platform or the merchant's admin reopens, with a reason, and every reopen is logged;
- a seller that ships wrong items, and a buyer that swaps units: each verdict says whose side
  (``attribution``), the wrong-item rate sends the seller's next disputes to review and the
  buyer's swaps count against the buyer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from clients.client import APIError, BuyerClient, DeviceKey, PlatformClient, StationClient
from infra.errors import OrderSealError
from infra.settings import Settings
from orderseal.cli import app
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows
from tests.support.databases import settings_env
from verifier.merchants import BuyerIdentity, MerchantDisputes

SERIALS = ("SN-A1", "SN-B2")


@dataclass
class Seller:
    """A merchant with its own station and admin key."""

    merchant_id: str
    station: StationClient
    admin: PlatformClient
    key: str


@dataclass
class World:
    base_url: str
    platform: PlatformClient
    agent: PlatformClient
    buyer_id: str
    buyer_device: DeviceKey
    a: Seller
    b: Seller
    credentials: dict[str, str]

    def buyer(self) -> BuyerClient:
        token = flows.buyer_token_response(self.platform, self.buyer_id)
        return BuyerClient(self.base_url, token["token"], self.buyer_device)


def _seller(live_api: str, credentials: dict[str, str], services: Services, name: str) -> Seller:
    merchant_id = f"m-{name}-{secrets.token_hex(3)}"
    now = services.clock()
    services.ledger.merchants.add(merchant_id, name=f"Seller {name}", now=now)
    admin = PlatformClient(live_api, credentials["admin"])
    device = DeviceKey.generate(f"station-{name}-{secrets.token_hex(3)}")
    admin.enrol_device(device, kind="station", merchant_id=merchant_id)
    key = services.ledger.api_keys.issue(
        role="merchant", subject=f"{name}-admin", merchant_id=merchant_id, now=now
    ).secret
    return Seller(merchant_id, StationClient(live_api, device), PlatformClient(live_api, key), key)


@pytest.fixture(scope="module")
def world(live_api: str, credentials: dict[str, str], services: Services) -> World:
    buyer_id = f"buyer-{secrets.token_hex(3)}"
    admin = PlatformClient(live_api, credentials["admin"])
    return World(
        base_url=live_api,
        platform=PlatformClient(live_api, credentials["platform"]),
        agent=PlatformClient(live_api, credentials["agent"]),
        buyer_id=buyer_id,
        buyer_device=flows.enrol(admin, "buyer", buyer_id),
        a=_seller(live_api, credentials, services, "a"),
        b=_seller(live_api, credentials, services, "b"),
        credentials=credentials,
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("merchants")


def _refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status, caught.value.code


def _register(world: World, seller: Seller | None, *, serials: tuple[str, ...] = ()) -> str:
    order_id = f"ORD-M-{secrets.token_hex(4).upper()}"
    item: dict[str, Any] = {"sku": "SKU-M", "quantity": 1}
    if serials:
        item = {"sku": "PHONE", "quantity": 1, "serials": list(serials)}
    world.platform.register_order(
        order_id=order_id,
        buyer_id=world.buyer_id,
        items=[item],
        declared_value="49.00",
        currency="USD",
        expected_delivery=(datetime.now(UTC) + timedelta(days=3)).date().isoformat(),
        merchant_id=seller.merchant_id if seller else None,
    )
    return order_id


def _photo(work: Path, name: str) -> Path:
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
    return make_jpeg(work / f"{name}.jpg", seed=seed, size=(200, 150))


def _ship(
    world: World, seller: Seller, order_id: str, work: Path, *, serial: str | None = None
) -> tuple[dict[str, Any], str]:
    session = seller.station.open_session(order_id)
    evidence = seller.station.upload(
        session,
        _photo(work, f"{order_id}-pack"),
        title="pack.jpg",
        serials=(serial,) if serial else (),
    )
    label = seller.station.close(session)
    return dict(evidence), str(label["token"])


def _receive(world: World, order_id: str, token: str, work: Path, serial: str | None) -> Path:
    return _receive_with_id(world, order_id, token, work, serial)[0]


def _receive_with_id(
    world: World, order_id: str, token: str, work: Path, serial: str | None
) -> tuple[Path, str]:
    """The buyer's sealed unboxing photo and its evidence id."""
    buyer = world.buyer()
    session = buyer.open_receipt(token)
    result = buyer.upload(
        session,
        _photo(work, f"{order_id}-unbox"),
        title="unbox.jpg",
        serials=(serial,) if serial else (),
    )
    sealed = work / f"{order_id}-sealed-unbox.jpg"
    sealed.write_bytes(buyer.download(session, result["evidence_id"]))
    buyer.finish(session)
    return sealed, str(result["evidence_id"])


def _dispute(world: World, order_id: str, files: list[Path]) -> dict[str, Any]:
    cast = flows.Actors(
        world.base_url, world.platform, world.a.station, world.buyer_device, world.buyer_id
    )
    return flows.dispute(cast, order_id, files)


@dataclass(frozen=True)
class Disputed:
    order_id: str
    dispute_id: str
    evidence_id: str
    receipt: Path


@pytest.fixture(scope="module")
def disputed_b(world: World, work: Path) -> Disputed:
    """Merchant B's shipped, received and disputed order."""
    order_id = _register(world, world.b)
    evidence, token = _ship(world, world.b, order_id, work)
    receipt = _receive(world, order_id, token, work, None)
    dispute = _dispute(world, order_id, [receipt])
    return Disputed(order_id, dispute["dispute_id"], evidence["evidence_id"], receipt)


@pytest.fixture(scope="module")
def disputed_a(world: World, work: Path) -> Disputed:
    """Merchant A's order, shipped with serial SN-A1 and received as SN-B2: A's wrong item."""
    order_id = _register(world, world.a, serials=SERIALS)
    evidence, token = _ship(world, world.a, order_id, work, serial="SN-A1")
    receipt = _receive(world, order_id, token, work, "SN-B2")
    dispute = _dispute(world, order_id, [receipt])
    return Disputed(order_id, dispute["dispute_id"], evidence["evidence_id"], receipt)


# Orders and stations -------------------------------------------------------------------------
def test_an_order_names_its_merchant_or_is_the_default_merchants(world: World) -> None:
    order_id = _register(world, world.a)
    assert (
        world.platform.call("GET", f"/v1/orders/{order_id}")["merchant_id"] == world.a.merchant_id
    )
    legacy = _register(world, None)
    assert world.platform.call("GET", f"/v1/orders/{legacy}")["merchant_id"] == "default"


def test_an_unknown_merchant_is_refused(world: World) -> None:
    call = lambda: world.platform.call(  # noqa: E731
        "POST",
        "/v1/orders",
        json={
            "order_id": f"ORD-X-{secrets.token_hex(3)}",
            "buyer_id": world.buyer_id,
            "items": [{"sku": "SKU-1", "quantity": 1}],
            "declared_value": "1.00",
            "currency": "USD",
            "merchant_id": "no-such-merchant",
        },
    )
    assert _refused(call) == (422, "merchant_not_found")
    device = DeviceKey.generate(f"station-x-{secrets.token_hex(3)}")
    admin = PlatformClient(world.base_url, world.credentials["admin"])
    enrol = lambda: admin.enrol_device(device, kind="station", merchant_id="no-such")  # noqa: E731
    assert _refused(enrol) == (422, "merchant_not_found")


def test_a_station_opens_sessions_only_on_its_merchants_orders(world: World) -> None:
    order_b = _register(world, world.b)
    missing = _refused(lambda: world.a.station.open_session("ORD-NEVER-REGISTERED"))
    assert missing == (404, "order_unknown")
    # Another merchant's order is answered exactly like one that does not exist.
    assert _refused(lambda: world.a.station.open_session(order_b)) == missing
    assert world.b.station.open_session(order_b)["order_id"] == order_b


def test_the_default_merchants_stations_and_named_merchants_orders_stay_apart(
    world: World,
) -> None:
    """Adversary: a station enrolled before tenants (the ``default`` merchant's) packing a
    named merchant's order, and a named merchant's station packing a default order."""
    admin = PlatformClient(world.base_url, world.credentials["admin"])
    device = DeviceKey.generate(f"station-default-{secrets.token_hex(3)}")
    admin.enrol_device(device, kind="station")
    default_station = StationClient(world.base_url, device)
    order_b, order_default = _register(world, world.b), _register(world, None)
    missing = (404, "order_unknown")
    assert _refused(lambda: default_station.open_session(order_b)) == missing
    assert _refused(lambda: world.a.station.open_session(order_default)) == missing
    assert default_station.open_session(order_default)["order_id"] == order_default


def test_a_station_cannot_seal_into_or_close_another_merchants_session(
    world: World, work: Path, services: Services
) -> None:
    order_b = _register(world, world.b)
    session = world.b.station.open_session(order_b)
    photo = _photo(work, f"{order_b}-intruder")
    seal = lambda: world.a.station.upload(session, photo, title="x.jpg")  # noqa: E731
    assert _refused(seal) == (404, "session_not_found")
    assert _refused(lambda: world.a.station.close(session)) == (404, "session_not_found")
    assert services.ledger.evidence_for_order(order_b) == []


def _label(station: StationClient, order_id: str, kind: str) -> httpx.Response:
    path = f"/v1/orders/{order_id}/label.{kind}"
    headers = station.signed_headers("GET", path, hashlib.sha256(b"").hexdigest())
    return station.http.get(path, headers=headers)


@pytest.mark.parametrize("kind", ["png", "pdf"])
def test_another_merchants_label_is_answered_like_a_missing_order(
    world: World, disputed_b: Disputed, kind: str
) -> None:
    missing = _label(world.a.station, "ORD-NEVER-REGISTERED", kind)
    theirs = _label(world.a.station, disputed_b.order_id, kind)
    assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())
    assert theirs.json()["error"]["code"] == "no_label"
    assert _label(world.b.station, disputed_b.order_id, kind).status_code == 200


def test_reopening_is_the_merchant_admins_with_a_reason_and_logged(
    world: World, work: Path
) -> None:
    order_b = _register(world, world.b)
    _ship(world, world.b, order_b, work)
    # The packer itself (and any station) cannot start over on a packed order.
    assert _refused(lambda: world.b.station.open_session(order_b)) == (409, "order_already_packed")
    # A station's credential is not a merchant key.
    path = f"/v1/merchant/orders/{order_b}/reopen"
    body = {"reason": "box damaged"}
    headers = world.b.station.signed_headers("POST", path, hashlib.sha256(b"").hexdigest())
    assert world.b.station.http.post(path, json=body, headers=headers).status_code == 401
    # Another merchant's admin: like an order that does not exist.
    other = lambda: world.a.admin.call("POST", path, json=body)  # noqa: E731
    missing = lambda: world.a.admin.call(  # noqa: E731
        "POST", "/v1/merchant/orders/ORD-NEVER-REGISTERED/reopen", json=body
    )
    assert _refused(other) == _refused(missing) == (404, "order_unknown")
    no_reason = lambda: world.b.admin.call("POST", path, json={})  # noqa: E731
    assert _refused(no_reason) == (422, "invalid_request")
    reopened = world.b.admin.call("POST", path, json=body)
    assert (reopened["reopened_by_role"], reopened["reason"]) == ("merchant", "box damaged")
    assert reopened["reopened_by"] == "b-admin"
    assert world.b.station.open_session(order_b)["order_id"] == order_b
    log = world.b.admin.call("GET", f"/v1/merchant/orders/{order_b}/reopens")["reopens"]
    assert [(r["reopened_by_role"], r["reason"]) for r in log] == [("merchant", "box damaged")]
    assert world.platform.call("GET", f"/v1/orders/{order_b}/reopens")["reopens"] == log
    other_log = lambda: world.a.admin.call("GET", f"/v1/merchant/orders/{order_b}/reopens")  # noqa: E731
    assert _refused(other_log) == (404, "order_unknown")


def test_a_reopened_orders_released_session_prints_no_fresh_label(world: World, work: Path) -> None:
    """Adversary: the station whose packing was reopened (a wrong or damaged parcel) keeps
    printing fresh labels for the released session until another station packs again."""
    order_a = _register(world, world.a)
    _, token = _ship(world, world.a, order_a, work)
    assert world.a.station.label_png(order_a).startswith(b"\x89PNG")
    world.a.admin.call(
        "POST", f"/v1/merchant/orders/{order_a}/reopen", json={"reason": "wrong box"}
    )
    assert _refused(lambda: world.a.station.label_png(order_a)) == (404, "no_label")
    assert _refused(lambda: world.a.station.label_pdf(order_a)) == (404, "no_label")
    # The label printed before the reopen still opens the buyer's receipt session.
    assert world.buyer().open_receipt(token)["order_id"] == order_a
    # Packed again, the new session's label prints.
    session = world.a.station.open_session(order_a)
    world.a.station.upload(session, _photo(work, f"{order_a}-repack"), title="repack.jpg")
    world.a.station.close(session)
    assert world.a.station.label_png(order_a).startswith(b"\x89PNG")


def test_a_platform_reopen_is_logged_with_its_reason(world: World, work: Path) -> None:
    order_a = _register(world, world.a)
    _ship(world, world.a, order_a, work)
    reopened = world.platform.call(
        "POST", f"/v1/orders/{order_a}/reopen", json={"reason": "carrier lost it"}
    )
    assert (reopened["reopened_by_role"], reopened["reason"]) == ("platform", "carrier lost it")
    log = world.a.admin.call("GET", f"/v1/merchant/orders/{order_a}/reopens")["reopens"]
    assert [r["reopened_by"] for r in log] == ["platform-operator"]


# Disputes as a merchant sees them --------------------------------------------------------------
def test_a_merchant_lists_only_its_own_disputes_with_attribution(
    world: World, disputed_a: Disputed, disputed_b: Disputed
) -> None:
    page = world.a.admin.call("GET", "/v1/merchant/disputes")
    ours = {d["dispute_id"]: d for d in page["disputes"]}
    assert disputed_a.dispute_id in ours
    assert disputed_b.dispute_id not in ours
    a_orders = {d["order_id"] for d in page["disputes"]}
    assert disputed_b.order_id not in a_orders
    row = ours[disputed_a.dispute_id]
    assert (row["attribution"], row["decision"]) == ("merchant", "block")
    assert "serial_mismatch" in row["reason_codes"]
    # The buyer is a per-merchant pseudonym: stable for one merchant, unrelated across two.
    theirs = {
        d["dispute_id"]: d for d in world.b.admin.call("GET", "/v1/merchant/disputes")["disputes"]
    }
    assert disputed_b.dispute_id in theirs
    assert disputed_a.dispute_id not in theirs
    their_row = theirs[disputed_b.dispute_id]
    assert row["buyer"].startswith("byr_")
    assert their_row["buyer"].startswith("byr_")
    assert row["buyer"] != their_row["buyer"]
    assert {d["buyer"] for d in page["disputes"]} == {row["buyer"]}
    assert world.buyer_id not in str(page)


@pytest.mark.parametrize(
    "since", ["2026-01-01", "2026-01-01T00:00:00", "0001-01-01T00:00:00+14:00"]
)
def test_a_merchants_updated_since_without_zone_or_out_of_range_is_refused(
    world: World, since: str
) -> None:
    """Adversary: a merchant key sending a time the ledger cannot store, to get a 500."""
    with pytest.raises(APIError) as caught:
        world.a.admin.call("GET", "/v1/merchant/disputes", params={"updated_since": since})
    assert (caught.value.status, caught.value.code) == (422, "invalid_request")
    listed = world.a.admin.call(
        "GET", "/v1/merchant/disputes", params={"updated_since": "2026-01-01T00:00:00Z"}
    )
    assert "disputes" in listed


def test_a_merchant_pages_with_a_cursor_bound_to_it(
    world: World, disputed_a: Disputed, work: Path
) -> None:
    second = _dispute(world, disputed_a.order_id, [disputed_a.receipt])
    first = world.a.admin.call("GET", "/v1/merchant/disputes", params={"limit": 1})
    assert len(first["disputes"]) == 1
    assert first["next_cursor"]
    seen = [first["disputes"][0]["dispute_id"]]
    cursor = first["next_cursor"]
    while cursor:
        page = world.a.admin.call(
            "GET", "/v1/merchant/disputes", params={"limit": 1, "cursor": cursor}
        )
        seen += [d["dispute_id"] for d in page["disputes"]]
        cursor = page["next_cursor"]
    assert {disputed_a.dispute_id, second["dispute_id"]} <= set(seen)
    assert len(seen) == len(set(seen))
    stolen = lambda: world.b.admin.call(  # noqa: E731
        "GET", "/v1/merchant/disputes", params={"limit": 1, "cursor": first["next_cursor"]}
    )
    assert _refused(stolen) == (422, "cursor_invalid")
    by_order = world.a.admin.call(
        "GET", "/v1/merchant/disputes", params={"order_id": "ORD-NONE", "decision": "block"}
    )
    assert by_order["disputes"] == []
    unknown = lambda: world.a.admin.call("GET", "/v1/merchant/disputes", params={"offset": 1})  # noqa: E731
    assert _refused(unknown) == (422, "invalid_request")
    too_many = lambda: world.a.admin.call("GET", "/v1/merchant/disputes", params={"limit": 201})  # noqa: E731
    assert _refused(too_many) == (422, "invalid_request")


def test_a_merchant_reads_its_dispute_with_sealed_evidence_and_the_buyers_file(
    world: World, disputed_a: Disputed
) -> None:
    detail = world.a.admin.call("GET", f"/v1/merchant/disputes/{disputed_a.dispute_id}")
    assert detail["attribution"] == "merchant"
    assert "serial_mismatch" in [r["code"] for r in detail["reasons"]]
    shipment = detail["shipment_evidence"]
    assert [e["evidence_id"] for e in shipment] == [disputed_a.evidence_id]
    sealed = httpx.get(shipment[0]["file_url"], headers=_bearer(world.a.key), timeout=60)
    assert sealed.status_code == 200
    assert sealed.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(sealed.content).hexdigest() == shipment[0]["sealed_sha256"]
    thumb = httpx.get(shipment[0]["thumbnail_url"], headers=_bearer(world.a.key), timeout=60)
    assert thumb.status_code == 200
    assert thumb.content[:2] == b"\xff\xd8"
    (submitted,) = detail["buyer_files"]
    assert submitted["decision"] == "block"
    got = httpx.get(submitted["file_url"], headers=_bearer(world.a.key), timeout=60)
    assert got.status_code == 200
    # The picture the buyer sent, without the manifest that names their device (the same in
    # every shop's disputes: merchants comparing files would link a pseudonymous buyer).
    stored = disputed_a.receipt.read_bytes()
    device = world.buyer_device.device_id.encode()
    assert device in stored
    assert device not in got.content
    assert b"c2pa" not in got.content
    assert np.array_equal(_pixels(got.content), _pixels(stored))
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in got.headers["content-security-policy"]


@pytest.mark.parametrize(("mode", "as_stored"), [("full", True), ("hidden", False)])
def test_the_buyer_file_is_as_stored_only_where_merchants_see_the_buyer_id(
    world: World, disputed_a: Disputed, services: Services, mode: str, as_stored: bool
) -> None:
    views = MerchantDisputes(
        ledger=services.ledger,
        store=services.store,
        identity=BuyerIdentity(mode, b"k" * 32),
        base_url=world.base_url,
    )
    stored = disputed_a.receipt.read_bytes()
    sha = hashlib.sha256(stored).hexdigest()
    _, chunks = views.buyer_file(world.a.merchant_id, disputed_a.dispute_id, sha)
    served = b"".join(chunks)
    assert (served == stored) is as_stored
    assert np.array_equal(_pixels(served), _pixels(stored))


def test_a_damaged_sealed_receipt_is_withheld_from_the_merchant_not_served_raw(
    world: World, disputed_a: Disputed, work: Path
) -> None:
    """Adversary: a merchant counting on a receipt damaged on its way to the dispute (one stray
    byte after its manifest, as a chat app might leave it) being served as stored, with the
    buyer's device id and certificate inside."""
    stored = disputed_a.receipt.read_bytes()
    jumbf_end = _app11_end(stored)
    damaged = work / "receipt.damaged.jpg"
    damaged.write_bytes(stored[:jumbf_end] + b"\x00" + stored[jumbf_end:])
    dispute = _dispute(world, disputed_a.order_id, [damaged])
    sha = hashlib.sha256(damaged.read_bytes()).hexdigest()
    path = f"/v1/merchant/disputes/{dispute['dispute_id']}/files/{sha}"
    answer = httpx.get(world.base_url + path, headers=_bearer(world.a.key), timeout=60)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "buyer_file_withheld")
    assert world.buyer_device.device_id.encode() not in answer.content


def _app11_end(jpeg: bytes) -> int:
    """The offset just after the last APP11 (JUMBF) segment of a JPEG's header."""
    offset, end = 2, 0
    while jpeg[offset] == 0xFF and jpeg[offset + 1] != 0xDA:
        length = int.from_bytes(jpeg[offset + 2 : offset + 4], "big")
        if jpeg[offset + 1] == 0xEB:
            end = offset + 2 + length
        offset += 2 + length
    assert end > 0
    return end


def _pixels(data: bytes) -> Any:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _answer(base_url: str, key: str, path: str) -> tuple[int, Any]:
    response = httpx.get(base_url + path, headers=_bearer(key), timeout=60)
    return response.status_code, response.json()


def test_another_merchants_dispute_evidence_and_files_look_missing(
    world: World, disputed_b: Disputed
) -> None:
    base, key = world.base_url, world.a.key
    sha = hashlib.sha256(disputed_b.receipt.read_bytes()).hexdigest()
    pairs = [
        (f"/v1/merchant/disputes/{disputed_b.dispute_id}", "/v1/merchant/disputes/dp_missing"),
        (
            f"/v1/merchant/disputes/{disputed_b.dispute_id}/files/{sha}",
            f"/v1/merchant/disputes/dp_missing/files/{sha}",
        ),
        (
            f"/v1/merchant/evidence/{disputed_b.evidence_id}/file",
            "/v1/merchant/evidence/ev_missing/file",
        ),
        (
            f"/v1/merchant/evidence/{disputed_b.evidence_id}/thumbnail.jpg",
            "/v1/merchant/evidence/ev_missing/thumbnail.jpg",
        ),
    ]
    for theirs, missing in pairs:
        got, expected = _answer(base, key, theirs), _answer(base, key, missing)
        assert got[0] == expected[0] == 404, theirs
        assert got[1]["error"]["code"] == expected[1]["error"]["code"], theirs
    # The owner reads the same file.
    assert _answer(base, world.b.key, pairs[0][0])[0] == 200


def test_a_merchant_answers_its_dispute_with_its_own_sealed_evidence(
    world: World, disputed_a: Disputed, disputed_b: Disputed, services: Services
) -> None:
    path = f"/v1/merchant/disputes/{disputed_a.dispute_id}/responses"
    body = {"statement": "We sealed SN-A1 on camera.", "evidence_ids": [disputed_a.evidence_id]}
    stored = world.a.admin.call("POST", path, json=body)
    assert stored["evidence_ids"] == [disputed_a.evidence_id]
    assert stored["merchant_id"] == world.a.merchant_id
    # Another order's sealed video is no answer to this dispute.
    borrowed = {"statement": "see this", "evidence_ids": [disputed_b.evidence_id]}
    assert _refused(lambda: world.a.admin.call("POST", path, json=borrowed)) == (
        422,
        "response_evidence_invalid",
    )
    # Merchant B cannot answer A's dispute; it is not there for B.
    assert _refused(lambda: world.b.admin.call("POST", path, json=body)) == (
        404,
        "dispute_not_found",
    )
    bad_bodies: list[dict[str, Any]] = [
        {"statement": ""},
        {"statement": "x" * 4001},
        {"statement": "x", "evidence_ids": ["e"] * 21},
        # NUL is refused the same on SQLite as on PostgreSQL, which cannot store it.
        {"statement": "Packed right.\x00 (hidden)"},
        {"statement": "Packed\x08\x08\x08 wrong"},
    ]
    for bad in bad_bodies:
        with pytest.raises(APIError) as caught:
            world.a.admin.call("POST", path, json=bad)
        assert (caught.value.status, caught.value.code) == (422, "invalid_request")
    # The agent's workspace reads the same ledger rows.
    responses = services.ledger.merchant_responses(disputed_a.dispute_id)
    assert [r.response_id for r in responses] == [stored["response_id"]]
    detail = world.a.admin.call("GET", f"/v1/merchant/disputes/{disputed_a.dispute_id}")
    assert [r["response_id"] for r in detail["responses"]] == [stored["response_id"]]


def test_a_merchant_cannot_answer_with_a_capture_sealed_after_the_claim(
    world: World, work: Path
) -> None:
    """Adversary: a seller reopening its disputed order and "packing" it again for the camera,
    then citing that fresh sealed video as its packing evidence; or citing the buyer's own
    receipt capture as its evidence."""
    order_id = _register(world, world.a)
    packed, token = _ship(world, world.a, order_id, work)
    receipt, receipt_id = _receive_with_id(world, order_id, token, work, None)
    dispute_id = _dispute(world, order_id, [receipt])["dispute_id"]
    world.a.admin.call(
        "POST", f"/v1/merchant/orders/{order_id}/reopen", json={"reason": "re-shoot"}
    )
    session = world.a.station.open_session(order_id)
    staged = world.a.station.upload(session, _photo(work, f"{order_id}-staged"), title="s.jpg")
    world.a.station.close(session)
    path = f"/v1/merchant/disputes/{dispute_id}/responses"
    for cited in (staged["evidence_id"], receipt_id):
        with pytest.raises(APIError) as caught:
            world.a.admin.call(
                "POST", path, json={"statement": "Packed right.", "evidence_ids": [cited]}
            )
        assert (caught.value.status, caught.value.code) == (422, "response_evidence_invalid")
    honest = {"statement": "Packed right.", "evidence_ids": [packed["evidence_id"]]}
    assert world.a.admin.call("POST", path, json=honest)["evidence_ids"] == [packed["evidence_id"]]


def test_a_merchants_huge_body_is_refused_before_it_is_read(
    world: World, disputed_a: Disputed
) -> None:
    """Adversary: a merchant key (or anyone: FastAPI reads a JSON body before the key is
    checked) sending a statement or reason of many megabytes to fill the server's memory."""
    respond = f"{world.base_url}/v1/merchant/disputes/{disputed_a.dispute_id}/responses"
    reopen = f"{world.base_url}/v1/merchant/orders/{disputed_a.order_id}/reopen"
    big = json.dumps({"statement": "x" * 10_000_000}).encode()
    for url, headers in (
        (respond, _bearer(world.a.key)),
        (reopen, _bearer(world.a.key)),
        (respond, {}),
    ):
        declared = httpx.post(url, content=big, headers=headers, timeout=60)
        assert (declared.status_code, declared.json()["error"]["code"]) == (
            413,
            "payload_too_large",
        ), url

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off at the limit
        yield b'{"statement": "'
        for _ in range(200):
            yield b"x" * 65536
        yield b'"}'

    chunked = httpx.post(respond, content=chunks(), headers=_bearer(world.a.key), timeout=60)
    assert (chunked.status_code, chunked.json()["error"]["code"]) == (413, "payload_too_large")
    # The largest valid statement still fits: 4000 characters escaped as surrogate pairs.
    widest = json.dumps({"statement": "\U0001f4e6" * 4000}).encode()
    assert len(widest) > 32 * 1024
    taken = httpx.post(
        respond,
        content=widest,
        headers={**_bearer(world.a.key), "Content-Type": "application/json"},
        timeout=60,
    )
    assert taken.status_code == 201, taken.text


def test_merchant_keys_and_operator_keys_stay_in_their_roles(world: World) -> None:
    base = world.base_url
    for path in ("/v1/platform/disputes", "/v1/disputes"):
        status, body = _answer(base, world.a.key, path)
        assert (status, body["error"]["code"]) == (403, "wrong_role"), path
    for role in ("platform", "agent", "admin"):
        status, body = _answer(base, world.credentials[role], "/v1/merchant/disputes")
        assert (status, body["error"]["code"]) == (403, "wrong_role"), role


def test_a_merchant_key_needs_a_registered_merchant(services: Services) -> None:
    from infra.errors import InputError

    with pytest.raises(InputError) as caught:
        services.ledger.api_keys.issue(
            role="merchant", subject="x", merchant_id="no-such", now=services.clock()
        )
    assert caught.value.code == "merchant_not_found"
    with pytest.raises(InputError):
        services.ledger.api_keys.issue(role="merchant", subject="x", now=services.clock())


# Whose side, and the policy ----------------------------------------------------------------------
def test_a_swapped_unit_points_to_the_buyer_and_counts_against_them(
    world: World, work: Path, services: Services
) -> None:
    order_id = _register(world, world.b, serials=SERIALS)
    _, token = _ship(world, world.b, order_id, work, serial="SN-A1")
    receipt = _receive(world, order_id, token, work, "SN-FAKE7")
    decided = _dispute(world, order_id, [receipt])
    serial = next(
        c for e in decided["verdict"]["evidence"] for c in e["checks"] if c["check"] == "serial"
    )
    assert (serial["code"], serial["attribution"]) == ("serial_mismatch", "buyer")
    rows = world.b.admin.call("GET", "/v1/merchant/disputes", params={"order_id": order_id})
    assert [d["attribution"] for d in rows["disputes"]] == ["buyer"]
    # The default policy reviews a buyer's next claim once one swap is on record.
    again = world.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": world.buyer_id,
            "claim_type": "damaged",
            "amount": "1.00",
            "currency": "USD",
        },
    )
    verdict = services.verifier.evaluate_dispute(again["dispute_id"], now=services.clock())
    fired = {rule.rule for rule in verdict.policy_trace if rule.fired}
    assert "swaps_per_buyer" in fired


def test_an_allowed_dispute_points_to_no_one(
    world: World, disputed_b: Disputed, services: Services
) -> None:
    row = services.ledger.get_dispute(disputed_b.dispute_id)
    assert row is not None
    assert row.attribution is None


def test_a_high_wrong_item_rate_sends_the_merchants_new_disputes_to_review(
    world: World, disputed_a: Disputed, disputed_b: Disputed, services: Services
) -> None:
    policy = dataclasses.replace(
        services.verifier.policy,
        max_wrong_item_rate=Decimal("0.5"),
        wrong_item_min_disputes=1,
        max_swaps_per_buyer=None,
        max_disputes_per_buyer=None,
        max_refunds_per_order=None,
    )
    strict = services.verifier.with_policy(policy)
    now = services.clock()
    # A new claim on merchant A's order: A's decided disputes are all wrong items.
    fresh_a = world.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": disputed_a.order_id,
            "buyer_id": world.buyer_id,
            "claim_type": "damaged",
            "amount": "1.00",
            "currency": "USD",
        },
    )
    verdict = strict.evaluate_dispute(fresh_a["dispute_id"], now=now)
    assert "merchant_wrong_item_rate" in {r.code.value for r in verdict.reasons}
    assert verdict.decision.value in ("review", "block")
    # Merchant B's record holds no wrong item: its claims are not held back.
    fresh_b = world.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": disputed_b.order_id,
            "buyer_id": world.buyer_id,
            "claim_type": "damaged",
            "amount": "1.00",
            "currency": "USD",
        },
    )
    other = strict.evaluate_dispute(fresh_b["dispute_id"], now=now)
    assert "merchant_wrong_item_rate" not in {r.code.value for r in other.reasons}
    trace = {rule.rule: rule.fired for rule in other.policy_trace}
    assert trace["merchant_wrong_item_rate"] is False


# The operator's commands -------------------------------------------------------------------------
def _cli(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=settings_env(settings))


def _cli_code(result: Result) -> str | None:
    return result.exception.code if isinstance(result.exception, OrderSealError) else None


def test_merchants_are_added_and_listed_by_the_operator(settings: Settings) -> None:
    merchant_id = f"cli-{secrets.token_hex(3)}"
    added = _cli(settings, "merchants", "add", merchant_id, "--name", "Corner Shop")
    assert added.exit_code == 0, added.output
    listed = json.loads(_cli(settings, "merchants", "list", "--json").stdout)
    assert {"merchant_id": merchant_id, "name": "Corner Shop"}.items() <= next(
        row for row in listed if row["merchant_id"] == merchant_id
    ).items()
    assert "default" in {row["merchant_id"] for row in listed}
    again = _cli(settings, "merchants", "add", merchant_id, "--name", "Other")
    assert _cli_code(again) == "merchant_exists"


def test_a_merchant_key_is_issued_for_a_registered_merchant_only(settings: Settings) -> None:
    merchant_id = f"cli-{secrets.token_hex(3)}"
    assert _cli(settings, "merchants", "add", merchant_id, "--name", "Keys Co").exit_code == 0
    base = ("keys", "api", "add", "--role", "merchant", "--subject", "shop-admin")
    issued = _cli(settings, *base, "--merchant", merchant_id)
    assert issued.exit_code == 0, issued.output
    assert issued.stdout.strip().startswith("osk_merchant_")
    rows = json.loads(_cli(settings, "keys", "api", "list", "--json").stdout)
    assert merchant_id in {row["merchant_id"] for row in rows}
    assert _cli_code(_cli(settings, *base, "--merchant", "no-such")) == "merchant_not_found"
    assert _cli_code(_cli(settings, *base)) == "invalid_input"
    platform = ("keys", "api", "add", "--role", "platform", "--subject", "p")
    assert _cli_code(_cli(settings, *platform, "--merchant", merchant_id)) == "invalid_input"


def test_a_rotated_merchant_key_keeps_its_merchant(
    world: World, disputed_a: Disputed, services: Services
) -> None:
    now = services.clock()
    issued = services.ledger.api_keys.issue(
        role="merchant", subject="a-rotating", merchant_id=world.a.merchant_id, now=now
    )
    rotated = services.ledger.api_keys.rotate(issued.info.key_id, now=now, overlap=timedelta(0))
    assert rotated.info.merchant_id == world.a.merchant_id
    status, body = _answer(world.base_url, rotated.secret, "/v1/merchant/disputes")
    assert status == 200
    assert disputed_a.dispute_id in {d["dispute_id"] for d in body["disputes"]}
    status, body = _answer(world.base_url, issued.secret, "/v1/merchant/disputes")
    assert (status, body["error"]["code"]) == (401, "credentials_invalid")


def test_a_merchant_downloads_its_packing_evidence_not_the_buyers_captures(
    world: World, work: Path
) -> None:
    order_id = _register(world, world.a)
    packed, token = _ship(world, world.a, order_id, work)
    _, receipt_id = _receive_with_id(world, order_id, token, work, None)
    base, key = world.base_url, world.a.key
    own = httpx.get(
        f"{base}/v1/merchant/evidence/{packed['evidence_id']}/file", headers=_bearer(key)
    )
    assert own.status_code == 200
    # The buyer's sealed unboxing of the merchant's own order is the buyer's: not by id.
    status, body = _answer(base, key, f"/v1/merchant/evidence/{receipt_id}/file")
    assert (status, body["error"]["code"]) == (404, "evidence_not_found")


def test_a_retried_registration_must_name_the_same_merchant(world: World) -> None:
    order_id = f"ORD-R-{secrets.token_hex(3)}"
    body: dict[str, Any] = {
        "order_id": order_id,
        "buyer_id": world.buyer_id,
        "items": [{"sku": "SKU-1", "quantity": 1}],
        "declared_value": "1.00",
        "currency": "USD",
        "merchant_id": world.a.merchant_id,
    }
    key = {"Idempotency-Key": f"idem-{order_id}"}
    world.platform.call("POST", "/v1/orders", json=body, headers=key)
    other = {**body, "merchant_id": world.b.merchant_id}
    reused = lambda: world.platform.call("POST", "/v1/orders", json=other, headers=key)  # noqa: E731
    assert _refused(reused) == (409, "idempotency_key_reused")
    # Without a key, the same id for another merchant is another order's content.
    assert _refused(lambda: world.platform.call("POST", "/v1/orders", json=other)) == (
        409,
        "order_exists",
    )

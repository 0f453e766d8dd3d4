"""Review photos are sealed too (issue 19 §3), through the real HTTP API.

The buyer finishes the receipt, opens a review session on the same order and seals review
photos; they chain to the receipt. The platform asks about any image a review shows, and a
seller's counter-image counts only when it is this order's station evidence.

Adversaries, each next to the honest path:
* a buyer opening a review on someone else's order (``404 order_unknown``, as for none), or
  before their receipt is closed (``409 receipt_not_closed``);
* a review video, a photo past the order's bound (``unsupported_media``,
  ``review_limit_reached``), a review upload into a receipt session;
* a receipt photo presented as a review photo (``wrong_stage``), another order's review photo
  stripped and re-posted (``evidence_reused``), a generated picture (``no_manifest``);
* a seller's generated picture or another order's station photo (``no_manifest``,
  ``order_mismatch``), another merchant's order (``404 order_unknown``);
* a station, agent or merchant key calling the platform route (refused before the body).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from clients.client import APIError
from infra.settings import Settings
from orderseal.samples import make_jpeg, make_mp4
from tests.conftest import make_settings
from tests.support import flows

MAX_REVIEW_PHOTOS = 3


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    """A small review bound, so the limit is reached in a few uploads."""
    return make_settings(
        module_home,
        database_url=database_url,
        max_review_photos=MAX_REVIEW_PHOTOS,
        **storage_overrides,
    )


def _buyer_http(cast: flows.Actors) -> httpx.Client:
    token = flows.buyer_token_response(cast.platform, cast.buyer_id)["token"]
    return httpx.Client(
        base_url=cast.base_url, timeout=120, headers={"Authorization": f"Bearer {token}"}
    )


def _upload_review(
    cast: flows.Actors, http: httpx.Client, session: dict[str, Any], path: Path
) -> httpx.Response:
    statement, signature, digest = cast.buyer_device.attest(
        order_id=session["order_id"], session_id=session["session_id"], stage="review", path=path
    )
    return http.put(
        f"/v1/review-sessions/{session['session_id']}/evidence",
        content=path.read_bytes(),
        headers={
            "X-OrderSeal-Device": cast.buyer_device.device_id,
            "X-OrderSeal-Statement": statement,
            "X-OrderSeal-Statement-Signature": signature,
            "X-OrderSeal-Content-SHA256": digest,
            "X-OrderSeal-Title": path.name,
            "Content-Type": "application/octet-stream",
        },
    )


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def _recompressed(source: Path, dest: Path) -> Path:
    with Image.open(source) as image:
        image.convert("RGB").save(dest, format="JPEG", quality=50)
    return dest


class Reviewed:
    """An order shipped, received, and reviewed with one sealed review photo."""

    def __init__(self, live_api: str, credentials: dict[str, str], work: Path) -> None:
        self.work = work
        self.cast = flows.actors(live_api, credentials)
        self.order_id = flows.register_order(self.cast)
        self.shipped = flows.ship(self.cast, self.order_id, work)
        self.receipt_files = flows.receive(self.cast, self.shipped, work)
        self.http = _buyer_http(self.cast)
        # The buyer app's own client (clients.client.BuyerClient) for the honest path.
        buyer = self.cast.buyer()
        self.session: dict[str, Any] = dict(buyer.open_review(self.order_id))
        photo = make_jpeg(work / f"{self.order_id}-review.jpg", seed=9191, size=(320, 240))
        self.evidence: dict[str, Any] = dict(
            buyer.upload_review(self.session, photo, title="review.jpg")
        )
        self.review_file = work / f"{self.order_id}-review-sealed.jpg"
        self.review_file.write_bytes(
            httpx.get(
                f"{live_api}/v1/evidence/{self.evidence['evidence_id']}/file",
                headers={"Authorization": f"Bearer {credentials['agent']}"},
            ).content
        )


@pytest.fixture(scope="module")
def reviewed(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Reviewed:
    return Reviewed(live_api, credentials, tmp_path_factory.mktemp("review"))


def _ask(live_api: str, key: str, path: Path, *, order_id: str, buyer_id: str) -> httpx.Response:
    return httpx.put(
        f"{live_api}/v1/platform/review-images",
        params={"order_id": order_id, "buyer_id": buyer_id},
        content=path.read_bytes(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream"},
        timeout=120,
    )


# The buyer's review session -----------------------------------------------------------------
def test_a_review_photo_is_sealed_at_review_chained_to_the_receipt(reviewed: Reviewed) -> None:
    assert reviewed.session["stage"] == "review"
    assert reviewed.evidence["stage"] == "review"
    assert reviewed.evidence["order_id"] == reviewed.order_id


def test_a_review_video_is_refused(reviewed: Reviewed) -> None:
    clip = make_mp4(reviewed.work / "review.mp4", seed=3, seconds=0.5, size=(160, 120))
    answer = _upload_review(reviewed.cast, reviewed.http, reviewed.session, clip)
    assert (answer.status_code, _code(answer)) == (422, "unsupported_media")


def test_a_review_upload_into_a_receipt_session_is_refused(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("review-receipt")
    cast = flows.actors(live_api, credentials)
    shipped = flows.ship(cast, flows.register_order(cast), work)
    http = _buyer_http(cast)
    receipt = http.post("/v1/receipt-sessions", json={"token": shipped.label_token}).json()
    photo = make_jpeg(work / "into-receipt.jpg", seed=5, size=(320, 240))
    answer = _upload_review(cast, http, receipt, photo)
    assert (answer.status_code, _code(answer)) == (404, "session_not_found")


def test_a_receipt_upload_into_a_review_session_is_refused(reviewed: Reviewed) -> None:
    buyer = reviewed.cast.buyer()
    photo = make_jpeg(reviewed.work / "as-receipt.jpg", seed=6, size=(320, 240))
    with pytest.raises(APIError) as raised:
        buyer.upload(reviewed.session, photo, title="as-receipt.jpg")
    assert (raised.value.status, raised.value.code) == (404, "session_not_found")


def test_opening_a_review_again_closes_the_earlier_session(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("review-again")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    flows.receive(cast, flows.ship(cast, order_id, work), work)
    http = _buyer_http(cast)
    first = http.post("/v1/review-sessions", json={"order_id": order_id}).json()
    second = http.post("/v1/review-sessions", json={"order_id": order_id}).json()
    photo = make_jpeg(work / "late.jpg", seed=31, size=(160, 120))
    late = _upload_review(cast, http, first, photo)
    assert (late.status_code, _code(late)) == (409, "session_closed")
    assert _upload_review(cast, http, second, photo).status_code == 201


def test_a_review_before_the_receipt_closed_is_refused(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("review-early")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    buyer = cast.buyer()
    receipt = buyer.open_receipt(shipped.label_token)
    buyer.upload(receipt, make_jpeg(work / "unbox.jpg", seed=8, size=(320, 240)), title="u.jpg")
    http = _buyer_http(cast)
    early = http.post("/v1/review-sessions", json={"order_id": order_id})
    assert (early.status_code, _code(early)) == (409, "receipt_not_closed")
    buyer.finish(receipt)
    assert http.post("/v1/review-sessions", json={"order_id": order_id}).status_code == 201


def test_a_buyer_cannot_open_a_review_on_someone_elses_order(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str]
) -> None:
    stranger = flows.actors(live_api, credentials)
    http = _buyer_http(stranger)
    theirs = http.post("/v1/review-sessions", json={"order_id": reviewed.order_id})
    absent = http.post("/v1/review-sessions", json={"order_id": "ORD-NOT-THERE"})
    assert (theirs.status_code, _code(theirs)) == (404, "order_unknown")
    assert (absent.status_code, _code(absent)) == (404, "order_unknown")


def test_review_photos_per_order_are_bounded(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("review-bound")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    flows.receive(cast, flows.ship(cast, order_id, work), work)
    http = _buyer_http(cast)
    session = http.post("/v1/review-sessions", json={"order_id": order_id}).json()
    for index in range(MAX_REVIEW_PHOTOS):
        photo = make_jpeg(work / f"r{index}.jpg", seed=100 + index, size=(160, 120))
        assert _upload_review(cast, http, session, photo).status_code == 201
    over = _upload_review(
        cast, http, session, make_jpeg(work / "over.jpg", seed=99, size=(160, 120))
    )
    assert (over.status_code, _code(over)) == (409, "review_limit_reached")
    again = http.post("/v1/review-sessions", json={"order_id": order_id})
    assert (again.status_code, _code(again)) == (409, "review_limit_reached")


# The platform's question --------------------------------------------------------------------
def test_the_sealed_review_photo_is_review_sealed(reviewed: Reviewed) -> None:
    body = reviewed.cast.platform.review_image(
        reviewed.review_file, order_id=reviewed.order_id, buyer_id=reviewed.cast.buyer_id
    )
    assert (body["answer"], body["review_sealed"]) == ("review_sealed", True)
    assert body["stage"] == "review"
    assert body["evidence_id"] == reviewed.evidence["evidence_id"]


def test_a_stripped_copy_of_the_review_photo_is_recovered(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str]
) -> None:
    copy = _recompressed(reviewed.review_file, reviewed.work / "review-copy.jpg")
    body = _ask(
        live_api,
        credentials["platform"],
        copy,
        order_id=reviewed.order_id,
        buyer_id=reviewed.cast.buyer_id,
    ).json()
    assert body["answer"] == "manifest_recovered"
    assert body["recovered_evidence_id"] == reviewed.evidence["evidence_id"]
    assert body["review_sealed"] is False


def test_a_receipt_photo_presented_as_review_is_wrong_stage(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str]
) -> None:
    body = _ask(
        live_api,
        credentials["platform"],
        reviewed.receipt_files[0],
        order_id=reviewed.order_id,
        buyer_id=reviewed.cast.buyer_id,
    ).json()
    assert body["answer"] == "wrong_stage"
    assert body["stage"] == "receipt"


def test_another_orders_stripped_review_photo_is_reused(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str]
) -> None:
    other_order = flows.register_order(reviewed.cast)
    copy = _recompressed(reviewed.review_file, reviewed.work / "reposted.jpg")
    body = _ask(
        live_api,
        credentials["platform"],
        copy,
        order_id=other_order,
        buyer_id=reviewed.cast.buyer_id,
    ).json()
    assert body["answer"] == "evidence_reused"
    assert body["recovered_evidence_id"] is None  # another order's original is not named
    assert "order_mismatch" in {r["code"] for r in body["reasons"]}


def test_a_generated_review_picture_is_no_manifest(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str]
) -> None:
    generated = make_jpeg(reviewed.work / "generated.jpg", seed=777777, size=(320, 240))
    body = _ask(
        live_api,
        credentials["platform"],
        generated,
        order_id=reviewed.order_id,
        buyer_id=reviewed.cast.buyer_id,
    ).json()
    assert body["answer"] == "no_manifest"


@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [("agent", 403, "wrong_role"), ("merchant", 403, "wrong_role"), (None, 401, None)],
    ids=["agent", "merchant", "station-no-key"],
)
def test_other_roles_cannot_ask_the_review_route(
    reviewed: Reviewed,
    live_api: str,
    credentials: dict[str, str],
    caller: str | None,
    status: int,
    code: str | None,
) -> None:
    if caller is None:
        # A station signs its requests; it carries no platform key.
        headers = reviewed.cast.station.signed_headers(
            "PUT", "/v1/platform/review-images", "0" * 64
        )
        answer = httpx.put(
            f"{live_api}/v1/platform/review-images", content=b"x", headers=headers, timeout=60
        )
        assert answer.status_code == status
        assert _code(answer).startswith("credentials_")
        return
    answer = _ask(
        live_api,
        credentials[caller],
        reviewed.review_file,
        order_id=reviewed.order_id,
        buyer_id=reviewed.cast.buyer_id,
    )
    assert (answer.status_code, _code(answer)) == (status, code)


def test_the_platform_route_bounds_its_body(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str], settings: Settings
) -> None:
    answer = httpx.put(
        f"{live_api}/v1/platform/review-images",
        params={"order_id": reviewed.order_id, "buyer_id": reviewed.cast.buyer_id},
        content=b"\xff" * (settings.max_photo_bytes + 1),
        headers={"Authorization": f"Bearer {credentials['platform']}"},
        timeout=120,
    )
    assert (answer.status_code, _code(answer)) == (413, "payload_too_large")


# The seller's counter-image -----------------------------------------------------------------
def _counter(live_api: str, key: str, order_id: str, path: Path) -> httpx.Response:
    return httpx.put(
        f"{live_api}/v1/merchant/orders/{order_id}/counter-images",
        content=path.read_bytes(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream"},
        timeout=120,
    )


def _station_photo(
    live_api: str, credentials: dict[str, str], evidence_id: str, dest: Path
) -> Path:
    dest.write_bytes(
        httpx.get(
            f"{live_api}/v1/evidence/{evidence_id}/file",
            headers={"Authorization": f"Bearer {credentials['agent']}"},
        ).content
    )
    return dest


def test_the_orders_station_photo_counts_against_a_review(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str]
) -> None:
    packed = _station_photo(
        live_api,
        credentials,
        reviewed.shipped.evidence[0]["evidence_id"],
        reviewed.work / "packed.jpg",
    )
    body = _counter(live_api, credentials["merchant"], reviewed.order_id, packed).json()
    assert (body["answer"], body["counts"]) == ("counter_sealed", True)


def test_another_orders_station_photo_does_not_count(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str]
) -> None:
    other = flows.ship(reviewed.cast, flows.register_order(reviewed.cast), reviewed.work)
    packed = _station_photo(
        live_api, credentials, other.evidence[0]["evidence_id"], reviewed.work / "other.jpg"
    )
    body = _counter(live_api, credentials["merchant"], reviewed.order_id, packed).json()
    assert (body["answer"], body["counts"]) == ("order_mismatch", False)


def test_a_generated_counter_image_does_not_count(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str]
) -> None:
    generated = make_jpeg(reviewed.work / "seller-generated.jpg", seed=55555, size=(320, 240))
    body = _counter(live_api, credentials["merchant"], reviewed.order_id, generated).json()
    assert (body["answer"], body["counts"]) == ("no_manifest", False)


def test_another_merchants_order_is_unknown_to_the_counter_route(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str], settings: Settings
) -> None:
    answer = _counter(live_api, credentials["merchant"], "ORD-NOT-THERE", reviewed.review_file)
    assert (answer.status_code, _code(answer)) == (404, "order_unknown")


def test_another_orders_sealed_picture_re_saved_is_not_sealed_as_a_review(
    reviewed: Reviewed, tmp_path: Path
) -> None:
    """Adversary: a buyer re-saving another order's sealed review photo (every byte differs
    after a JPEG re-encode, the picture does not) and sealing it as the review of their own
    order, so the platform would answer ``review_sealed`` for it. Refused at the door."""
    cast = reviewed.cast
    order_id = flows.register_order(cast)
    flows.receive(cast, flows.ship(cast, order_id, tmp_path), tmp_path)
    buyer = cast.buyer()
    session = buyer.open_review(order_id)
    copy = _recompressed(reviewed.review_file, tmp_path / "resaved.jpg")
    with pytest.raises(APIError) as refused:
        buyer.upload_review(session, copy, title="review.jpg")
    assert (refused.value.status, refused.value.code) == (409, "capture_sealed_elsewhere")
    # Their own photo of what they received is sealed.
    own = make_jpeg(tmp_path / "own-review.jpg", seed=4242, size=(320, 240))
    assert buyer.upload_review(session, own, title="review.jpg")["evidence_id"]


def test_the_agents_timeline_tells_a_review_photo_from_an_unboxing(
    reviewed: Reviewed, live_api: str, credentials: dict[str, str]
) -> None:
    decided = flows.dispute(reviewed.cast, reviewed.order_id, [reviewed.review_file])
    space = httpx.get(
        f"{live_api}/v1/disputes/{decided['dispute_id']}/workspace",
        headers={"Authorization": f"Bearer {credentials['agent']}"},
        timeout=60,
    ).json()
    events = [(e["event"], e["detail"]) for e in space["timeline"]]
    assert ("reviewed", "review.jpg") in events
    assert ("unboxed", "review.jpg") not in events

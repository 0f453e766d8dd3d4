"""Review-stage seals through the buyer page in Chromium (issue 19 §3).

The buyer scans the real label, seals an unboxing photo and finishes the receipt; the same page
then offers review photos, which the server seals at stage ``review``, chained to that receipt.
The platform's review route answers ``review_sealed`` for them and ``wrong_stage`` for the
receipt photo shown as a review photo.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, expect

from clients.client import PlatformClient
from orderseal.services import Services
from tests.browser.conftest import ShippedOrder
from tests.support.y4m import scene_with, write_y4m
from verifier.public import STAGE_WORDS

pytestmark = pytest.mark.backend_independent

PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 30_000


def _camera(label_png: bytes, path: Path) -> Path:
    """A fake camera looking at the label's QR and order number."""
    label = Image.open(io.BytesIO(label_png))
    top = label.crop((0, 0, label.width, int(label.height * 0.9)))
    return write_y4m(path, (scene_with(top, index=i) for i in range(12)))


def _ask(live_api: str, key: str, sealed: bytes, *, order_id: str, buyer_id: str) -> str:
    answer = httpx.put(
        f"{live_api}/v1/platform/review-images",
        params={"order_id": order_id, "buyer_id": buyer_id},
        content=sealed,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["answer"])


def test_the_buyer_seals_review_photos_after_the_receipt(
    launch: Callable[[Path], Browser],
    ship: Callable[..., ShippedOrder],
    buyer_token: str,
    live_api: str,
    credentials: dict[str, str],
    platform: PlatformClient,
    services: Services,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    order = ship()
    browser = launch(_camera(order.label_png, tmp_path / "label.y4m"))
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_api}/capture#token={buyer_token}")

    expect(page.locator("#order-id")).to_have_text(order.order_id)
    # Before the receipt is finished there is nothing to review.
    expect(page.locator("#step-review")).to_be_hidden()
    page.click("#take-photo")
    expect(page.locator(".capture.sealed")).to_have_count(1)
    page.click("#finish")
    expect(page.locator("#step-result")).to_be_visible()

    expect(page.locator("#step-review")).to_be_visible()
    page.click("#review-open")
    expect(page.locator("#review-capture")).to_be_visible()
    page.click("#review-photo")
    expect(page.locator(".review-capture.sealed")).to_have_count(1)
    page.click("#review-photo")
    expect(page.locator(".review-capture.sealed")).to_have_count(2)
    page.screenshot(path=str(artifacts / "capture-phone-review.png"), full_page=True)
    page.click("#review-finish")
    expect(page.locator("#review-capture")).to_be_hidden()
    expect(page.locator("#review-status")).to_contain_text("2")

    reviews = services.ledger.evidence_for_order(order.order_id, "review")
    (receipt,) = services.ledger.evidence_for_order(order.order_id, "receipt")
    assert sorted(row.title for row in reviews) == ["review-photo-1.jpg", "review-photo-2.jpg"]
    assert all(row.device_id == receipt.device_id for row in reviews)  # the page's own key
    agent = {"Authorization": f"Bearer {credentials['agent']}"}

    def sealed(evidence_id: str) -> bytes:
        url = f"{live_api}/v1/evidence/{evidence_id}/file"
        return httpx.get(url, headers=agent, timeout=60).raise_for_status().content

    key = credentials["platform"]
    for row in reviews:
        answer = _ask(
            live_api, key, sealed(row.evidence_id), order_id=order.order_id, buyer_id=order.buyer_id
        )
        assert answer == "review_sealed"
    # The buyer's unboxing photo is no review photo, however alike the two pictures look.
    receipt_answer = _ask(
        live_api,
        key,
        sealed(receipt.evidence_id),
        order_id=order.order_id,
        buyer_id=order.buyer_id,
    )
    assert receipt_answer == "wrong_stage"
    # Anyone checking the sealed review photo on /verify reads its stages in plain words.
    review_file = tmp_path / "review-photo-1.jpg"
    review_file.write_bytes(sealed(reviews[0].evidence_id))
    page.goto(f"{live_api}/verify")
    page.set_input_files("#file", str(review_file))
    page.click("#check")
    result = page.locator("#result")
    expect(result).to_have_class("ok")
    for words in (STAGE_WORDS["shipment"], STAGE_WORDS["receipt"], STAGE_WORDS["review"]):
        expect(result).to_contain_text(words)
    # The session is closed: the page cannot add more photos to it.
    session = services.ledger.get_session(reviews[0].session_id)
    assert session is not None
    assert session.closed_at is not None

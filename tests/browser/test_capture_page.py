"""The buyer capture page in a real browser: scan the real label, capture, seal, dispute."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import qrcode
from PIL import Image
from playwright.sync_api import Browser, Page, Route, expect

from clients.client import PlatformClient
from infra.settings import Settings
from orderseal.services import Services
from tests.browser.conftest import ShippedOrder
from tests.conftest import make_settings
from tests.support.y4m import scene_with, write_y4m

pytestmark = pytest.mark.backend_independent

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
TIMEOUT_MS = 30_000
HELP_URL = "https://help.platform.example/after-sales"


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    """The module's settings, with the platform's help page for the scam warning."""
    return make_settings(
        module_home, database_url=database_url, buyer_help_url=HELP_URL, **storage_overrides
    )


def _camera(picture: Image.Image, path: Path) -> Path:
    """A Y4M fake camera looking at ``picture`` (a few frames so recorded video moves)."""
    return write_y4m(path, (scene_with(picture, index=i) for i in range(12)))


def _label_top(label_png: bytes) -> Image.Image:
    """The part of the printed label a buyer points the phone at: QR and order number."""
    label = Image.open(io.BytesIO(label_png))
    return label.crop((0, 0, label.width, int(label.height * 0.9)))


def _new_page(browser: Browser, viewport: dict[str, int]) -> Page:
    context = browser.new_context(viewport=viewport, device_scale_factor=1)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def _sign_in_by_link(page: Page, base_url: str, token: str) -> None:
    """Open the page as the shop's app links to it: the token in the URL fragment."""
    page.goto(f"{base_url}/capture#token={token}")


def _drop_first_upload_response(page: Page) -> list[int]:
    """Deliver the first upload to the server but cut the connection before the answer."""
    dropped: list[int] = []

    def handler(route: Route) -> None:
        if route.request.method == "PUT" and not dropped:
            response = route.fetch()
            dropped.append(response.status)
            route.abort("connectionreset")
            return
        route.continue_()

    page.route("**/v1/receipt-sessions/*/evidence", handler)
    return dropped


def test_scan_capture_upload_and_dispute_allows(
    launch: Callable[[Path], Browser],
    ship: Callable[..., ShippedOrder],
    buyer_token: str,
    live_api: str,
    platform: PlatformClient,
    services: Services,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    order = ship()
    browser = launch(_camera(_label_top(order.label_png), tmp_path / "label.y4m"))
    page = _new_page(browser, PHONE)
    dropped = _drop_first_upload_response(page)
    _sign_in_by_link(page, live_api, buyer_token)

    expect(page.locator("#step-order")).to_be_visible()
    expect(page.locator("#order-id")).to_have_text(order.order_id)
    page.screenshot(path=str(artifacts / "capture-phone-order.png"))

    page.click("#take-photo")
    expect(page.locator(".capture.sealed")).to_have_count(1)
    page.click("#record")
    expect(page.locator("#rec")).to_be_visible()
    time.sleep(2.5)
    page.click("#record")
    expect(page.locator(".capture.sealed")).to_have_count(2)
    page.screenshot(path=str(artifacts / "capture-phone-captures.png"))
    page.click("#finish")
    expect(page.locator("#step-result")).to_be_visible()
    expect(page.locator("#result-sealed li")).to_have_count(2)
    expect(page.locator("#result-chain")).to_contain_text("Packed and sealed")
    page.screenshot(path=str(artifacts / "capture-phone-result.png"), full_page=True)
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    page.screenshot(path=str(artifacts / "capture-desktop-result.png"), full_page=True)

    # The dropped connection was retried with the same Idempotency-Key: sealed once.
    assert dropped == [201]
    receipt = services.ledger.evidence_for_order(order.order_id, "receipt")
    assert sorted(row.media_type for row in receipt) == ["image/jpeg", "video/mp4"]
    # Chromium recorded MP4 itself (the WebM conversion path was not needed).
    assert sorted(row.title for row in receipt) == ["unboxing-photo-1.jpg", "unboxing-video-1.mp4"]
    assert receipt[0].device_id.startswith("buyer-web-")

    # The buyer downloads the sealed copies and the platform files a dispute with them.
    auth = {"Authorization": f"Bearer {buyer_token}"}
    dispute = platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order.order_id,
            "buyer_id": order.buyer_id,
            "claim_type": "damaged",
            "amount": "49.00",
            "currency": "USD",
        },
    )
    for row in receipt:
        url = f"{live_api}/v1/receipt-sessions/{row.session_id}/evidence/{row.evidence_id}/file"
        sealed = tmp_path / row.title
        sealed.write_bytes(httpx.get(url, headers=auth).raise_for_status().content)
        platform.attach_file(dispute["dispute_id"], sealed, filename=row.title)
    decided = platform.call("POST", f"/v1/disputes/{dispute['dispute_id']}/decide")
    codes = [r["code"] for r in decided["verdict"]["reasons"]]
    assert (decided["verdict"]["decision"], codes) == ("allow", [])


def _scam_card() -> Image.Image:
    """A fake "after-sales" card's QR, leading the buyer off the platform."""
    image: Image.Image = qrcode.make(
        "https://after-sales-refund.example/claim?case=88231"
    ).get_image()
    return image


@pytest.mark.parametrize("source", ["scam-card", "other-buyers-label"])
def test_foreign_qr_code_shows_the_warning(
    source: str,
    launch: Callable[[Path], Browser],
    ship: Callable[..., ShippedOrder],
    buyer_token: str,
    live_api: str,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    if source == "scam-card":
        picture = _scam_card()
    else:  # a real OrderSeal label, but for somebody else's parcel
        picture = _label_top(ship(buyer_id="buyer-web-someone-else").label_png)
    browser = launch(_camera(picture, tmp_path / "foreign.y4m"))
    page = _new_page(browser, DESKTOP)
    opened: list[str] = []
    page.on(
        "request",
        lambda r: opened.append(r.url) if r.url.endswith("/v1/receipt-sessions") else None,
    )
    _sign_in_by_link(page, live_api, buyer_token)

    warning = page.locator("#step-warning")
    expect(warning).to_be_visible()
    if source == "scam-card":
        expect(warning).to_contain_text("Do not contact anyone")
        expect(page.locator("#warning-help")).to_have_attribute("href", HELP_URL)
    else:  # genuine, but for another account: no scam warning (issue 18 §4)
        expect(page.locator("#warning-title")).to_contain_text("another account")
        expect(page.locator("#warning-scam")).to_be_hidden()
    expect(page.locator("#step-order")).to_be_hidden()
    page.screenshot(path=str(artifacts / f"capture-desktop-{source}.png"))
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    page.screenshot(path=str(artifacts / f"capture-phone-{source}.png"))
    assert opened == []  # no receipt session was even attempted

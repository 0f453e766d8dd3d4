"""The buyer page's states and languages (issue 18 §4-§6), in real Chromium.

- Camera denied: the page explains how to allow it, offers a retry, keeps "Take photo"
  disabled and never says the camera is on over a black viewfinder; allowing it and
  retrying brings the camera back in the same session.
- Languages: zh-CN from the browser's languages, a visible switch to English; phone-sized
  screenshots (390 x 844) of both go to ``test-artifacts/browser`` and, with
  ``ORDERSEAL_TEST_SCREENSHOTS=<folder>`` (``make screenshots``), small copies to that folder.

Adversary: order item names and QR payloads are someone else's text; the page inserts them
with ``textContent`` only (the hostile SKU below stays inert text).
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import qrcode
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright, expect

from clients.client import PlatformClient, StationClient
from infra.settings import Settings
from orderseal.samples import make_jpeg
from tests.browser.conftest import BUYER_ID, CHROMIUM, CHROMIUM_ARGS, ShippedOrder
from tests.conftest import make_settings
from tests.support.paths import repo_root
from tests.support.y4m import scene_with, write_y4m

pytestmark = pytest.mark.backend_independent

PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 30_000
HELP_URL = "https://help.platform.example/after-sales"
HOSTILE_SKU = "LAMP-01"


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    """The module's settings, with the platform help page and a 2-minute video limit."""
    return make_settings(
        module_home,
        database_url=database_url,
        buyer_help_url=HELP_URL,
        buyer_video_seconds=120,
        **storage_overrides,
    )


def _label_camera(order: ShippedOrder, path: Path) -> Path:
    label = Image.open(io.BytesIO(order.label_png))
    top = label.crop((0, 0, label.width, int(label.height * 0.9)))
    return write_y4m(path, (scene_with(top, index=i) for i in range(12)))


def _label_text(order: ShippedOrder) -> str:
    """What another QR app reads off the printed label."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(order.label_png)))
    return next(r.text for r in found if r.format == zxingcpp.BarcodeFormat.QRCode)


@pytest.fixture
def denied_browser(playwright: Playwright, tmp_path: Path) -> Iterator[Callable[[Path], Browser]]:
    """Chromium with a fake camera but no auto-granted permission: getUserMedia is denied."""
    browsers: list[Browser] = []

    def _launch(camera: Path) -> Browser:
        args = [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"]
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*args, f"--use-file-for-fake-video-capture={camera}"],
        )
        browsers.append(browser)
        return browser

    yield _launch
    for browser in browsers:
        browser.close()


def _page(browser: Browser, *, locale: str = "en-US") -> Page:
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, locale=locale)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def _shot(page: Page, artifacts: Path, name: str) -> None:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("ORDERSEAL_TEST_SCREENSHOTS")
    if keep:
        folder = repo_root() / keep
        folder.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as shot:
            shot.convert("RGB").quantize(colors=96).save(folder / f"{name}.png", optimize=True)


def test_camera_denied_explains_and_recovers(
    denied_browser: Callable[[Path], Browser],
    ship: Callable[..., ShippedOrder],
    buyer_token: str,
    live_api: str,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    order = ship()
    page = _page(denied_browser(_label_camera(order, tmp_path / "l.y4m")))
    page.goto(f"{live_api}/capture#token={buyer_token}")

    expect(page.locator("#camera-denied")).to_be_visible()
    expect(page.locator("#camera-denied-text")).to_contain_text("Allow")
    expect(page.locator("#camera-status")).to_contain_text("blocked")
    expect(page.locator("#camera-live")).to_contain_text("blocked")  # announced
    # The pasted label code still opens the session, but never "camera on".
    page.fill("#typed-code", _label_text(order))
    page.click("#typed-go")
    expect(page.locator("#order-id")).to_have_text(order.order_id)
    # A pasted code is said to be typed, never "official label" (issue 18 §4).
    expect(page.locator("#order-badge")).to_have_text("code typed, not scanned")
    expect(page.locator("#camera-status")).not_to_contain_text("Camera on")
    expect(page.locator("#take-photo")).to_be_disabled()
    expect(page.locator("#record")).to_be_disabled()
    _shot(page, artifacts, "capture-phone-camera-denied")

    page.context.grant_permissions(["camera"], origin=live_api)
    page.click("#camera-retry")
    expect(page.locator("#camera-denied")).to_be_hidden()
    expect(page.locator("#take-photo")).to_be_enabled()
    expect(page.locator("#camera-status")).to_contain_text("Camera on")
    page.click("#take-photo")
    expect(page.locator('.capture[data-status="sealed"]')).to_have_count(1)


def _ship_with_items(
    platform: PlatformClient, station: StationClient, work: Path, buyer_id: str = BUYER_ID
) -> ShippedOrder:
    """An order with two item lines (one SKU shaped like markup would be refused: ids only)."""
    order_id = f"ORD-LANG-{secrets.token_hex(3).upper()}"
    platform.call(
        "POST",
        "/v1/orders",
        json={
            "order_id": order_id,
            "buyer_id": buyer_id,
            "items": [
                {"sku": HOSTILE_SKU, "quantity": 2},
                {"sku": "BULB-E27", "quantity": 1},
            ],
            "declared_value": "49.00",
            "currency": "USD",
        },
    )
    session = station.open_session(order_id)
    station.upload(session, make_jpeg(work / "p.jpg", seed=9, caption=order_id), title="p.jpg")
    station.close(session)
    return ShippedOrder(order_id, buyer_id, station.label_png(order_id))


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"], ids=["zh-CN", "en"])
def test_the_page_speaks_the_browsers_language_with_a_switch(
    locale: str,
    launch: Callable[[Path], Browser],
    platform: PlatformClient,
    station: StationClient,
    buyer_token: str,
    live_api: str,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    order = _ship_with_items(platform, station, tmp_path)
    page = _page(launch(_label_camera(order, tmp_path / "l.y4m")), locale=locale)
    page.goto(f"{live_api}/capture#token={buyer_token}")
    expect(page.locator("#order-id")).to_have_text(order.order_id)
    lang = "zh-CN" if locale == "zh-CN" else "en"
    assert page.evaluate("document.documentElement.lang") == lang
    expect(page.locator("#language")).to_have_value(lang)
    # The order's items, shown at scan time; the video limit from the server's setting.
    expect(page.locator("#order-items li")).to_have_count(2)
    expect(page.locator("#order-items")).to_contain_text(f"2 \u00d7 {HOSTILE_SKU}")
    expect(page.locator("#video-limit")).to_contain_text("2:00")
    if lang == "zh-CN":
        expect(page.locator("#take-photo")).to_have_text("拍照")
        expect(page.locator("#camera-status")).to_contain_text("相机已开启")
    else:
        expect(page.locator("#take-photo")).to_have_text("Take photo")
    page.click("#take-photo")
    expect(page.locator('.capture[data-status="sealed"]')).to_have_count(1)
    _shot(page, artifacts, f"capture-phone-order-{lang}")
    page.click("#finish")
    expect(page.locator("#result-sealed .thumb img")).to_have_count(1)
    # No jargon on the main view: the file type and hash are folded in <details>.
    main_text = page.locator("#result-sealed li .meta > strong").first.inner_text()
    assert "image/jpeg" not in main_text
    assert not page.locator("#result-sealed details.tech code").first.is_visible()
    _shot(page, artifacts, f"capture-phone-result-{lang}")

    # The visible switch: the other language, kept for the next visit.
    other = "en" if lang == "zh-CN" else "zh-TW"
    page.select_option("#language", other)
    expect(page.locator("#result-title")).to_have_text("✓ Sealed" if other == "en" else "✓ 已封存")
    assert page.evaluate("localStorage.getItem('orderseal.language')") == other


def test_a_scam_card_warns_in_chinese_with_the_platform_help_link(
    launch: Callable[[Path], Browser],
    buyer_token: str,
    live_api: str,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    card: Image.Image = qrcode.make("https://after-sales-refund.example/claim").get_image()
    camera = write_y4m(tmp_path / "scam.y4m", (scene_with(card, index=i) for i in range(12)))
    page = _page(launch(camera), locale="zh-CN")
    page.goto(f"{live_api}/capture#token={buyer_token}")
    warning = page.locator("#step-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("不要通过它联系任何人")
    expect(page.locator("#warning-help")).to_have_attribute("href", HELP_URL)
    _shot(page, artifacts, "capture-phone-scam-zh-CN")

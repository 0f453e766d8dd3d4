"""The buyer page never loses a capture (issue 18 §3), in real Chromium with a fake camera.

Every capture waits in IndexedDB until the server sealed it. The connection is cut while
uploads are under way (Playwright aborts the requests, or the whole context goes offline),
the page is reloaded and the tab closed with captures pending; each time every capture ends
sealed exactly once, Finish waits for them and names the ones not sealed yet.

Adversary: a tampered IndexedDB entry. The page resends what it stored, and the server
verifies the device's signature over the statement, the content hash and the session:
edited bytes are refused (``401 credentials_forged``: the body does not match the signed
hash) and never sealed, while the buyer stays signed in.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route, expect

from orderseal.services import Services
from tests.browser.conftest import ShippedOrder
from tests.support.y4m import scene_with, write_y4m

pytestmark = pytest.mark.backend_independent

PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 30_000


def _label_camera(order: ShippedOrder, path: Path) -> Path:
    label = Image.open(io.BytesIO(order.label_png))
    top = label.crop((0, 0, label.width, int(label.height * 0.9)))
    return write_y4m(path, (scene_with(top, index=i) for i in range(12)))


class _Cut:
    """Abort every evidence upload while ``on``; count what reached the server."""

    def __init__(self) -> None:
        self.on = False
        self.aborted = 0

    def __call__(self, route: Route) -> None:
        if route.request.method == "PUT" and self.on:
            self.aborted += 1
            route.abort("internetdisconnected")
            return
        route.continue_()


def _open(browser: Browser, base_url: str, token: str) -> tuple[Page, _Cut]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    cut = _Cut()
    context.route("**/v1/receipt-sessions/*/evidence", cut)
    page.goto(f"{base_url}/capture#token={token}")
    return page, cut


def _receipt_titles(services: Services, order_id: str) -> list[str]:
    return sorted(row.title for row in services.ledger.evidence_for_order(order_id, "receipt"))


def test_connection_cut_during_upload_then_restored(
    launch: Callable[[Path], Browser],
    ship: Callable[..., ShippedOrder],
    buyer_token: str,
    live_api: str,
    services: Services,
    tmp_path: Path,
) -> None:
    order = ship()
    page, cut = _open(launch(_label_camera(order, tmp_path / "l.y4m")), live_api, buyer_token)
    expect(page.locator("#order-id")).to_have_text(order.order_id)

    cut.on = True
    page.click("#take-photo")
    photo = page.locator(".capture").nth(0)
    expect(photo).to_have_attribute("data-status", "waiting")
    expect(photo.locator("button.retry")).to_be_visible()
    # Finish does not silently leave it out: it is disabled and names what is not sealed.
    expect(page.locator("#finish")).to_be_disabled()
    expect(page.locator("#finish-note")).to_contain_text("unboxing-photo-1.jpg")
    expect(page.locator("#upload-live")).to_contain_text("unboxing-photo-1.jpg")
    stored = page.evaluate(
        """() => new Promise((resolve) => {
            const open = indexedDB.open("orderseal");
            open.onsuccess = () => {
              const all = open.result.transaction("captures").objectStore("captures").getAll();
              all.onsuccess = () => resolve(all.result.map((r) => [r.title, r.blob.size > 0]));
            };
        })"""
    )
    assert stored == [["unboxing-photo-1.jpg", True]]

    cut.on = False
    photo.locator("button.retry").click()  # the visible retry button
    expect(photo).to_have_attribute("data-status", "sealed")

    # The whole context offline, then back online: the "online" event retries at once.
    page.context.set_offline(True)
    page.click("#take-photo")
    second = page.locator(".capture").nth(1)
    expect(second).to_have_attribute("data-status", "waiting")
    page.context.set_offline(False)
    expect(second).to_have_attribute("data-status", "sealed")

    page.click("#finish")
    expect(page.locator("#step-result")).to_be_visible()
    expect(page.locator("#result-sealed li")).to_have_count(2)
    assert cut.aborted >= 1
    assert _receipt_titles(services, order.order_id) == [
        "unboxing-photo-1.jpg",
        "unboxing-photo-2.jpg",
    ]


def test_reload_and_closed_tab_with_captures_pending(
    launch: Callable[[Path], Browser],
    ship: Callable[..., ShippedOrder],
    buyer_token: str,
    live_api: str,
    services: Services,
    tmp_path: Path,
) -> None:
    order = ship()
    browser = launch(_label_camera(order, tmp_path / "l.y4m"))
    page, cut = _open(browser, live_api, buyer_token)
    expect(page.locator("#order-id")).to_have_text(order.order_id)
    session_id = page.evaluate("sessionStorage.getItem('orderseal.receiptSession')")

    cut.on = True
    page.click("#take-photo")
    expect(page.locator(".capture").nth(0)).to_have_attribute("data-status", "waiting")

    # Reload: the same session comes back (no new one opened), with its pending capture.
    page.reload()
    expect(page.locator("#step-order")).to_be_visible()
    expect(page.locator("#order-id")).to_have_text(order.order_id)
    assert page.evaluate("sessionStorage.getItem('orderseal.receiptSession')") == session_id
    pending = page.locator('.capture[data-title="unboxing-photo-1.jpg"]')
    expect(pending).to_have_attribute("data-status", "waiting")
    page.click("#take-photo")  # numbering continues after the restored capture
    expect(page.locator('.capture[data-title="unboxing-photo-2.jpg"]')).to_have_count(1)

    # Close the tab with both pending; a new tab (sessionStorage gone) signs in by link.
    page.close()
    cut.on = False
    page = page.context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_api}/capture#token={buyer_token}")
    expect(page.locator("#order-id")).to_have_text(order.order_id)
    expect(page.locator('.capture[data-status="sealed"]')).to_have_count(2)
    page.click("#finish")
    expect(page.locator("#result-sealed li")).to_have_count(2)
    # Thumbnails of the sealed copies, a download link, technical detail folded away.
    expect(page.locator("#result-sealed .thumb img")).to_have_count(2)
    expect(page.locator("#result-sealed a[download]").first).to_be_visible()
    expect(page.locator("#result-sealed details.tech").first).not_to_have_attribute("open", "")
    assert "SHA-256" not in page.locator("#result-sealed li strong").first.inner_text()
    assert _receipt_titles(services, order.order_id) == [
        "unboxing-photo-1.jpg",
        "unboxing-photo-2.jpg",
    ]

    # A reload after Finish keeps the receipt: listed under "my sealed receipts".
    page.reload()
    receipts = page.locator("#step-receipts")
    expect(receipts).to_be_visible()
    entry = receipts.locator(f'li[data-session="{session_id}"]')
    expect(entry).to_contain_text(order.order_id)
    entry.locator("button").click()
    expect(page.locator("#step-result")).to_be_visible()
    expect(page.locator("#result-order")).to_have_text(order.order_id)


def test_a_tampered_stored_capture_is_refused_not_sealed(
    launch: Callable[[Path], Browser],
    ship: Callable[..., ShippedOrder],
    buyer_token: str,
    live_api: str,
    services: Services,
    tmp_path: Path,
) -> None:
    order = ship()
    page, cut = _open(launch(_label_camera(order, tmp_path / "l.y4m")), live_api, buyer_token)
    expect(page.locator("#order-id")).to_have_text(order.order_id)
    cut.on = True
    page.click("#take-photo")
    expect(page.locator(".capture").nth(0)).to_have_attribute("data-status", "waiting")
    # Someone with the phone swaps the stored bytes for another picture.
    page.evaluate(
        """() => new Promise((resolve) => {
            const open = indexedDB.open("orderseal");
            open.onsuccess = () => {
              const tx = open.result.transaction("captures", "readwrite");
              const store = tx.objectStore("captures");
              const all = store.getAll();
              all.onsuccess = () => {
                const record = all.result[0];
                record.blob = new Blob([new Uint8Array(2048).fill(7)], { type: "image/jpeg" });
                store.put(record).onsuccess = () => resolve(true);
              };
            };
        })"""
    )
    cut.on = False
    page.reload()  # the restored capture is sent at once
    refused = page.locator(".capture").nth(0)
    expect(refused).to_have_attribute("data-status", "refused")
    expect(page.locator("#finish-note")).to_contain_text("unboxing-photo-1.jpg")
    assert _receipt_titles(services, order.order_id) == []

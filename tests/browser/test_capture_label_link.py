"""The label's QR opened by the phone's camera, typed codes, and each QR state (issue 18 §4, §7).

- A phone camera or WeChat opens ``<base>/capture#t=<label token>``: the page drops the
  fragment from the address bar at once, signs in if needed, then checks that label and
  opens its session straight away (sealed as ``link``), also when a scanner app reuses an
  open tab (only the fragment changes).
- A code typed into "The code will not scan?" opens a session the page marks as typed: it
  never says "official label" or "Label scanned" over it.
- Each QR state in the browser: official, my expired label, another account's genuine label,
  a revoked key's label; phone-sized (390 x 844) zh-CN screenshots of the buyer page (scan,
  recording, my receipts) and of the states, copied small with ``make screenshots``.

Adversaries: a forged token or another account's genuine label in the label link opens no
session; a revoked key's label warns as a scam card does (with the help link).
"""

from __future__ import annotations

import io
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from capture.label_url import label_url
from capture.qr import render_label_png
from capture.tokens import issue_label_token
from clients.client import PlatformClient
from infra.settings import Settings
from orderseal.services import Services
from tests.browser.conftest import ShippedOrder
from tests.browser.test_capture_states import _label_camera, _label_text, _page, _shot
from tests.conftest import make_settings
from tests.support import flows
from tests.support.keys_cli import check_keys
from tests.support.y4m import scene_with, write_y4m

pytestmark = pytest.mark.backend_independent

HELP_URL = "https://help.platform.example/after-sales"
VIDEO_SECONDS = 12


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    """The module's settings: the platform help page, and a 12-second video limit so the
    warning before the stop and the stop itself are seen within a test."""
    return make_settings(
        module_home,
        database_url=database_url,
        buyer_help_url=HELP_URL,
        buyer_video_seconds=VIDEO_SECONDS,
        **storage_overrides,
    )


@dataclass(frozen=True)
class Buyer:
    """A buyer of this test alone (a buyer keeps at most 5 active devices, one per browser)."""

    buyer_id: str
    token: str


@pytest.fixture
def buyer(platform: PlatformClient) -> Buyer:
    buyer_id = f"buyer-web-{secrets.token_hex(3)}"
    return Buyer(buyer_id, flows.buyer_token_response(platform, buyer_id)["token"])


def _opened_sessions(page: Page) -> list[str]:
    opened: list[str] = []
    page.on(
        "request",
        lambda r: (
            opened.append(r.post_data or "") if r.url.endswith("/v1/receipt-sessions") else None
        ),
    )
    return opened


def _session_id(page: Page) -> str:
    value: str = page.evaluate("sessionStorage.getItem('orderseal.receiptSession')")
    return value


def _entry(page: Page, services: Services) -> str | None:
    """How the page's open receipt session got its label token, as the ledger records it."""
    session = services.ledger.get_session(_session_id(page))
    assert session is not None
    return session.label_entry


def _expired_token(services: Services, order_id: str) -> str:
    """A genuine label of ``order_id`` that expired a second ago."""
    return issue_label_token(
        services.capture.sealer.signer,
        order_id=order_id,
        session_id="ss_old",
        now=services.clock() - timedelta(days=1, seconds=1),
        ttl=timedelta(days=1),
    )


def _camera_on(label_png: bytes, path: Path) -> Path:
    label = Image.open(io.BytesIO(label_png))
    top = label.crop((0, 0, label.width, int(label.height * 0.9)))
    return write_y4m(path, (scene_with(top, index=i) for i in range(12)))


def test_a_label_link_opens_its_session_after_sign_in_and_leaves_the_address_bar(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    buyer: Buyer,
    live_api: str,
    services: Services,
) -> None:
    order = ship(buyer.buyer_id)
    link = _label_text(order)  # what the phone's camera reads off the printed label
    assert link.startswith(f"{live_api}/capture#t=")
    page = _page(launch())  # the default fake camera: no QR in view, nothing to scan
    opened = _opened_sessions(page)
    page.goto(link)
    expect(page.locator("#step-signin")).to_be_visible()
    assert "#" not in page.url  # gone before anything else happens
    page.fill("#token", buyer.token)
    page.click("#signin")
    expect(page.locator("#order-id")).to_have_text(order.order_id)
    expect(page.locator("#order-badge")).to_have_text("official label")
    assert _entry(page, services) == "link"  # sealed as opened from the label link
    assert len(opened) == 1
    assert '"entry":"link"' in opened[0]
    assert "#" not in page.url


def test_a_label_link_into_an_open_tab_checks_that_label(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    buyer: Buyer,
    live_api: str,
    services: Services,
    tmp_path: Path,
) -> None:
    first, second = ship(buyer.buyer_id), ship(buyer.buyer_id)
    page = _page(launch(_camera_on(first.label_png, tmp_path / "first.y4m")))
    page.goto(f"{live_api}/capture#token={buyer.token}")
    expect(page.locator("#order-id")).to_have_text(first.order_id)
    assert _entry(page, services) == "scanned"  # by the page's own camera
    page.goto(_label_text(second))  # same document: only the fragment changes
    expect(page.locator("#order-id")).to_have_text(second.order_id)
    assert _entry(page, services) == "link"
    assert "#" not in page.url


@pytest.mark.parametrize("lure", ["forged", "another-account"])
def test_a_label_link_that_is_not_mine_opens_nothing(
    lure: str,
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    buyer: Buyer,
    live_api: str,
) -> None:
    if lure == "forged":
        prefix, body, _ = _label_text(ship(buyer.buyer_id)).split("#t=")[1].split(".")
        link = f"{live_api}/capture#token={buyer.token}&t={prefix}.{body}.{'A' * 86}"
    else:
        theirs = _label_text(ship(buyer_id="buyer-web-family"))
        link = theirs.replace("#t=", f"#token={buyer.token}&t=")
    page = _page(launch())
    opened = _opened_sessions(page)
    page.goto(link)
    expect(page.locator("#step-warning")).to_be_visible()
    if lure == "forged":
        expect(page.locator("#warning-scam")).to_be_visible()
        expect(page.locator("#warning-help")).to_have_attribute("href", HELP_URL)
    else:
        expect(page.locator("#warning-scam")).to_be_hidden()
    expect(page.locator("#step-order")).to_be_hidden()
    assert opened == []
    assert "#" not in page.url


def test_a_typed_code_is_shown_as_typed_never_as_scanned(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    buyer: Buyer,
    live_api: str,
    services: Services,
    artifacts: Path,
) -> None:
    order = ship(buyer.buyer_id)
    page = _page(launch())
    opened = _opened_sessions(page)
    page.goto(f"{live_api}/capture#token={buyer.token}")
    page.click("#typed summary")
    page.fill("#typed-code", _label_text(order))
    page.click("#typed-go")
    expect(page.locator("#order-id")).to_have_text(order.order_id)
    badge = page.locator("#order-badge")
    expect(badge).to_have_text("code typed, not scanned")
    expect(badge).to_have_class("badge warn")
    assert _entry(page, services) == "typed"
    assert '"entry":"typed"' in opened[0]
    page.click("#take-photo")
    expect(page.locator('.capture[data-status="sealed"]')).to_have_count(1)
    page.click("#finish")
    chain = page.locator("#result-chain")
    expect(chain).to_contain_text("Label code typed (not scanned)")
    expect(chain).not_to_contain_text("Label scanned")
    _shot(page, artifacts, "capture-phone-typed-result-en")


def test_the_zh_cn_page_scan_recording_and_my_receipts(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    buyer: Buyer,
    live_api: str,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    order = ship(buyer.buyer_id)
    page = _page(launch(_label_camera(order, tmp_path / "l.y4m")), locale="zh-CN")
    page.goto(f"{live_api}/capture#token={buyer.token}")
    expect(page.locator("#order-id")).to_have_text(order.order_id)
    expect(page.locator("#order-badge")).to_have_text("官方标签")
    expect(page.locator("#video-limit")).to_contain_text("0:12")  # visible before recording
    _shot(page, artifacts, "capture-phone-official-zh-CN")
    page.click("#record")
    expect(page.locator("#rec")).to_be_visible()
    # Under 10 s left: the page warns before it stops (here from the start).
    expect(page.locator("#rec-note")).to_contain_text("秒后停止")
    expect(page.locator("#rec-time")).to_contain_text("/ 0:12")
    time.sleep(1.5)
    _shot(page, artifacts, "capture-phone-recording-zh-CN")
    page.click("#record")
    expect(page.locator('.capture[data-status="sealed"]')).to_have_count(1)
    page.click("#finish")
    expect(page.locator("#result-sealed .thumb video")).to_have_count(1)
    page.reload()  # my receipts come back from this browser's store
    expect(page.locator("#receipts-list li")).to_have_count(1)
    expect(page.locator("#receipts-list")).to_contain_text(order.order_id)
    _shot(page, artifacts, "capture-phone-receipts-zh-CN")


def test_recording_stops_at_the_limit_and_says_so(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    buyer: Buyer,
    live_api: str,
    tmp_path: Path,
) -> None:
    order = ship(buyer.buyer_id)
    page = _page(launch(_label_camera(order, tmp_path / "l.y4m")))
    page.goto(f"{live_api}/capture#token={buyer.token}")
    expect(page.locator("#video-limit")).to_contain_text("0:12")
    page.click("#record")
    expect(page.locator("#rec-note")).to_contain_text("Recording stops in")
    expect(page.locator("#rec")).to_be_hidden(timeout=(VIDEO_SECONDS + 10) * 1000)
    expect(page.locator("#rec-note")).to_contain_text("stopped at the 0:12 limit")
    expect(page.locator('.capture[data-status="sealed"]')).to_have_count(1)


def test_the_scan_view_in_zh_cn(
    launch: Callable[..., Browser], buyer: Buyer, live_api: str, artifacts: Path
) -> None:
    page = _page(launch(), locale="zh-CN")  # nothing to scan: the view waits
    page.goto(f"{live_api}/capture#token={buyer.token}")
    expect(page.locator("#step-scan")).to_be_visible()
    expect(page.locator("#camera-status")).not_to_be_empty()
    _shot(page, artifacts, "capture-phone-scan-zh-CN")


def test_my_expired_label_is_not_a_scam_card(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    services: Services,
    settings: Settings,
    buyer: Buyer,
    live_api: str,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    order = ship(buyer.buyer_id)
    token = _expired_token(services, order.order_id)
    label = render_label_png(token, order_id=order.order_id, base_url=settings.base_url)
    page = _page(launch(_camera_on(label, tmp_path / "expired.y4m")), locale="zh-CN")
    opened = _opened_sessions(page)
    page.goto(f"{live_api}/capture#token={buyer.token}")
    expect(page.locator("#step-warning")).to_be_visible()
    expect(page.locator("#warning-title")).to_have_text("此标签已过期")
    expect(page.locator("#warning-scam")).to_be_hidden()
    expect(page.locator("#step-warning")).not_to_have_class(re.compile(r"\bscam\b"))
    assert opened == []
    _shot(page, artifacts, "capture-phone-expired-zh-CN")


def test_another_accounts_label_says_so_in_zh_cn(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    buyer: Buyer,
    live_api: str,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    theirs = ship(buyer_id="buyer-web-family")
    page = _page(launch(_label_camera(theirs, tmp_path / "other.y4m")), locale="zh-CN")
    page.goto(f"{live_api}/capture#token={buyer.token}")
    expect(page.locator("#warning-title")).to_have_text("此包裹属于另一个账号")
    expect(page.locator("#warning-scam")).to_be_hidden()
    expect(page.locator("#warning-text")).not_to_contain_text(theirs.order_id)
    _shot(page, artifacts, "capture-phone-other-account-zh-CN")


def test_a_revoked_keys_label_warns_as_a_scam_card_does(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    services: Services,
    settings: Settings,
    buyer: Buyer,
    live_api: str,
    tmp_path: Path,
) -> None:
    """Last in the module: the module's sealing key is revoked from here on."""
    order = ship(buyer.buyer_id)
    serial = format(services.capture.sealer.signer.certificate_chain[0].serial_number, "x")
    check_keys(settings, "revoke-service", serial, "--reason", "key_compromise")
    page = _page(launch(_label_camera(order, tmp_path / "revoked.y4m")))
    opened = _opened_sessions(page)
    page.goto(f"{live_api}/capture#token={buyer.token}")
    expect(page.locator("#warning-title")).to_have_text("This label can no longer be used")
    expect(page.locator("#warning-scam")).to_be_visible()
    expect(page.locator("#warning-help")).to_have_attribute("href", HELP_URL)
    assert opened == []
    # The label link of the same label is refused the same way.
    linked = _page(launch())
    opened_by_link = _opened_sessions(linked)
    link = label_url(live_api, _label_text(order).split("#t=")[1])
    linked.goto(link.replace("#t=", f"#token={buyer.token}&t="))
    expect(linked.locator("#warning-title")).to_have_text("This label can no longer be used")
    assert opened_by_link == []

"""The page's part of "the parcel was in the shot" (issue 19 §2), in Chromium's fake camera.

Before and while a receipt video records, the buyer page asks for the label in view and, from
the live camera, says whether this session's own label has been seen (label_cue.js). It is
advice: each test also reads the seal's own sighting, which is what the verifier counts.

Adversary: a buyer holds up another parcel's genuine label (their own other order) while
recording the session opened with the first label: the page never says "seen", nor does the
seal. The cue's decoding is bounded (at most ~4 frames a second) and stops with the recording.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from clients.client import PlatformClient
from evidence.manifest import ASSERTION_LABEL
from evidence.reader import TrustSettings, read_evidence
from orderseal.samples import label_in_view
from orderseal.services import Services
from tests.browser.conftest import ShippedOrder
from tests.browser.test_capture_states import _label_text, _page
from tests.support import flows
from tests.support.y4m import scene_with, write_y4m

pytestmark = pytest.mark.backend_independent

RECORD_SECONDS = 3.0
#: label_cue.js decodes at most once every 250 ms.
MAX_DECODES_PER_SECOND = 4


@dataclass(frozen=True)
class Buyer:
    """A buyer of this test alone (a buyer keeps at most 5 active devices, one per browser)."""

    buyer_id: str
    token: str


@pytest.fixture
def buyer(platform: PlatformClient) -> Buyer:
    buyer_id = f"buyer-cue-{secrets.token_hex(3)}"
    return Buyer(buyer_id, flows.buyer_token_response(platform, buyer_id)["token"])


def _camera_on(order: ShippedOrder, path: Path) -> Path:
    """A fake camera looking at ``order``'s printed label."""
    label = label_in_view(order.label_png)
    return write_y4m(path, (scene_with(label, index=i) for i in range(12)))


def _open_by_link(page: Page, live_api: str, buyer: Buyer, order: ShippedOrder) -> None:
    """Open ``order``'s session as the label's QR link does (nothing scanned by the page)."""
    page.goto(_label_text(order).replace("#t=", f"#token={buyer.token}&t="))
    expect(page.locator("#order-id")).to_have_text(order.order_id)


def _cue_stats(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] = page.evaluate("window.OrderSealLabelCue.stats()")
    return stats


def _record(page: Page, during: Callable[[], None] = lambda: None) -> None:
    """Record for RECORD_SECONDS, ``during`` checked while recording; checks the decode bound."""
    page.click("#record")
    expect(page.locator("#rec")).to_be_visible()
    started, first = time.monotonic(), _cue_stats(page)["decodes"]
    assert _cue_stats(page)["running"] is True
    during()
    time.sleep(max(0.0, RECORD_SECONDS - (time.monotonic() - started)))
    window, decoded = time.monotonic() - started, _cue_stats(page)["decodes"] - first
    assert 1 <= decoded <= MAX_DECODES_PER_SECOND * window + 1
    expect(page.locator("#label-cue-status")).to_be_visible()
    page.click("#record")
    expect(page.locator("#rec")).to_be_hidden()


def _stopped_with_the_recording(page: Page) -> None:
    stats = _cue_stats(page)
    assert stats["running"] is False
    time.sleep(1.0)
    assert _cue_stats(page)["decodes"] == stats["decodes"]


def _sealed_sighting(
    page: Page, live_api: str, buyer: Buyer, order: ShippedOrder, services: Services, out: Path
) -> dict[str, Any]:
    """The label sighting the server sealed into the recorded video (what actually counts)."""
    expect(page.locator(".capture.sealed")).to_have_count(1)
    (row,) = services.ledger.evidence_for_order(order.order_id, "receipt")
    url = f"{live_api}/v1/receipt-sessions/{row.session_id}/evidence/{row.evidence_id}/file"
    response = httpx.get(url, headers={"Authorization": f"Bearer {buyer.token}"})
    out.write_bytes(response.raise_for_status().content)
    report = read_evidence(out, trust=TrustSettings(anchors_pem=services.keys.trust_list().pem))
    sighting: dict[str, Any] = report.active_manifest.assertions[ASSERTION_LABEL]["label_sighting"]
    return sighting


def test_the_label_in_view_is_seen_while_recording(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    buyer: Buyer,
    live_api: str,
    services: Services,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    order = ship(buyer.buyer_id)
    page = _page(launch(_camera_on(order, tmp_path / "label.y4m")))
    page.goto(f"{live_api}/capture#token={buyer.token}")  # the page scans the label itself
    expect(page.locator("#order-id")).to_have_text(order.order_id)
    hint = page.locator("#label-cue")
    expect(hint).to_be_visible()  # asked for before the recording starts
    expect(hint).to_have_attribute("data-i18n", "labelCue.hold")
    status = page.locator("#label-cue-status")
    expect(status).to_be_hidden()
    expect(status).to_have_attribute("role", "status")  # announced to screen readers

    def seen() -> None:
        expect(status).to_have_attribute("data-state", "seen")
        expect(status).to_have_attribute("data-i18n", "labelCue.seen")
        page.screenshot(path=str(artifacts / "capture-label-cue-seen.png"))

    _record(page, seen)
    expect(status).to_have_attribute("data-state", "seen")  # stays said after the stop
    _stopped_with_the_recording(page)
    sighting = _sealed_sighting(page, live_api, buyer, order, services, tmp_path / "s.mp4")
    assert sighting["seen"] is True


def test_without_the_label_it_is_not_seen(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    buyer: Buyer,
    live_api: str,
    services: Services,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    order = ship(buyer.buyer_id)
    page = _page(launch())  # Chromium's own test pattern: no label anywhere
    _open_by_link(page, live_api, buyer, order)
    status = page.locator("#label-cue-status")

    def not_seen() -> None:
        expect(status).to_have_attribute("data-state", "not-seen")
        expect(status).to_have_attribute("data-i18n", "labelCue.notYet")
        time.sleep(RECORD_SECONDS - 0.5)
        expect(status).to_have_attribute("data-state", "not-seen")
        page.screenshot(path=str(artifacts / "capture-label-cue-not-seen.png"))

    _record(page, not_seen)
    # Stopped without the label: the page says to record again.
    expect(status).to_have_attribute("data-state", "missed")
    _stopped_with_the_recording(page)
    sighting = _sealed_sighting(page, live_api, buyer, order, services, tmp_path / "s.mp4")
    assert sighting["seen"] is False


def test_another_parcels_label_in_view_does_not_count(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    buyer: Buyer,
    live_api: str,
    services: Services,
    tmp_path: Path,
) -> None:
    opened, other = ship(buyer.buyer_id), ship(buyer.buyer_id)  # both genuinely the buyer's
    page = _page(launch(_camera_on(other, tmp_path / "other.y4m")))
    _open_by_link(page, live_api, buyer, opened)
    status = page.locator("#label-cue-status")
    _record(page)
    expect(status).to_have_attribute("data-state", "missed")
    _stopped_with_the_recording(page)
    expect(page.locator("#order-id")).to_have_text(opened.order_id)  # no session switched
    sighting = _sealed_sighting(page, live_api, buyer, opened, services, tmp_path / "s.mp4")
    assert sighting["seen"] is False
    assert sighting["other_labels"] >= 1  # the other label was in the shot, and did not count

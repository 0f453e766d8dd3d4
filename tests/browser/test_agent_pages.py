"""Agent pages in a real browser: sign in with the agent key, read a dispute at a glance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, expect

from clients.client import PlatformClient
from orderseal.samples import make_jpeg
from tests.browser.conftest import ShippedOrder

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def test_agent_reads_decision_and_reasons_at_a_glance(
    launch: Callable[..., Browser],
    ship: Callable[..., ShippedOrder],
    platform: PlatformClient,
    credentials: dict[str, str],
    live_api: str,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    order = ship()
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
    unsigned = make_jpeg(tmp_path / "damage.jpg", seed=77, caption="no provenance")
    platform.attach_file(dispute["dispute_id"], unsigned, filename="damage.jpg")
    platform.call("POST", f"/v1/disputes/{dispute['dispute_id']}/decide")

    page = launch().new_context(viewport=DESKTOP).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(15_000)
    # An agent follows a link to the dispute, then signs in.
    page.goto(f"{live_api}/agent#dispute={dispute['dispute_id']}")
    page.fill("#key", "not-a-real-key")
    page.click("#signin-go")
    expect(page.locator("#error")).to_be_visible()  # refused: back to sign-in
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#report")).to_be_hidden()

    page.fill("#key", credentials["agent"])
    page.click("#signin-go")

    expect(page.locator("#decision .decision")).to_have_text("review")
    expect(page.locator("#verdict")).to_have_class("card verdict review")
    expect(page.locator("#reasons")).to_contain_text("no_manifest")
    expect(page.locator("#evidence")).to_contain_text("damage.jpg")
    page.screenshot(path=str(artifacts / "agent-desktop-report.png"), full_page=True)
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    page.screenshot(path=str(artifacts / "agent-phone-report.png"), full_page=True)

    page.click("#back")
    expect(page.locator("#list")).to_be_visible()
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    page.screenshot(path=str(artifacts / "agent-desktop-list.png"), full_page=True)

"""The agent report rendered in Debian's headless Chromium, with a screenshot kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from orderseal.samples import make_jpeg
from tests.support import flows

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def decided(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    work = tmp_path_factory.mktemp("report")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work, video=True)
    return flows.dispute(cast, order_id, flows.receive(cast, shipped, work, video=True))


def test_report_shows_media_side_by_side_checks_and_decision(
    launch: Callable[..., Browser],
    decided: dict[str, object],
    credentials: dict[str, str],
    artifacts: Path,
    live_api: str,
) -> None:
    browser = launch()
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        extra_http_headers={"Authorization": f"Bearer {credentials['agent']}"},
    )
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    # report_url is the agents' page; the server-rendered report is behind the agent key.
    response = page.goto(f"{live_api}/v1/disputes/{decided['dispute_id']}/report")
    assert response is not None
    assert response.status == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert page.locator("#decision").inner_text().strip().lower() == "allow"
    # The styles come from report.css under the CSP (an inline <style> would be refused).
    assert page.locator("#decision").evaluate("e => getComputedStyle(e).display") == (
        "inline-block"
    )
    # What the buyer submitted (here the sealed unboxing files) beside the sealed originals.
    submitted = page.locator("#media #submitted img")
    shipped = page.locator("#media #shipment img")
    received = page.locator("#media #receipt img")
    assert submitted.count() == 2
    assert shipped.count() == 2  # packing photo and video poster
    assert received.count() == 2
    for image in (*submitted.all(), *shipped.all(), *received.all()):
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator("#timeline tr").count() >= 8
    # Checks in plain words; the internal check name only once "technical detail" is opened.
    evidence = page.locator("section.evidence").first
    assert "links to this order's sealed packing" in evidence.inner_text()
    assert "chain" not in evidence.inner_text()
    evidence.locator("details summary").first.click()
    assert "check " in evidence.locator("details").first.inner_text()
    assert page.locator("#policy tr").count() >= 2
    page.screenshot(path=str(artifacts / "agent-report.png"), full_page=True)
    assert (artifacts / "agent-report.png").stat().st_size > 10_000
    assert not [text for text in refused if "Content Security Policy" in text]
    context.close()


def test_public_verify_page_checks_a_file_under_its_csp(
    launch: Callable[..., Browser], live_api: str, decided: dict[str, object], tmp_path: Path
) -> None:
    """The /verify page's script and styles are files of our origin, allowed by the CSP."""
    browser = launch()
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    response = page.goto(f"{live_api}/verify")
    assert response is not None
    assert response.status == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    plain = make_jpeg(tmp_path / "plain.jpg", seed=4, size=(200, 150))
    page.set_input_files("#file", str(plain))
    page.click("#check")
    result = page.locator("#result")
    result.locator("p").wait_for(timeout=30_000)
    assert result.get_attribute("class") == "bad"
    assert result.evaluate("e => getComputedStyle(e).borderTopLeftRadius") != "0px"
    assert not [text for text in refused if "Content Security Policy" in text]
    context.close()

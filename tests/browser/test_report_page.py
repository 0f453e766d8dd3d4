"""The agent report rendered in Debian's headless Chromium, with a screenshot kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.support import flows


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
) -> None:
    browser = launch()
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        extra_http_headers={"Authorization": f"Bearer {credentials['agent']}"},
    )
    page = context.new_page()
    response = page.goto(str(decided["report_url"]))
    assert response is not None
    assert response.status == 200
    assert page.locator("#decision").inner_text().strip().lower() == "allow"
    shipped = page.locator("#media section").nth(0).locator("img")
    received = page.locator("#media section").nth(1).locator("img")
    assert shipped.count() == 2  # packing photo and video poster
    assert received.count() == 2
    for image in (*shipped.all(), *received.all()):
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator("#timeline tr").count() >= 6
    assert "chain" in page.locator("section.evidence").first.inner_text()
    assert page.locator("#policy tr").count() >= 2
    page.screenshot(path=str(artifacts / "agent-report.png"), full_page=True)
    assert (artifacts / "agent-report.png").stat().st_size > 10_000
    context.close()

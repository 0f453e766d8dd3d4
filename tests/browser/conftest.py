"""Browser fixtures: Debian's Chromium driven by Playwright, with a Y4M file as the camera.

Chromium reads the fake camera file at launch, so each test launches its own browser with
the scene it needs. Under ``CI=true`` a missing Chromium fails the run; elsewhere it skips.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from playwright.sync_api import Browser, Playwright, expect, sync_playwright

from clients.client import DeviceKey, PlatformClient, StationClient
from orderseal.samples import make_jpeg, make_mp4
from tests.support import flows
from tests.support.paths import repo_root
from tests.support.require import missing

CHROMIUM = Path("/usr/lib/chromium/chromium")
# Playwright's assertions wait 5 s by default, apart from the page's own timeout; a 2-core CI
# host running three test workers needs longer for an upload to be sealed and shown.
EXPECT_TIMEOUT_MS = 30_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)
BUYER_ID = "buyer-web-2001"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


@dataclass(frozen=True)
class ShippedOrder:
    """An order packed and sealed by a real enrolled station, with its printed label."""

    order_id: str
    buyer_id: str
    label_png: bytes


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """Where screenshots are kept (``test-artifacts/``, gitignored)."""
    folder = repo_root() / "test-artifacts" / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """A Playwright driver for Debian's Chromium (no downloaded browsers)."""
    if not CHROMIUM.is_file():
        missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def launch(playwright: Playwright) -> Iterator[Callable[..., Browser]]:
    """Launch headless Chromium, with ``camera`` (a Y4M file) as its only camera if given."""
    browsers: list[Browser] = []

    def _launch(camera: Path | None = None) -> Browser:
        camera_args = [f"--use-file-for-fake-video-capture={camera}"] if camera else []
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *camera_args]
        )
        browsers.append(browser)
        return browser

    yield _launch
    for browser in browsers:
        browser.close()


@pytest.fixture(scope="module")
def platform(live_api: str, credentials: dict[str, str]) -> PlatformClient:
    """The platform's API client."""
    return PlatformClient(live_api, credentials["platform"])


@pytest.fixture(scope="module")
def station(live_api: str, credentials: dict[str, str]) -> StationClient:
    """A packing station enrolled the production way (its own key, CSR approved by admin)."""
    admin = PlatformClient(live_api, credentials["admin"])
    device = DeviceKey.generate(f"station-web-{secrets.token_hex(3)}")
    enrolled = admin.call(
        "POST",
        "/v1/devices",
        json={"device_id": device.device_id, "kind": "station", "csr_pem": device.csr_pem()},
    )
    certificate = x509.load_pem_x509_certificate(enrolled["certificate_pem"].encode())
    return StationClient(live_api, DeviceKey(device.device_id, device.private_key, certificate))


@pytest.fixture(scope="module")
def ship(
    platform: PlatformClient, station: StationClient, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., ShippedOrder]:
    """Register an order for the test buyer, pack it (photo + video) and print its label."""

    def _ship(buyer_id: str = BUYER_ID) -> ShippedOrder:
        order_id = f"ORD-WEB-{secrets.token_hex(3).upper()}"
        work = tmp_path_factory.mktemp(order_id)
        platform.call(
            "POST",
            "/v1/orders",
            json={
                "order_id": order_id,
                "buyer_id": buyer_id,
                "items": [{"sku": "LAMP-OAK-01", "quantity": 1}],
                "declared_value": "49.00",
                "currency": "USD",
                "carrier": "DemoPost",
                "tracking_number": f"DP{secrets.randbelow(10**9):09d}",
                "expected_delivery": (datetime.now(UTC) + timedelta(days=2)).date().isoformat(),
            },
        )
        session = station.open_session(order_id)
        photo = make_jpeg(work / "pack.jpg", seed=5, caption=f"{order_id} packing")
        station.upload(session, photo, title="pack.jpg")
        video = make_mp4(work / "pack.mp4", seed=6, seconds=1, caption=f"{order_id} packing")
        station.upload(session, video, title="pack.mp4")
        station.close(session)
        return ShippedOrder(order_id, buyer_id, station.label_png(order_id))

    return _ship


@pytest.fixture(scope="module")
def buyer_token(platform: PlatformClient) -> str:
    """A platform-issued token for the test buyer (what the shop's app hands the page)."""
    token: str = flows.buyer_token_response(platform, BUYER_ID)["token"]
    return token

"""The agent workspace (/agent), the seller page (/seller) and signed report links, in Chromium.

One server for the module; the flows share two merchants' shipped and disputed orders:

- an agent decides a ``review`` dispute on /agent (note required, keyboard shortcut) and the
  signed audit chain verifies afterwards (``orderseal audit verify``);
- merchant A sees only its own disputes on /seller (B's id answers like a missing one) and
  answers one; the agent sees that answer;
- a signed report link opens with no credentials, and stops after revocation and after expiry.

Adversaries, next to the honest paths: a buyer whose attached file is named with HTML/JS and a
merchant whose statement is HTML/JS (both must render as inert text on the agent's screen), a
merchant key used on /agent (refused, signed out), a report link used after revocation or
expiry (refused like a missing page).

Screenshots of both pages, desktop 1440 x 900 and phone 390 x 844, go to ``test-artifacts/browser``;
with ``ORDERSEAL_TEST_SCREENSHOTS=<folder>`` (``make screenshots``) small copies are also written
there (``test-artifacts/screenshots`` is checked in).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright, expect

from clients.client import DeviceKey, PlatformClient, StationClient
from infra.settings import Settings
from orderseal.samples import make_jpeg, make_mp4
from orderseal.services import Services, build_services
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support import flows
from tests.support.cli import run_main
from tests.support.paths import repo_root

pytestmark = pytest.mark.backend_independent

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
#: A buyer-chosen filename and a merchant statement that would run script if set as HTML.
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">.jpg'
HOSTILE_STATEMENT = (
    'Packed as ordered. <img src=x onerror="window.__pwned=2"><script>window.__pwned=3</script>'
)
#: The server's clock: the real time, or a frozen instant while the expiry test holds it.
_FROZEN: list[datetime | None] = [None]


def _clock() -> datetime:
    return _FROZEN[0] or datetime.now(UTC)


@pytest.fixture(scope="module")
def services(settings: Settings) -> Services:
    """The module's services on a clock the expiry test can hold still and move."""
    return replace(build_services(settings), clock=_clock)


@dataclass(frozen=True)
class Disputed:
    """A merchant's packed order and the dispute filed on it."""

    merchant_id: str
    order_id: str
    dispute_id: str
    decision: str


@dataclass(frozen=True)
class World:
    """Two merchants with their keys and a dispute on an order of each (A review, B block)."""

    a: Disputed
    b: Disputed
    merchant_keys: dict[str, str]
    platform: PlatformClient


def _cli(settings: Settings, *args: str) -> str:
    result = run_main(settings, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def _station(admin: PlatformClient, base_url: str, merchant_id: str) -> StationClient:
    device = DeviceKey.generate(f"station-{merchant_id}-{secrets.token_hex(3)}")
    enrolled = admin.call(
        "POST",
        "/v1/devices",
        json={
            "device_id": device.device_id,
            "kind": "station",
            "csr_pem": device.csr_pem(),
            "merchant_id": merchant_id,
        },
    )
    certificate = x509.load_pem_x509_certificate(enrolled["certificate_pem"].encode())
    return StationClient(base_url, DeviceKey(device.device_id, device.private_key, certificate))


def _disputed(
    admin: PlatformClient,
    platform: PlatformClient,
    station: StationClient,
    merchant_id: str,
    work: Path,
) -> Disputed:
    """Register, pack (photo + video), let the buyer seal the unboxing, and dispute the order
    with one unsealed claim photo (not the sealed unboxing: what the buyer chose to submit).

    The first dispute is ``review`` (``no_manifest``); the second reuses the same photo on
    another order, so it is ``block`` (``evidence_reused``) and names the first.
    """
    order_id = f"ORD-{merchant_id.upper()}-{secrets.token_hex(3).upper()}"
    buyer_id = f"buyer-{secrets.token_hex(3)}"
    platform.call(
        "POST",
        "/v1/orders",
        json={
            "order_id": order_id,
            "buyer_id": buyer_id,
            "merchant_id": merchant_id,
            "items": [{"sku": "LAMP-OAK-01", "quantity": 1}],
            "declared_value": "49.00",
            "currency": "USD",
            "expected_delivery": (datetime.now(UTC) + timedelta(days=2)).date().isoformat(),
        },
    )
    session = station.open_session(order_id)
    # Its own packing photo per order (the id's hex tail): the same bytes in a second order
    # are refused (409 capture_sealed_elsewhere).
    photo = make_jpeg(work / f"{order_id}.jpg", seed=int(order_id[-6:], 16), size=(320, 240))
    station.upload(session, photo, title="packing.jpg")
    clip = make_mp4(work / f"{order_id}.mp4", seed=6, seconds=1, size=(160, 120))
    station.upload(session, clip, title="packing.mp4")
    label = station.close(session)
    buyer = flows.Actors(
        str(station.http.base_url).rstrip("/"),
        platform,
        station,
        flows.enrol(admin, "buyer", buyer_id),
        buyer_id,
    )
    flows.receive(buyer, flows.Shipped(order_id, [], label["token"]), work)
    dispute = platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": buyer_id,
            "claim_type": "damaged",
            "amount": "49.00",
            "currency": "USD",
        },
    )
    claim = make_jpeg(work / f"{order_id}-claim.jpg", seed=77, caption="no provenance")
    platform.attach_file(dispute["dispute_id"], claim, filename=HOSTILE_NAME)
    decided = platform.call("POST", f"/v1/disputes/{dispute['dispute_id']}/decide")
    return Disputed(merchant_id, order_id, dispute["dispute_id"], decided["decision"])


@pytest.fixture(scope="module")
def world(
    settings: Settings,
    live_api: str,
    credentials: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> World:
    work = tmp_path_factory.mktemp("workspaces")
    admin = PlatformClient(live_api, credentials["admin"])
    platform = PlatformClient(live_api, credentials["platform"])
    keys: dict[str, str] = {}
    disputed: list[Disputed] = []
    for merchant_id in ("shop-a", "shop-b"):
        _cli(settings, "merchants", "add", merchant_id, "--name", merchant_id.title())
        keys[merchant_id] = _cli(
            settings,
            *("keys", "api", "add", "--role", "merchant", "--merchant", merchant_id),
            *("--subject", f"{merchant_id}-admin"),
        )
        station = _station(admin, live_api, merchant_id)
        disputed.append(_disputed(admin, platform, station, merchant_id, work))
    assert [d.decision for d in disputed] == ["review", "block"]
    return World(disputed[0], disputed[1], keys, platform)


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium for the module (each test opens its own contexts)."""
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


def _page(browser: Browser, viewport: dict[str, int] = DESKTOP) -> Page:
    context = browser.new_context(viewport=viewport, timezone_id="Europe/Berlin")  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(20_000)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    page.on("pageerror", lambda error: refused.append(str(error)))
    page.refused = refused  # type: ignore[attr-defined]
    return page


def _no_csp_refusal(page: Page) -> None:
    assert not [t for t in page.refused if "Content Security Policy" in t]  # type: ignore[attr-defined]


def _sign_in(page: Page, key: str) -> None:
    page.fill("#key", key)
    page.click("#signin-go")


def _media_loaded(page: Page, scope: str) -> None:
    """Every picture of ``scope`` decoded and every video's metadata loaded (from blob: URLs)."""
    page.wait_for_function(
        """scope => {
            const root = document.querySelector(scope);
            const imgs = [...root.querySelectorAll('img')];
            const videos = [...root.querySelectorAll('video')];
            return root.querySelectorAll('.media-frame .small').length === 0
              && imgs.every(i => i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'))
              && videos.every(v => v.readyState >= 1 && v.src.startsWith('blob:'));
        }""",
        arg=scope,
    )


def _shoot(page: Page, artifacts: Path, name: str, *, at: str | None = None) -> None:
    """A viewport screenshot (from the top, or from ``at``); a small palette copy for the
    checked-in folder when asked."""
    path = artifacts / f"{name}.png"
    if at is None:
        page.evaluate("window.scrollTo(0, 0)")
    else:
        page.locator(at).evaluate("e => e.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    keep = os.environ.get("ORDERSEAL_TEST_SCREENSHOTS")
    if keep:
        folder = repo_root() / keep
        folder.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as shot:
            small = shot.convert("RGB").quantize(colors=96)
            small.save(folder / f"{name}.png", optimize=True)


def _usable(page: Page) -> None:
    """Every visible form control has a label, and nothing is wider than the viewport."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.offsetParent !== null && e.type !== 'hidden')
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.id || e.name)"""
    )
    assert unlabelled == []
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1]


def _xss_inert(page: Page) -> None:
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("img[onerror], script:not([src])").count() == 0


# ---- the agent decides ---------------------------------------------------------------------
def test_agent_decides_a_review_and_the_audit_chain_verifies(
    browser: Browser,
    world: World,
    credentials: dict[str, str],
    live_api: str,
    settings: Settings,
    artifacts: Path,
) -> None:
    page = _page(browser)
    page.goto(f"{live_api}/agent")
    # A merchant key is not an agent key: refused, signed out, nothing shown.
    _sign_in(page, world.merchant_keys["shop-a"])
    expect(page.locator("#error")).to_contain_text("not an agent key")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#list")).to_be_hidden()

    _sign_in(page, credentials["agent"])
    row = page.locator(f'#disputes tr[data-id="{world.a.dispute_id}"]')
    expect(row).to_be_visible()
    # Search by order finds exactly that dispute.
    page.fill("#f-order", world.a.order_id)
    page.click("#filters button[type=submit]")
    expect(page.locator("#disputes tbody tr")).to_have_count(1)
    row.locator("a").click()

    expect(page.locator("#decision .decision")).to_have_text("review")
    # The buyer's file beside the sealed originals: picture, picture and playable video.
    expect(page.locator("#submitted figure")).to_have_count(1)
    expect(page.locator("#submitted figcaption strong")).to_have_text(HOSTILE_NAME)
    expect(page.locator("#shipment video")).to_have_count(1)
    expect(page.locator("#receipt img")).to_have_count(1)  # the buyer's own sealed unboxing
    _media_loaded(page, "#workspace")
    assert page.locator("#shipment video").get_attribute("controls") is not None
    # Checks in plain words; the reason code one click away.
    failed = page.locator("#checks li.fail").first
    expect(failed).to_contain_text("carries Content Credentials")
    expect(failed.locator("details")).not_to_have_attribute("open", "")
    failed.locator("summary").click()
    expect(failed.locator("details")).to_contain_text("no_manifest")
    # Local time shown, UTC on hover.
    filed = page.locator("#w-times time").first
    assert (filed.get_attribute("title") or "").endswith(" UTC")
    expect(filed).to_contain_text("GMT+1")  # the context's zone is Europe/Berlin
    expect(page.locator("#trace tr").first).to_be_visible()
    expect(page.locator("#timeline li[data-event=packed]")).to_have_count(2)  # photo, video
    _xss_inert(page)
    _usable(page)
    _shoot(page, artifacts, "agent-workspace-desktop")

    # The decision needs a note: the buttons stay disabled until one is typed.
    expect(page.locator("button.act[data-action=deny]")).to_be_disabled()
    page.locator("body").press("d")  # shortcut: deny, focus in the note
    expect(page.locator("#note")).to_be_focused()
    expect(page.locator("button.act[data-action=deny]")).to_have_attribute("aria-pressed", "true")
    page.keyboard.type("Photo carries no seal; the packing video shows the lamp intact.")
    expect(page.locator("button.act[data-action=deny]")).to_be_enabled()
    # Focus order: from the note straight to the decision buttons, and back.
    page.keyboard.press("Tab")
    expect(page.locator("button.act[data-action=approve]")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#note")).to_be_focused()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#status")).to_contain_text("deny")
    expect(page.locator("#decision .decision")).to_have_text("block")
    expect(page.locator("#agent-decisions")).to_contain_text("the packing video shows the lamp")
    expect(page.locator("#decide-form")).to_be_hidden()
    _no_csp_refusal(page)

    # Assignment and "my queue": only what this agent took.
    page.click("#assign-me")
    expect(page.locator("#w-assignee")).to_contain_text("Assigned to")
    page.locator("body").press("u")
    page.fill("#f-order", "")
    page.check("#f-mine")
    page.click("#filters button[type=submit]")
    expect(page.locator("#disputes tbody tr")).to_have_count(1)
    expect(page.locator(f'#disputes tr[data-id="{world.a.dispute_id}"]')).to_be_visible()

    # The server refuses an empty note too (the page never sends one).
    answer = httpx.post(
        f"{live_api}/v1/disputes/{world.b.dispute_id}/agent-decision",
        headers={"Authorization": f"Bearer {credentials['agent']}"},
        json={"action": "approve", "note": "   "},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"

    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    page.goto(f"{live_api}/agent#dispute={world.b.dispute_id}")
    # Reuse says which dispute already holds the photo, as a link.
    expect(page.locator("#related a").first).to_have_text(world.a.dispute_id)
    expect(page.locator("#related")).to_contain_text("the same file")
    _media_loaded(page, "#workspace")
    _usable(page)
    _shoot(page, artifacts, "agent-workspace-phone", at="#media-title")

    audit = run_main(settings, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    page.context.close()


# ---- the seller answers; the agent reads it -----------------------------------------------------
def test_merchant_sees_only_its_disputes_and_answers_one(
    browser: Browser,
    world: World,
    credentials: dict[str, str],
    live_api: str,
    artifacts: Path,
) -> None:
    page = _page(browser)
    page.goto(f"{live_api}/seller")
    # An agent key is not a merchant key: the merchant routes refuse it and the page signs out.
    _sign_in(page, credentials["agent"])
    expect(page.locator("#error")).to_contain_text("not a merchant key")
    expect(page.locator("#signin")).to_be_visible()
    _sign_in(page, world.merchant_keys["shop-b"])
    expect(page.locator(f'#disputes tr[data-id="{world.b.dispute_id}"]')).to_be_visible()
    expect(page.locator(f'#disputes tr[data-id="{world.a.dispute_id}"]')).to_have_count(0)
    # Another store's dispute by its id: answered exactly like a missing one.
    page.goto(f"{live_api}/seller#dispute={world.a.dispute_id}")
    expect(page.locator("#error")).to_contain_text("on your orders")
    expect(page.locator("#detail")).to_be_hidden()

    page.goto(f"{live_api}/seller#dispute={world.b.dispute_id}")
    expect(page.locator("#d-title")).to_contain_text(world.b.dispute_id)
    expect(page.locator("#packing figure")).to_have_count(2)
    expect(page.locator("#packing video")).to_have_count(1)
    expect(page.locator("#submitted figure")).to_have_count(1)
    _media_loaded(page, "#detail")
    _usable(page)
    _shoot(page, artifacts, "seller-desktop")
    expect(page.locator("#respond-go")).to_be_disabled()
    page.fill("#statement", HOSTILE_STATEMENT)
    page.locator('#pick input[name="evidence"]').last.check()
    page.click("#respond-go")
    expect(page.locator("#status")).to_contain_text("sent")
    expect(page.locator("#responses .statement")).to_have_text(HOSTILE_STATEMENT)
    _xss_inert(page)
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    _usable(page)
    _shoot(page, artifacts, "seller-phone", at="#media-title")
    _no_csp_refusal(page)
    page.context.close()


def test_agent_sees_the_merchant_answer_as_text(
    browser: Browser, world: World, credentials: dict[str, str], live_api: str
) -> None:
    page = _page(browser)
    page.goto(f"{live_api}/agent")
    _sign_in(page, credentials["agent"])
    # Search by seller: only that merchant's dispute.
    page.fill("#f-merchant", world.b.merchant_id)
    page.click("#filters button[type=submit]")
    expect(page.locator("#disputes tbody tr")).to_have_count(1)
    expect(page.locator(f'#disputes tr[data-id="{world.b.dispute_id}"]')).to_be_visible()
    page.fill("#f-merchant", "")
    page.click("#filters button[type=submit]")
    expect(page.locator("#disputes tbody tr")).to_have_count(2)
    expect(page.locator("#more")).to_be_hidden()
    # Cursor pages: one dispute per page, "More" follows next_cursor to the last page.
    page.locator("#disputes").evaluate("t => { t.dataset.pageSize = '1'; }")
    page.click("#filters button[type=submit]")
    expect(page.locator("#disputes tbody tr")).to_have_count(1)
    page.click("#more")
    expect(page.locator("#disputes tbody tr")).to_have_count(2)
    expect(page.locator("#more")).to_be_hidden()
    ids = page.locator("#disputes tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert ids[:2] == [world.b.dispute_id, world.a.dispute_id]  # newest first
    page.locator(f'#disputes tr[data-id="{world.b.dispute_id}"] a').click()
    expect(page.locator("#w-title")).to_contain_text(world.b.dispute_id)
    page.locator("body").press("j")  # next in the queue
    expect(page.locator("#w-title")).to_contain_text(world.a.dispute_id)
    expect(page.locator("#w-title")).to_be_focused()  # where a screen reader starts
    page.locator("body").press("?")  # the shortcut list, written in the page itself
    expect(page.locator("#help")).to_be_visible()
    expect(page.locator("#help")).to_contain_text("request more evidence")
    page.locator("body").press("?")
    expect(page.locator("#help")).to_be_hidden()
    page.locator("body").press("k")  # and back
    expect(page.locator("#w-title")).to_contain_text(world.b.dispute_id)
    expect(page.locator("#responses .statement")).to_have_text(HOSTILE_STATEMENT)
    expect(page.locator("#timeline li[data-event=merchant_response]")).to_have_count(1)
    _xss_inert(page)
    page.context.close()


# ---- signed report links ---------------------------------------------------------------------
def test_report_link_opens_without_credentials_until_revoked_or_expired(
    browser: Browser, world: World, live_api: str
) -> None:
    page = _page(browser)

    def link() -> dict[str, Any]:
        made: dict[str, Any] = world.platform.call(
            "POST", f"/v1/disputes/{world.a.dispute_id}/report-links", json={"ttl_seconds": 60}
        )
        return made

    revocable = link()
    opened = page.goto(f"{live_api}{revocable['url']}")
    assert opened is not None
    assert opened.status == 200
    expect(page.locator("h1")).to_contain_text(world.a.dispute_id)
    expect(page.locator("#media #submitted img")).to_have_count(1)
    expect(page.locator("#media #submitted figcaption strong")).to_have_text(HOSTILE_NAME)
    _xss_inert(page)
    _no_csp_refusal(page)

    # The seller's answer is in the report too, as text.
    answered = world.platform.call("POST", f"/v1/disputes/{world.b.dispute_id}/report-links")
    page.goto(f"{live_api}{answered['url']}")
    expect(page.locator("#answers .statement")).to_have_text(HOSTILE_STATEMENT)
    _xss_inert(page)

    world.platform.call("DELETE", f"/v1/report-links/{revocable['link_id']}")
    again = page.goto(f"{live_api}{revocable['url']}")
    assert again is not None
    assert again.status == 404
    assert again.json()["error"]["code"] == "report_link_invalid"
    assert world.a.dispute_id not in page.content()

    try:
        made_at = _FROZEN[0] = datetime.now(UTC).replace(microsecond=0)
        expiring = link()
        _FROZEN[0] = made_at + timedelta(seconds=59)  # a second before its 60 s are up
        still = page.goto(f"{live_api}{expiring['url']}")
        _FROZEN[0] = made_at + timedelta(seconds=61)  # a second after
        late = page.goto(f"{live_api}{expiring['url']}")
    finally:
        _FROZEN[0] = None
    assert still is not None
    assert still.status == 200
    assert late is not None
    assert late.status == 404
    assert late.json()["error"]["code"] == "report_link_invalid"
    page.context.close()


# ---- a stripped copy beside its sealed original; a photographed screen (issue 19) ----------
def test_agent_sees_a_recovered_copy_beside_its_original_and_screen_photo_advice(
    browser: Browser,
    live_api: str,
    credentials: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The buyer attaches a recompressed copy of their own sealed unboxing photo (no Content
    Credentials: traced to the original) and a photo of a screen. Adversary: the screen photo
    is advice only, so the claim's decision is what the other checks make of it."""
    from bench.recapture import screen_photograph

    work = tmp_path_factory.mktemp("recovered-page")
    cast = flows.actors(live_api, credentials)
    shipped = flows.ship(cast, flows.register_order(cast), work)
    (sealed, *_) = flows.receive(cast, shipped, work)
    copy = work / "from-chat.jpg"
    with Image.open(sealed) as image:
        image.convert("RGB").save(copy, format="JPEG", quality=45)
    screen = work / "screen.jpg"
    screen_photograph(7_007).save(screen, format="JPEG", quality=90)
    decided = flows.dispute(cast, shipped.order_id, [copy, screen])
    assert decided["verdict"]["decision"] == "review"
    recovered = {
        e["filename"]: e.get("recovered_evidence_id") for e in decided["verdict"]["evidence"]
    }
    assert recovered["from-chat.jpg"] is not None
    assert recovered["screen.jpg"] is None

    page = _page(browser)
    page.goto(f"{live_api}/agent")
    _sign_in(page, credentials["agent"])
    expect(page.locator("#list")).to_be_visible()
    page.goto(f"{live_api}/agent#dispute={decided['dispute_id']}")
    pair = page.locator(
        f'#submitted .recovered-pair[data-recovered="{recovered["from-chat.jpg"]}"]'
    )
    expect(pair.locator("figure")).to_have_count(2)
    expect(pair.locator("figure").nth(1)).to_contain_text(recovered["from-chat.jpg"])
    advice = page.locator("#submitted .advice.recapture")
    expect(advice).to_have_count(1)
    expect(advice).to_contain_text("advice only")
    _media_loaded(page, "#submitted")
    assert pair.locator("img").count() == 2
    _no_csp_refusal(page)
    page.context.close()

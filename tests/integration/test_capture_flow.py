"""Capture flow over real HTTP: serial continuity, idempotent retries, labels through a real QR
decoder (PNG and PDF), QR checks and intake screening of receipt uploads.
"""

from __future__ import annotations

import io
import re
import secrets
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from capture.label_url import label_token_from_payload
from capture.tokens import verify_label_token
from clients.client import APIError, PlatformClient
from evidence.manifest import ASSERTION_LABEL
from evidence.reader import TrustSettings, read_evidence
from keys.trust import TrustList, certificates_from_pem, verify_chain
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows

SERIALS = ("SN-A1", "SN-A2")


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("flow")


def _order_with_serials(cast: flows.Actors) -> str:
    order_id = f"ORD-SN-{secrets.token_hex(3).upper()}"
    cast.platform.call(
        "POST",
        "/v1/orders",
        json={
            "order_id": order_id,
            "buyer_id": cast.buyer_id,
            "items": [{"sku": "PHONE", "quantity": 2, "serials": list(SERIALS)}],
            "declared_value": "199.00",
            "currency": "USD",
            "expected_delivery": (datetime.now(UTC) + timedelta(days=3)).date().isoformat(),
        },
    )
    return order_id


def _code(call: Any) -> tuple[int, str]:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status, caught.value.code


def _assertion_of(services: Services, sealed_path: Path) -> dict[str, Any]:
    report = read_evidence(
        sealed_path, trust=TrustSettings(anchors_pem=services.keys.trust_list().pem)
    )
    data: dict[str, Any] = report.active_manifest.assertions[ASSERTION_LABEL]
    return data


# Serial continuity -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def serial_order(cast: flows.Actors, work: Path, services: Services) -> flows.Shipped:
    order_id = _order_with_serials(cast)
    session = cast.station.open_session(order_id)
    photo = make_jpeg(work / "unit.jpg", seed=21, size=(160, 120))
    sealed = cast.station.upload(session, photo, title="unit.jpg", serials=("SN-A1",))
    refused = _code(
        lambda: cast.station.upload(session, photo, title="wrong.jpg", serials=("SN-ZZ9",))
    )
    assert refused == (409, "serial_mismatch")
    label = cast.station.close(session)
    return flows.Shipped(order_id, [sealed], label["token"])


def test_station_serial_is_sealed_into_the_shipment_assertion(
    serial_order: flows.Shipped, services: Services, credentials: dict[str, str], work: Path
) -> None:
    agent = PlatformClient(services.settings.base_url, credentials["agent"])
    evidence_id = serial_order.evidence[0]["evidence_id"]
    sealed = work / "shipped-unit.jpg"
    sealed.write_bytes(agent.call("GET", f"/v1/evidence/{evidence_id}/file"))
    assert _assertion_of(services, sealed)["serials"] == ["SN-A1"]


def test_wrong_item_is_stopped_at_the_station(
    serial_order: flows.Shipped, services: Services
) -> None:
    # The refused upload left nothing behind: one sealed shipment capture only.
    assert len(services.ledger.evidence_for_order(serial_order.order_id)) == 1


def test_malformed_serial_is_refused(cast: flows.Actors, work: Path) -> None:
    order_id = _order_with_serials(cast)
    session = cast.station.open_session(order_id)
    photo = make_jpeg(work / "bad-serial.jpg", seed=22, size=(160, 120))
    call = lambda: cast.station.upload(session, photo, title="x.jpg", serials=("bad serial!",))  # noqa: E731
    assert _code(call) == (422, "invalid_serial")


def _receive_with_serial(
    cast: flows.Actors, shipped: flows.Shipped, work: Path, serial: str
) -> Path:
    buyer = cast.buyer()
    session = buyer.open_receipt(shipped.label_token)
    photo = make_jpeg(work / f"unbox-{serial}.jpg", seed=len(serial) + 40, size=(160, 120))
    result = buyer.upload(session, photo, title="unbox.jpg", serials=(serial,))
    sealed = work / f"sealed-unbox-{serial}.jpg"
    sealed.write_bytes(buyer.download(session, result["evidence_id"]))
    buyer.finish(session)
    return sealed


def test_receipt_serial_matching_the_shipment_is_allowed(
    cast: flows.Actors, serial_order: flows.Shipped, work: Path, services: Services
) -> None:
    sealed = _receive_with_serial(cast, serial_order, work, "SN-A1")
    assert _assertion_of(services, sealed)["serials"] == ["SN-A1"]
    decided = flows.dispute(cast, serial_order.order_id, [sealed])
    assert "serial_mismatch" not in flows.codes(decided)
    checks = [c for e in decided["verdict"]["evidence"] for c in e["checks"]]
    # A passed check carries no failure code.
    assert any(c["check"] == "serial" and c["passed"] and "code" not in c for c in checks)


def test_swapped_unit_blocks_with_serial_mismatch(
    cast: flows.Actors, serial_order: flows.Shipped, work: Path
) -> None:
    sealed = _receive_with_serial(cast, serial_order, work, "SN-FAKE7")
    decided = flows.dispute(cast, serial_order.order_id, [sealed])
    assert decided["verdict"]["decision"] == "block"
    assert "serial_mismatch" in flows.codes(decided)
    detail = next(
        c["detail"]
        for e in decided["verdict"]["evidence"]
        for c in e["checks"]
        if c.get("code") == "serial_mismatch"
    )
    assert "SN-FAKE7" in detail
    assert "SN-A1" in detail


# Idempotency -----------------------------------------------------------------------------
def test_sequential_retry_returns_the_first_result(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    photo = make_jpeg(work / "retry.jpg", seed=31, size=(160, 120))
    first = cast.station.upload(session, photo, title="r.jpg", idempotency_key="cap-1")
    again = cast.station.upload(session, photo, title="r.jpg", idempotency_key="cap-1")
    other = cast.station.upload(session, photo, title="r.jpg", idempotency_key="cap-2")
    assert (first["replayed"], again["replayed"], other["replayed"]) == (False, True, False)
    assert {k: v for k, v in again.items() if k != "replayed"} == {
        k: v for k, v in first.items() if k != "replayed"
    }
    assert other["evidence_id"] != first["evidence_id"]
    assert len(services.ledger.evidence_for_order(order_id)) == 2


def test_concurrent_receipt_retries_store_one_row(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    buyer = cast.buyer()
    session = buyer.open_receipt(shipped.label_token)
    photo = make_jpeg(work / "conc-receipt.jpg", seed=32, size=(160, 120))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda _: buyer.upload(session, photo, title="c.jpg", idempotency_key="rk-1"),
                range(4),
            )
        )
    assert len({r["evidence_id"] for r in results}) == 1
    assert sum(not r["replayed"] for r in results) == 1
    assert len(services.ledger.evidence_for_order(order_id, "receipt")) == 1


def test_shipment_ingredient_archive_is_built_once_at_the_first_receipt(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    shipment = services.ledger.evidence_for_order(order_id, "shipment")
    assert shipment
    assert all(row.archive_key is None for row in shipment)
    buyer = cast.buyer()
    session = buyer.open_receipt(shipped.label_token)
    buyer.upload(session, make_jpeg(work / "first.jpg", seed=41, size=(160, 120)), title="a.jpg")
    built = {
        row.evidence_id: row.archive_key
        for row in services.ledger.evidence_for_order(order_id, "shipment")
    }
    assert all(built.values())
    for key in built.values():
        assert key is not None
        assert services.store.exists(key)
    buyer.upload(session, make_jpeg(work / "second.jpg", seed=42, size=(160, 120)), title="b.jpg")
    again = {
        row.evidence_id: row.archive_key
        for row in services.ledger.evidence_for_order(order_id, "shipment")
    }
    assert again == built


def test_idempotency_key_longer_than_128_is_refused(cast: flows.Actors, work: Path) -> None:
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    photo = make_jpeg(work / "long-key.jpg", seed=33, size=(160, 120))
    call = lambda: cast.station.upload(session, photo, title="k.jpg", idempotency_key="k" * 129)  # noqa: E731
    assert _code(call)[0] == 422


# Labels ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def labelled(cast: flows.Actors, work: Path) -> flows.Shipped:
    return flows.ship(cast, flows.register_order(cast), work)


def _decode(image: Image.Image) -> str:
    texts = [
        r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]
    assert len(texts) == 1
    return str(texts[0])


def _published_label_certificates(base_url: str, anchors_pem: str) -> tuple[Any, ...]:
    """What a buyer app does once: fetch the label key, check it chains to our anchors."""
    chain = certificates_from_pem(httpx.get(f"{base_url}/v1/trust/label-certificates").content)
    anchors = TrustList.from_pem(httpx.get(f"{base_url}/v1/trust/anchors").content)
    assert anchors.pem == anchors_pem
    verify_chain(chain[0], chain[1:], anchors, now=datetime.now(UTC))
    return chain[:1]


@pytest.mark.parametrize("dpi", [203, 300], ids=["203dpi", "300dpi"])
def test_label_png_round_trip_opens_a_receipt_session(
    cast: flows.Actors, labelled: flows.Shipped, services: Services, dpi: int
) -> None:
    png = cast.station.label_png(labelled.order_id, dpi=dpi)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (4 * dpi, 6 * dpi)
        scanned = _decode(image)
    # Any camera opens it: our capture page, the token in the fragment (never sent to a server).
    token = label_token_from_payload(scanned, base_url=cast.base_url)
    assert token is not None
    assert scanned == f"{cast.base_url}/capture#t={token}"
    certificates = _published_label_certificates(cast.base_url, services.keys.trust_list().pem)
    label = verify_label_token(token, certificates, now=datetime.now(UTC))
    assert label.order_id == labelled.order_id
    assert cast.buyer().check_qr(scanned)["official"] is True
    session = cast.buyer().open_receipt(scanned)
    assert session["order_id"] == labelled.order_id
    assert cast.buyer().open_receipt(token)["order_id"] == labelled.order_id


@pytest.mark.parametrize("dpi", [203, 300], ids=["203dpi", "300dpi"])
def test_label_pdf_is_a_4x6_page_that_decodes_after_rendering(
    cast: flows.Actors, labelled: flows.Shipped, work: Path, dpi: int
) -> None:
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "poppler-utils (pdftoppm) is needed: scripts/system-deps.sh installs it"
    pdf = cast.station.label_pdf(labelled.order_id, dpi=dpi)
    assert pdf.startswith(b"%PDF")
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box is not None
    assert (float(box.group(1)), float(box.group(2))) == pytest.approx((288.0, 432.0), abs=0.5)
    source = work / f"label-{dpi}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [pdftoppm, "-r", str(dpi), "-png", "-singlefile", str(source), str(work / f"page-{dpi}")],
        check=True,
        timeout=60,
    )
    with Image.open(work / f"page-{dpi}.png") as page:
        assert page.size == (4 * dpi, 6 * dpi)
        token = _decode(page)
    assert cast.buyer().open_receipt(token)["order_id"] == labelled.order_id


def test_label_dpi_must_be_a_printer_resolution(
    cast: flows.Actors, labelled: flows.Shipped
) -> None:
    assert _code(lambda: cast.station.label_pdf(labelled.order_id, dpi=150)) == (
        422,
        "invalid_request",
    )


# QR check ----------------------------------------------------------------------------------
def test_qr_check_tells_official_labels_from_lures(
    cast: flows.Actors,
    labelled: flows.Shipped,
    live_api: str,
    credentials: dict[str, str],
    work: Path,
) -> None:
    mine = cast.buyer().check_qr(labelled.label_token)
    assert (mine["official"], mine["order_id"]) == (True, labelled.order_id)

    other = flows.actors(live_api, credentials)
    theirs = flows.ship(other, flows.register_order(other), work)
    not_mine = cast.buyer().check_qr(theirs.label_token)
    assert (not_mine["official"], not_mine["order_id"]) == (False, None)

    payload, body, _sig = labelled.label_token.split(".")
    genuine = labelled.label_token
    host = cast.base_url.split("://", 1)[1]
    lures = [
        "https://after-sales-refund.example/claim?order=" + labelled.order_id,
        f"{payload}.{body}.{'A' * 86}",
        labelled.order_id,
        # A scam card copying a real label's token into a look-alike URL.
        f"https://after-sales-refund.example/capture#t={genuine}",
        f"http://{host}@after-sales-refund.example/capture#t={genuine}",
        f"http://{host}.after-sales-refund.example/capture#t={genuine}",
        f"http://xn--after-sales-refnd-usb.example/capture#t={genuine}",
        f"{cast.base_url}/capture?t={genuine}",
    ]
    for lure in lures:
        answer = cast.buyer().check_qr(lure)
        assert (answer["official"], answer["order_id"]) == (False, None), lure
        assert "not an official" in answer["message"].lower()
    # Nor does a look-alike URL open a receipt session, though its token is genuine.
    assert _code(
        lambda: cast.buyer().open_receipt(f"https://after-sales-refund.example/capture#t={genuine}")
    ) == (401, "token_malformed")


# Intake screening --------------------------------------------------------------------------
def _generated_png(path: Path) -> Path:
    info = PngInfo()
    info.add_text("parameters", "cracked phone screen, Steps: 30, Sampler: DPM++ 2M Karras")
    Image.new("RGB", (160, 120), (90, 90, 90)).save(path, format="PNG", pnginfo=info)
    return path


def test_intake_flags_generated_and_already_sealed_uploads(
    cast: flows.Actors,
    labelled: flows.Shipped,
    work: Path,
    services: Services,
    credentials: dict[str, str],
) -> None:
    buyer = cast.buyer()
    session = buyer.open_receipt(labelled.label_token)
    fake = _generated_png(work / "generated.png")
    with pytest.raises(APIError) as caught:
        buyer.upload(session, fake, title="damage.png")
    assert (caught.value.status, caught.value.code) == (422, "intake_flagged")
    assert {r["code"] for r in caught.value.details["reasons"]} == {"generator_trace"}
    flagged_id = caught.value.details["flagged_id"]

    with pytest.raises(APIError) as again:
        buyer.upload(session, fake, title="damage.png")
    assert again.value.details["flagged_id"] == flagged_id

    shipped_copy = work / "shipped-copy.jpg"
    agent = PlatformClient(cast.base_url, credentials["agent"])
    shipped_copy.write_bytes(
        agent.call("GET", f"/v1/evidence/{labelled.evidence[0]['evidence_id']}/file")
    )
    with pytest.raises(APIError) as resealed:
        buyer.upload(session, shipped_copy, title="unbox.jpg")
    assert {r["code"] for r in resealed.value.details["reasons"]} == {"already_sealed"}

    flagged = services.ledger.flagged_uploads(labelled.order_id)
    assert [sorted(r["code"] for r in row.reasons) for row in flagged] == [
        ["generator_trace"],
        ["already_sealed"],
    ]
    # Only the hash, size and first bytes are kept of a refusal (issue 14.4), not the file.
    assert all(row.storage_key is None and row.head for row in flagged)
    assert services.ledger.evidence_for_order(labelled.order_id, "receipt") == []

    honest = make_jpeg(work / "honest-unbox.jpg", seed=51, size=(160, 120))
    assert buyer.upload(session, honest, title="unbox.jpg")["stage"] == "receipt"

"""Every format OrderSeal seals is trusted by a second C2PA implementation (encypher-c2pa)
with our published claim-signing anchors (the service CA, not the root) as the only anchors,
and a tampered copy of each is rejected by it."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from keys.publish import claim_signing_trust
from orderseal.samples import make_jpeg, make_mp4, make_png
from orderseal.services import Services
from tests.support import flows
from tests.support.interop import validate_with_encypher

os.environ.setdefault("ENCYPHER_C2PA_TELEMETRY", "off")


@pytest.fixture(scope="module")
def sealed(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Shipment captures in every sealable format, plus a receipt with its chain."""
    work = tmp_path_factory.mktemp("interop")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    sources = {
        "shipment.jpg": make_jpeg(work / "s.jpg", seed=1, size=(320, 240)),
        "shipment.png": make_png(work / "s.png", seed=2, size=(200, 150)),
        "shipment.mp4": make_mp4(work / "s.mp4", seed=3, seconds=0.5, size=(160, 120)),
        "shipment.mov": make_mp4(
            work / "s.mov", seed=4, seconds=0.5, size=(160, 120), container_format="mov"
        ),
    }
    out: dict[str, Path] = {}
    agent = {"Authorization": f"Bearer {credentials['agent']}"}
    for name, source in sources.items():
        evidence = cast.station.upload(session, source, title=name)
        response = httpx.get(
            f"{live_api}/v1/evidence/{evidence['evidence_id']}/file", headers=agent
        )
        response.raise_for_status()
        out[name] = work / f"sealed-{name}"
        out[name].write_bytes(response.content)
    label = cast.station.close(session)
    shipped = flows.Shipped(order_id, [], label["token"])
    receipt_photo, receipt_video = flows.receive(cast, shipped, work, video=True)
    out["receipt.jpg"], out["receipt.mp4"] = receipt_photo, receipt_video
    return out


@pytest.fixture(scope="module")
def anchors(live_api: str, services: Services) -> str:
    """What a third party downloads; the service CA is an intermediate, the root is absent."""
    published = httpx.get(f"{live_api}/v1/trust/c2pa-anchors").text
    assert published == claim_signing_trust(services.keys).pem
    assert services.keys.trust_list().pem not in published
    return published


NAMES = [
    "shipment.jpg",
    "shipment.png",
    "shipment.mp4",
    "shipment.mov",
    "receipt.jpg",
    "receipt.mp4",
]


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_sealed_file_is_trusted_by_encypher(
    name: str, sealed: dict[str, Path], anchors: str
) -> None:
    result = validate_with_encypher(sealed[name], anchors)
    assert result.trusted, result.describe()
    assert result.failure_codes == ()


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_tampered_copy_is_rejected_by_encypher(
    name: str, sealed: dict[str, Path], anchors: str, tmp_path: Path
) -> None:
    data = bytearray(sealed[name].read_bytes())
    data[-100] ^= 0xFF  # the last bytes are media data in every sealed layout we produce
    tampered = tmp_path / f"tampered-{name}"
    tampered.write_bytes(bytes(data))
    result = validate_with_encypher(tampered, anchors)
    assert not result.trusted
    assert {"assertion.dataHash.mismatch", "assertion.bmffHash.mismatch"} & set(
        result.failure_codes
    ), result.describe()


def test_receipt_carries_its_shipment_chain(sealed: dict[str, Path], anchors: str) -> None:
    result = validate_with_encypher(sealed["receipt.jpg"], anchors)
    report = result.raw["manifest_report"]
    assert result.trusted, result.describe()
    # receipt manifest + the shipment photo's manifest, carried as an ingredient
    assert len(report["manifests"]) >= 2
    assert result.ingredient_failure_codes == ()

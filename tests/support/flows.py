"""Test flows through the real HTTP API: enrol devices, ship an order, receive it, dispute."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from capture.qr import render_label_png
from clients.client import BuyerClient, DeviceKey, PlatformClient, StationClient
from clients.schemas import EvidenceResponse
from orderseal.samples import label_in_view, make_jpeg, make_mp4


@dataclass
class Actors:
    """Enrolled station and buyer app, plus the platform client."""

    base_url: str
    platform: PlatformClient
    station: StationClient
    buyer_device: DeviceKey
    buyer_id: str

    def buyer(self) -> BuyerClient:
        """A buyer app session with a fresh platform-issued token."""
        token = buyer_token_response(self.platform, self.buyer_id)
        return BuyerClient(self.base_url, token["token"], self.buyer_device)


def buyer_token_response(
    platform: PlatformClient, buyer_id: str, *, order_id: str | None = None
) -> dict[str, Any]:
    """``POST /v1/buyer-tokens`` for ``buyer_id``, naming one of the buyer's orders.

    A token is issued only for a buyer an order names; without ``order_id`` a small order is
    registered for the buyer first (one per call, so tests stay independent).
    """
    if order_id is None:
        order_id = f"TOK-{secrets.token_hex(5).upper()}"
        platform.call(
            "POST",
            "/v1/orders",
            json={
                "order_id": order_id,
                "buyer_id": buyer_id,
                "items": [{"sku": "SKU-T", "quantity": 1}],
                "declared_value": "1.00",
                "currency": "USD",
            },
        )
    response: dict[str, Any] = platform.call(
        "POST", "/v1/buyer-tokens", json={"buyer_id": buyer_id, "order_id": order_id}
    )
    return response


def _seed(order_id: str, salt: int) -> int:
    """Each order's pictures differ, so reuse detection only fires where a test reuses one."""
    return int.from_bytes(hashlib.sha256(f"{order_id}:{salt}".encode()).digest()[:4], "big")


def enrol(admin: PlatformClient, kind: str, owner: str | None = None) -> DeviceKey:
    """Generate a device key and enrol it through the admin route."""
    device = DeviceKey.generate(f"{kind}-{secrets.token_hex(4)}")
    body = {
        "device_id": device.device_id,
        "kind": kind,
        "owner_id": owner,
        "csr_pem": device.csr_pem(),
    }
    admin.call("POST", "/v1/devices", json=body)
    return device


def actors(base_url: str, credentials: dict[str, str], *, buyer_id: str | None = None) -> Actors:
    """Enrol a station and a buyer app for a (new) buyer."""
    admin = PlatformClient(base_url, credentials["admin"])
    buyer_id = buyer_id or f"buyer-{secrets.token_hex(3)}"
    return Actors(
        base_url=base_url,
        platform=PlatformClient(base_url, credentials["platform"]),
        station=StationClient(base_url, enrol(admin, "station")),
        buyer_device=enrol(admin, "buyer", buyer_id),
        buyer_id=buyer_id,
    )


def register_order(cast: Actors, *, delivery_days: int = 3) -> str:
    """Register a new order for the cast's buyer."""
    order_id = f"ORD-{secrets.token_hex(4).upper()}"
    cast.platform.call(
        "POST",
        "/v1/orders",
        json={
            "order_id": order_id,
            "buyer_id": cast.buyer_id,
            "items": [{"sku": "SKU-1", "quantity": 1}],
            "declared_value": "49.00",
            "currency": "USD",
            "expected_delivery": (datetime.now(UTC) + timedelta(days=delivery_days))
            .date()
            .isoformat(),
        },
    )
    return order_id


@dataclass
class Shipped:
    """An order shipped by the station: its evidence ids, sealed files and label token."""

    order_id: str
    evidence: list[EvidenceResponse]
    label_token: str


def ship(cast: Actors, order_id: str, work: Path, *, video: bool = False) -> Shipped:
    """Pack an order: one photo (and optionally a video), then close for the label."""
    session = cast.station.open_session(order_id)
    photo = make_jpeg(work / f"{order_id}-pack.jpg", seed=_seed(order_id, 1), size=(320, 240))
    evidence = [cast.station.upload(session, photo, title="pack.jpg")]
    if video:
        clip = make_mp4(
            work / f"{order_id}-pack.mp4", seed=_seed(order_id, 5), seconds=0.5, size=(160, 120)
        )
        evidence.append(cast.station.upload(session, clip, title="pack.mp4"))
    label = cast.station.close(session)
    return Shipped(order_id, evidence, label["token"])


def reopen(cast: Actors, order_id: str) -> dict[str, Any]:
    """The platform reopens a packed order so a station may open a new packing session."""
    result: dict[str, Any] = cast.platform.call("POST", f"/v1/orders/{order_id}/reopen")
    return result


def receive(cast: Actors, shipped: Shipped, work: Path, *, video: bool = False) -> list[Path]:
    """The buyer opens the parcel: seals an unboxing photo (and video); returns sealed copies.

    The video holds the parcel's own label in view (the seal's label sighting sees it).
    """
    buyer = cast.buyer()
    session = buyer.open_receipt(shipped.label_token)
    sealed: list[Path] = []
    photo = make_jpeg(
        work / f"{shipped.order_id}-unbox.jpg", seed=_seed(shipped.order_id, 77), size=(320, 240)
    )
    captures = [photo]
    if video:
        captures.append(
            make_mp4(
                work / f"{shipped.order_id}-unbox.mp4",
                seed=_seed(shipped.order_id, 6),
                seconds=1.0,
                size=(640, 480),
                label=label_in_view(
                    render_label_png(
                        shipped.label_token, order_id=shipped.order_id, base_url=cast.base_url
                    )
                ),
            )
        )
    for capture in captures:
        result = buyer.upload(session, capture, title=capture.name)
        out = work / f"{shipped.order_id}-sealed-{capture.name}"
        out.write_bytes(buyer.download(session, result["evidence_id"]))
        sealed.append(out)
    buyer.finish(session)
    return sealed


def dispute(
    cast: Actors, order_id: str, files: list[Path], *, buyer_id: str | None = None
) -> dict[str, Any]:
    """File a dispute with the given files and return the decided dispute."""
    created = cast.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": buyer_id or cast.buyer_id,
            "claim_type": "damaged",
            "amount": "49.00",
            "currency": "USD",
        },
    )
    for path in files:
        cast.platform.attach_file(created["dispute_id"], path, filename=path.name)
    decided: dict[str, Any] = cast.platform.call(
        "POST", f"/v1/disputes/{created['dispute_id']}/decide"
    )
    return decided


def codes(decided: dict[str, Any]) -> set[str]:
    """Reason codes of a decided dispute."""
    return {reason["code"] for reason in decided["verdict"]["reasons"]}


def enrolment_nonce(base_url: str, buyer_token: str) -> str:
    """A single-use nonce for one buyer-device self-enrolment (``POST …/challenge``)."""
    response = httpx.post(
        f"{base_url}/v1/buyer-devices/challenge",
        headers={"Authorization": f"Bearer {buyer_token}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    nonce: str = response.json()["nonce"]
    return nonce

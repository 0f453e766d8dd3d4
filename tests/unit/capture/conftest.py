"""Capture service fixtures: the module's real services (SQLite ledger, local store, test CA),
enrolled devices and registered orders, built through the services themselves."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from capture.devices import DeviceIdentity
from capture.orders import OrderItem
from capture.services import CaptureServices
from clients.client import DeviceKey
from infra.media import ReceivedFile, sha256_file
from keys.attestation import b64url_decode
from orderseal.samples import make_jpeg
from orderseal.services import Services


@dataclass(frozen=True)
class Enrolled:
    """A device key with the identity the service sees for it."""

    key: DeviceKey
    identity: DeviceIdentity


@dataclass(frozen=True)
class Capture:
    """One capture on disk, as received, with the device's signed statement."""

    received: ReceivedFile
    statement_json: str
    signature: str


@pytest.fixture(scope="module")
def capture(services: Services) -> CaptureServices:
    return services.capture


@pytest.fixture(scope="module")
def enrol(capture: CaptureServices) -> Callable[..., Enrolled]:
    def _enrol(kind: str, owner_id: str | None = None) -> Enrolled:
        key = DeviceKey.generate(f"{kind}-{secrets.token_hex(4)}")
        now = datetime.now(UTC)
        capture.devices.enrol(
            csr_pem=key.csr_pem().encode(),
            device_id=key.device_id,
            kind=kind,
            owner_id=owner_id,
            now=now,
        )
        return Enrolled(key, capture.devices.identity(key.device_id, now=now))

    return _enrol


@pytest.fixture(scope="module")
def register(capture: CaptureServices) -> Callable[..., str]:
    def _register(buyer_id: str, serials: tuple[str, ...] = ("SN-1",)) -> str:
        order_id = f"ord-{secrets.token_hex(4)}"
        capture.orders.register_order(
            order_id=order_id,
            buyer_id=buyer_id,
            items=[OrderItem("sku-1", 1, serials)],
            declared_value=Decimal("10.00"),
            currency="EUR",
            carrier=None,
            tracking_number=None,
            expected_delivery=None,
            now=datetime.now(UTC),
        )
        return order_id

    return _register


@pytest.fixture
def photo(capture: CaptureServices) -> Callable[..., Capture]:
    """A JPEG in the work folder with ``device``'s statement for ``session``."""

    def _photo(device: DeviceKey, *, order_id: str, session_id: str, stage: str) -> Capture:
        path = make_jpeg(
            capture.work_dir / f"upload-{secrets.token_hex(6)}.jpg",
            seed=secrets.randbelow(2**31),
            size=(320, 240),
        )
        statement, signature, _ = device.attest(
            order_id=order_id, session_id=session_id, stage=stage, path=path
        )
        received = ReceivedFile(path=Path(path), size=path.stat().st_size, sha256=sha256_file(path))
        return Capture(received, b64url_decode(statement).decode(), signature)

    return _photo

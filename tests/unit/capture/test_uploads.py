"""capture.uploads: the upload pipeline's steps and rules, called directly.

Adversaries: another station's or another buyer's session, a statement signed by another
device, a reused idempotency key, serials not on the order, quotas passed, closed sessions.
Errors are asserted by code; every refusal still deletes the received file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from capture.devices import DeviceIdentity
from capture.services import CaptureServices
from capture.uploads import SealedEvidence, UploadService
from evidence.manifest import Stage
from infra.errors import OrderSealError
from infra.media import ReceivedFile
from tests.unit.capture.conftest import Capture, Enrolled


@dataclass(frozen=True)
class Open:
    """An open session of ``owner`` for ``order_id``."""

    order_id: str
    session_id: str
    owner: Enrolled


@pytest.fixture(scope="module")
def uploads(capture: CaptureServices) -> UploadService:
    return capture.uploads


@pytest.fixture(scope="module")
def station(enrol: Callable[..., Enrolled]) -> Enrolled:
    return enrol("station")


@pytest.fixture(scope="module")
def other_station(enrol: Callable[..., Enrolled]) -> Enrolled:
    return enrol("station")


@pytest.fixture
def shipment(capture: CaptureServices, station: Enrolled, register: Callable[..., str]) -> Open:
    order_id = register("buyer-a", ("SN-1", "SN-2"))
    session = capture.sessions.open_shipment_session(
        station.key.device_id, order_id, now=datetime.now(UTC)
    )
    return Open(order_id, session.session_id, station)


def _seal(
    uploads: UploadService,
    session: Open,
    shot: Capture,
    *,
    device: DeviceIdentity | None = None,
    buyer_id: str | None = None,
    key: str | None = None,
    serials: tuple[str, ...] = (),
) -> SealedEvidence:
    return uploads.seal_upload(
        session_id=session.session_id,
        device=device or session.owner.identity,
        buyer_id=buyer_id,
        received=shot.received,
        statement_json=shot.statement_json,
        statement_signature=shot.signature,
        title="capture",
        idempotency_key=key,
        now=datetime.now(UTC),
        serials=serials,
    )


def _refused(call: Callable[[], object], shot: Capture) -> OrderSealError:
    with pytest.raises(OrderSealError) as caught:
        call()
    assert not shot.received.path.exists(), "a refused upload must not stay on disk"
    return caught.value


def _shot(photo: Callable[..., Capture], session: Open, signer: Enrolled | None = None) -> Capture:
    return photo(
        (signer or session.owner).key,
        order_id=session.order_id,
        session_id=session.session_id,
        stage=Stage.SHIPMENT.value,
    )


def test_a_station_seals_into_its_own_session(
    uploads: UploadService, shipment: Open, photo: Callable[..., Capture]
) -> None:
    shot = _shot(photo, shipment)
    sealed = _seal(uploads, shipment, shot, serials=("SN-1",))
    assert sealed.order_id == shipment.order_id
    assert sealed.stage == Stage.SHIPMENT.value
    assert sealed.original_sha256 == shot.received.sha256
    assert not sealed.replayed
    assert not shot.received.path.exists()


def test_another_station_cannot_upload_into_a_stations_session(
    uploads: UploadService, shipment: Open, other_station: Enrolled, photo: Callable[..., Capture]
) -> None:
    shot = _shot(photo, shipment, signer=other_station)
    error = _refused(lambda: _seal(uploads, shipment, shot, device=other_station.identity), shot)
    assert error.code == "session_not_found"


def test_a_buyer_cannot_upload_into_a_station_session(
    uploads: UploadService,
    shipment: Open,
    enrol: Callable[..., Enrolled],
    photo: Callable[..., Capture],
) -> None:
    app = enrol("buyer", "buyer-a")
    shot = _shot(photo, shipment, signer=app)
    error = _refused(
        lambda: _seal(uploads, shipment, shot, device=app.identity, buyer_id="buyer-a"), shot
    )
    assert error.code == "session_not_found"


def test_a_statement_signed_by_another_device_is_refused(
    uploads: UploadService, shipment: Open, other_station: Enrolled, photo: Callable[..., Capture]
) -> None:
    shot = _shot(photo, shipment, signer=other_station)
    error = _refused(lambda: _seal(uploads, shipment, shot), shot)
    assert (error.code, error.http_status) == ("attestation_invalid", 403)


def test_a_statement_for_other_bytes_is_attestation_mismatch(
    uploads: UploadService, shipment: Open, photo: Callable[..., Capture]
) -> None:
    shot = _shot(photo, shipment)
    other = _shot(photo, shipment)
    swapped = Capture(other.received, shot.statement_json, shot.signature)
    error = _refused(lambda: _seal(uploads, shipment, swapped), swapped)
    assert error.code == "attestation_mismatch"
    shot.received.path.unlink()


def test_a_closed_session_takes_no_upload(
    capture: CaptureServices, shipment: Open, photo: Callable[..., Capture]
) -> None:
    _seal(capture.uploads, shipment, _shot(photo, shipment))
    capture.sessions.close_shipment_session(
        shipment.owner.key.device_id, shipment.session_id, now=datetime.now(UTC)
    )
    shot = _shot(photo, shipment)
    error = _refused(lambda: _seal(capture.uploads, shipment, shot), shot)
    assert error.code == "session_closed"


@pytest.mark.parametrize(
    ("serials", "code"),
    [(("SN-9",), "serial_mismatch"), (("bad serial!",), "invalid_serial")],
    ids=["not-on-order", "malformed"],
)
def test_serials_must_be_the_orders(
    uploads: UploadService,
    shipment: Open,
    photo: Callable[..., Capture],
    serials: tuple[str, ...],
    code: str,
) -> None:
    shot = _shot(photo, shipment)
    assert _refused(lambda: _seal(uploads, shipment, shot, serials=serials), shot).code == code


def test_a_retry_is_replayed_and_a_reused_key_is_refused(
    uploads: UploadService, shipment: Open, photo: Callable[..., Capture]
) -> None:
    first = _shot(photo, shipment)
    again = Capture(
        ReceivedFile(
            path=first.received.path.with_name("retry.jpg"),
            size=first.received.size,
            sha256=first.received.sha256,
        ),
        first.statement_json,
        first.signature,
    )
    again.received.path.write_bytes(first.received.path.read_bytes())
    sealed = _seal(uploads, shipment, first, key="key-1")
    replayed = _seal(uploads, shipment, again, key="key-1")
    assert replayed.replayed
    assert replayed.evidence_id == sealed.evidence_id
    other = _shot(photo, shipment)
    error = _refused(lambda: _seal(uploads, shipment, other, key="key-1"), other)
    assert error.code == "idempotency_key_reused"


def _with_quotas(uploads: UploadService, *, order_bytes: int, buyer_bytes: int) -> UploadService:
    return UploadService(
        ledger=uploads.ledger,
        store=uploads.store,
        sealer=uploads.sealer,
        orders=uploads.orders,
        sessions=uploads.sessions,
        devices=uploads.devices,
        trust=uploads.trust,
        work_dir=uploads.work_dir,
        max_photo_bytes=uploads.max_photo_bytes,
        upload_quota_order_bytes=order_bytes,
        upload_quota_buyer_bytes_per_day=buyer_bytes,
    )


def test_the_order_quota_counts_stored_bytes(
    uploads: UploadService, shipment: Open, photo: Callable[..., Capture]
) -> None:
    first = _shot(photo, shipment)
    size = first.received.size
    limited = _with_quotas(uploads, order_bytes=size + 1, buyer_bytes=0)
    _seal(limited, shipment, first)
    second = _shot(photo, shipment)
    error = _refused(lambda: _seal(limited, shipment, second), second)
    assert (error.code, error.http_status) == ("upload_quota_exceeded", 413)
    assert (error.details or {}).get("scope") == "order"


def test_the_buyer_quota_applies_to_receipts(
    capture: CaptureServices,
    shipment: Open,
    enrol: Callable[..., Enrolled],
    photo: Callable[..., Capture],
) -> None:
    _seal(capture.uploads, shipment, _shot(photo, shipment))
    now = datetime.now(UTC)
    label = capture.sessions.close_shipment_session(
        shipment.owner.key.device_id, shipment.session_id, now=now
    )
    receipt = capture.sessions.open_receipt_session("buyer-a", label.token, now=now)
    app = enrol("buyer", "buyer-a")
    session = Open(shipment.order_id, receipt.session_id, app)
    shot = photo(
        app.key,
        order_id=session.order_id,
        session_id=session.session_id,
        stage=Stage.RECEIPT.value,
    )
    limited = _with_quotas(capture.uploads, order_bytes=0, buyer_bytes=shot.received.size - 1)
    error = _refused(lambda: _seal(limited, session, shot, buyer_id="buyer-a"), shot)
    assert error.code == "upload_quota_exceeded"
    assert (error.details or {}).get("scope") == "buyer"


def test_another_buyer_cannot_upload_into_a_receipt_session(
    capture: CaptureServices,
    shipment: Open,
    enrol: Callable[..., Enrolled],
    photo: Callable[..., Capture],
) -> None:
    _seal(capture.uploads, shipment, _shot(photo, shipment))
    now = datetime.now(UTC)
    label = capture.sessions.close_shipment_session(
        shipment.owner.key.device_id, shipment.session_id, now=now
    )
    receipt = capture.sessions.open_receipt_session("buyer-a", label.token, now=now)
    intruder = enrol("buyer", "buyer-b")
    session = Open(shipment.order_id, receipt.session_id, intruder)
    shot = photo(
        intruder.key,
        order_id=session.order_id,
        session_id=session.session_id,
        stage=Stage.RECEIPT.value,
    )
    error = _refused(lambda: _seal(capture.uploads, session, shot, buyer_id="buyer-b"), shot)
    assert error.code == "session_not_found"


@pytest.mark.parametrize("kind", ["station", "other-buyer"], ids=["station", "other-buyer"])
def test_a_buyer_uploads_only_from_their_own_app(
    uploads: UploadService, enrol: Callable[..., Enrolled], kind: str
) -> None:
    device = enrol("station") if kind == "station" else enrol("buyer", "buyer-b")
    with pytest.raises(OrderSealError) as caught:
        uploads.buyer_app(device.key.device_id, buyer_id="buyer-a", now=datetime.now(UTC))
    assert (caught.value.code, caught.value.http_status) == ("wrong_device", 403)
    own = enrol("buyer", "buyer-a")
    assert uploads.buyer_app(own.key.device_id, buyer_id="buyer-a", now=datetime.now(UTC))

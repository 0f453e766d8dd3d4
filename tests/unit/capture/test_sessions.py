"""capture.sessions: shipment and receipt sessions, ownership and labels, called directly.

Adversaries: another station on a station's session or label, another buyer on a buyer's
order or session; closed, expired and released sessions. Errors are asserted by code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from capture.services import CaptureServices
from capture.sessions import SessionService
from evidence.manifest import Stage
from infra.errors import OrderSealError
from tests.unit.capture.conftest import Capture, Enrolled


@dataclass(frozen=True)
class Shipped:
    """An order packed by ``station``: one sealed photo, the session closed, a label out."""

    order_id: str
    session_id: str
    token: str
    station: Enrolled


def _code(call: Callable[[], object]) -> str:
    with pytest.raises(OrderSealError) as caught:
        call()
    return caught.value.code


@pytest.fixture(scope="module")
def sessions(capture: CaptureServices) -> SessionService:
    return capture.sessions


@pytest.fixture(scope="module")
def station(enrol: Callable[..., Enrolled]) -> Enrolled:
    return enrol("station")


@pytest.fixture(scope="module")
def other_station(enrol: Callable[..., Enrolled]) -> Enrolled:
    return enrol("station")


def _ship(
    capture: CaptureServices,
    station: Enrolled,
    order_id: str,
    photo: Callable[..., Capture],
) -> Shipped:
    now = datetime.now(UTC)
    session = capture.sessions.open_shipment_session(station.key.device_id, order_id, now=now)
    shot = photo(
        station.key, order_id=order_id, session_id=session.session_id, stage=Stage.SHIPMENT.value
    )
    capture.uploads.seal_upload(
        session_id=session.session_id,
        device=station.identity,
        buyer_id=None,
        received=shot.received,
        statement_json=shot.statement_json,
        statement_signature=shot.signature,
        title="box",
        idempotency_key=None,
        now=now,
    )
    label = capture.sessions.close_shipment_session(
        station.key.device_id, session.session_id, now=now
    )
    assert label.order_id == order_id
    return Shipped(order_id, session.session_id, label.token, station)


@pytest.fixture
def shipped(
    capture: CaptureServices,
    station: Enrolled,
    register: Callable[..., str],
    photo: Callable[..., Capture],
) -> Shipped:
    return _ship(capture, station, register("buyer-a"), photo)


def test_a_station_opens_a_session_only_for_a_registered_order(
    sessions: SessionService, station: Enrolled
) -> None:
    call = lambda: sessions.open_shipment_session(  # noqa: E731
        station.key.device_id, "ord-never-registered", now=datetime.now(UTC)
    )
    assert _code(call) == "order_unknown"


def test_another_station_cannot_close_a_stations_session(
    sessions: SessionService,
    station: Enrolled,
    other_station: Enrolled,
    register: Callable[..., str],
) -> None:
    now = datetime.now(UTC)
    session = sessions.open_shipment_session(station.key.device_id, register("buyer-a"), now=now)
    other = other_station.key.device_id
    assert _code(lambda: sessions.close_shipment_session(other, session.session_id, now=now)) == (
        "session_not_found"
    )
    # The owner's own empty session is refused for another reason: nothing sealed yet.
    own = station.key.device_id
    assert _code(lambda: sessions.close_shipment_session(own, session.session_id, now=now)) == (
        "session_empty"
    )


def test_session_ownership_looks_absent_to_everyone_else(
    sessions: SessionService, station: Enrolled, register: Callable[..., str]
) -> None:
    now = datetime.now(UTC)
    session = sessions.open_shipment_session(station.key.device_id, register("buyer-a"), now=now)
    for station_id, buyer_id in ((None, "buyer-a"), ("station-x", None), (None, None)):
        call = lambda s=station_id, b=buyer_id: sessions.own_session(  # noqa: E731
            session.session_id, station_id=s, buyer_id=b
        )
        assert _code(call) == "session_not_found"
    assert _code(lambda: sessions.own_session("ss_absent", station_id="x", buyer_id=None)) == (
        "session_not_found"
    )


@pytest.mark.parametrize(
    ("offset", "open_"),
    [(timedelta(seconds=-1), True), (timedelta(0), False), (timedelta(seconds=1), False)],
    ids=["second-before-expiry", "at-expiry", "second-after-expiry"],
)
def test_a_session_is_open_until_it_expires(
    sessions: SessionService,
    station: Enrolled,
    register: Callable[..., str],
    offset: timedelta,
    open_: bool,
) -> None:
    now = datetime.now(UTC)
    session = sessions.open_shipment_session(station.key.device_id, register("buyer-a"), now=now)
    at = session.expires_at + offset
    call = functools.partial(
        sessions.open_session,
        session.session_id,
        station_id=station.key.device_id,
        buyer_id=None,
        now=at,
    )
    if open_:
        assert call().session_id == session.session_id
    else:
        assert _code(call) == "session_closed"


def test_a_packed_order_refuses_a_new_session_until_reopened(
    capture: CaptureServices, shipped: Shipped, other_station: Enrolled
) -> None:
    now = datetime.now(UTC)
    for station_id in (shipped.station.key.device_id, other_station.key.device_id):
        call = lambda s=station_id: capture.sessions.open_shipment_session(  # noqa: E731
            s, shipped.order_id, now=now
        )
        assert _code(call) == "order_already_packed"
    capture.orders.reopen_order(shipped.order_id, by="platform", now=now)
    reopened = capture.sessions.open_shipment_session(
        other_station.key.device_id, shipped.order_id, now=now
    )
    assert reopened.order_id == shipped.order_id


def test_only_the_packing_station_reprints_the_label(
    sessions: SessionService, shipped: Shipped, other_station: Enrolled
) -> None:
    now = datetime.now(UTC)
    token = sessions.label_token_for(
        shipped.order_id, now=now, station_id=shipped.station.key.device_id
    )
    assert sessions.read_label(token, now=now).order_id == shipped.order_id
    call = lambda: sessions.label_token_for(  # noqa: E731
        shipped.order_id, now=now, station_id=other_station.key.device_id
    )
    assert _code(call) == "no_label"


def test_another_buyers_label_opens_no_receipt_session(
    sessions: SessionService, shipped: Shipped
) -> None:
    now = datetime.now(UTC)
    call = lambda: sessions.open_receipt_session("buyer-b", shipped.token, now=now)  # noqa: E731
    assert _code(call) == "not_your_order"
    assert sessions.official_label(shipped.token, buyer_id="buyer-b", now=now) is None
    official = sessions.official_label(shipped.token, buyer_id="buyer-a", now=now)
    assert official is not None
    assert official.order_id == shipped.order_id


def test_a_forged_label_opens_nothing(sessions: SessionService, shipped: Shipped) -> None:
    forged = shipped.token[:-4] + ("AAAA" if not shipped.token.endswith("AAAA") else "BBBB")
    call = lambda: sessions.open_receipt_session("buyer-a", forged, now=datetime.now(UTC))  # noqa: E731
    assert _code(call) in {"token_forged", "token_malformed"}
    assert sessions.official_label(forged, buyer_id="buyer-a", now=datetime.now(UTC)) is None


def test_another_buyer_cannot_see_finish_or_read_a_receipt_session(
    sessions: SessionService, shipped: Shipped
) -> None:
    now = datetime.now(UTC)
    session = sessions.open_receipt_session("buyer-a", shipped.token, now=now)
    sid = session.session_id
    assert _code(lambda: sessions.receipt(sid, buyer_id="buyer-b")) == "session_not_found"
    assert _code(
        lambda: sessions.finish_session(sid, station_id=None, buyer_id="buyer-b", now=now)
    ) == ("session_not_found")
    assert _code(lambda: sessions.buyer_evidence(sid, "ev_x", buyer_id="buyer-b")) == (
        "session_not_found"
    )
    receipt = sessions.receipt(sid, buyer_id="buyer-a")
    assert receipt.shipment_session is not None
    assert receipt.shipment_session.session_id == shipped.session_id
    assert len(receipt.shipment) == 1
    assert receipt.sealed == ()


def test_a_finished_receipt_session_is_closed(sessions: SessionService, shipped: Shipped) -> None:
    now = datetime.now(UTC)
    sid = sessions.open_receipt_session("buyer-a", shipped.token, now=now).session_id
    sessions.finish_session(sid, station_id=None, buyer_id="buyer-a", now=now)
    call = lambda: sessions.open_session(sid, station_id=None, buyer_id="buyer-a", now=now)  # noqa: E731
    assert _code(call) == "session_closed"


def test_scanning_again_closes_the_earlier_receipt_session(
    sessions: SessionService, shipped: Shipped
) -> None:
    now = datetime.now(UTC)
    first = sessions.open_receipt_session("buyer-a", shipped.token, now=now).session_id
    sessions.open_receipt_session("buyer-a", shipped.token, now=now)
    call = lambda: sessions.open_session(first, station_id=None, buyer_id="buyer-a", now=now)  # noqa: E731
    assert _code(call) == "session_closed"


def test_a_released_session_no_longer_closes(
    capture: CaptureServices,
    station: Enrolled,
    register: Callable[..., str],
    photo: Callable[..., Capture],
) -> None:
    shipped = _ship(capture, station, register("buyer-a"), photo)
    now = datetime.now(UTC)
    capture.orders.reopen_order(shipped.order_id, by="platform", now=now)
    call = lambda: capture.sessions.close_shipment_session(  # noqa: E731
        station.key.device_id, shipped.session_id, now=now
    )
    assert _code(call) == "session_closed"

"""The offline packing tables (``infra.ledger.provisional``) on a migrated SQLite ledger:
which orders a station may pack offline, and a provisional session recorded once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.db import create_ledger_engine, create_schema, session_factory
from infra.ledger.models import CaptureSession, Order
from infra.ledger.provisional import ProvisionalLabelRow
from infra.ledger.repository import Ledger

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ledger-template") / "ledger.sqlite3"
    engine = create_ledger_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()
    return path


@pytest.fixture
def ledger(template: Path, tmp_path: Path) -> Iterator[Ledger]:
    path = tmp_path / "ledger.sqlite3"
    shutil.copyfile(template, path)
    engine = create_ledger_engine(f"sqlite:///{path}")
    yield Ledger(session_factory(engine))
    engine.dispose()


def _order(ledger: Ledger, order_id: str, *, minutes: int, merchant: str = "default") -> None:
    ledger.add_order(
        Order(
            order_id=order_id,
            buyer_id="buyer-1",
            items=[{"sku": "S", "quantity": 1}],
            declared_value="1.00",
            currency="USD",
            carrier=None,
            tracking_number=None,
            expected_delivery=None,
            created_at=NOW + timedelta(minutes=minutes),
            merchant_id=merchant,
        )
    )


def _session(ledger: Ledger, session_id: str, order_id: str, *, closed: bool) -> None:
    ledger.add_session(
        CaptureSession(
            session_id=session_id,
            order_id=order_id,
            stage="shipment",
            device_id="station-1",
            buyer_id=None,
            opened_at=NOW,
            expires_at=NOW + timedelta(hours=12),
            closed_at=NOW if closed else None,
        )
    )


def _row(session_id: str, *, local: str = "ls_1", digest: str = "a" * 64) -> ProvisionalLabelRow:
    return ProvisionalLabelRow(
        device_id="station-1",
        local_session_id=local,
        order_id="open-new",
        token_sha256=digest,
        session_id=session_id,
        station_closed_at=NOW,
        station_clock=NOW,
        service_clock=NOW + timedelta(seconds=2),
        clock_gap_seconds=2.0,
    )


def test_packable_orders_are_the_merchants_open_unpacked_ones_newest_first(
    ledger: Ledger,
) -> None:
    _order(ledger, "open-old", minutes=1)
    _order(ledger, "open-new", minutes=3)
    _order(ledger, "packing", minutes=2)
    _order(ledger, "packed", minutes=4)
    _order(ledger, "cancelled", minutes=5)
    _order(ledger, "theirs", minutes=6, merchant="other")
    _session(ledger, "ss_open", "packing", closed=False)
    _session(ledger, "ss_done", "packed", closed=True)
    ledger.cancel_order("cancelled", now=NOW)
    assert ledger.provisional.packable_orders("default", limit=10) == [
        "open-new",
        "packing",
        "open-old",
    ]
    assert ledger.provisional.packable_orders("default", limit=2) == ["open-new", "packing"]
    ledger.release_shipment_sessions("packed", by="platform", at=NOW)
    assert "packed" in ledger.provisional.packable_orders("default", limit=10)


def test_a_provisional_session_is_recorded_once_and_replaced_once(ledger: Ledger) -> None:
    _order(ledger, "open-new", minutes=1)
    _session(ledger, "ss_1", "open-new", closed=False)
    _session(ledger, "ss_2", "open-new", closed=False)
    assert ledger.provisional.add(_row("ss_1")) is True
    assert ledger.provisional.add(_row("ss_2")) is False  # same (station, local id)
    assert ledger.provisional.add(_row("ss_2", local="ls_2")) is False  # same token
    assert ledger.provisional.replace("station-1", "ls_1", "OS1.first", at=NOW) == "OS1.first"
    assert ledger.provisional.replace("station-1", "ls_1", "OS1.second", at=NOW) == "OS1.first"
    row = ledger.provisional.for_session("ss_1")
    assert row is not None
    assert (row.local_session_id, row.clock_gap_seconds) == ("ls_1", 2.0)
    assert ledger.provisional.for_session("ss_2") is None

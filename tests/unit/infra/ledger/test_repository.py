"""The ledger repository on a real SQLite file: every query, and each one's refusal.

Each test gets its own copy of a ledger file migrated once for the module (the migrations
are the schema's only path, as in production). Refusals are asserted by error code; a
missing row is None (or a named outcome), never an exception.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from infra.db import create_ledger_engine, create_schema, session_factory
from infra.errors import ConflictError
from infra.ledger.models import (
    AuditEntry,
    CaptureSession,
    Device,
    Dispute,
    DisputeEvidence,
    Evidence,
    FlaggedUpload,
    Order,
    UsedNonce,
    Verdict,
)
from infra.ledger.repository import (
    GENESIS_HASH,
    NONCE_PRUNE_BATCH,
    NONCE_RETENTION,
    Ledger,
    StaleVerdictError,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)


@dataclass
class Home:
    ledger: Ledger
    engine: Engine

    def count(self, model: type[Any]) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(model)).scalar_one())

    def nonces(self) -> set[str]:
        with self.engine.connect() as connection:
            return set(connection.execute(select(UsedNonce.nonce)).scalars())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ledger-template") / "ledger.sqlite3"
    engine = create_ledger_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Iterator[Home]:
    path = tmp_path / "ledger.sqlite3"
    shutil.copyfile(template, path)
    engine = create_ledger_engine(f"sqlite:///{path}")
    yield Home(Ledger(session_factory(engine)), engine)
    engine.dispose()


@pytest.fixture
def ledger(home: Home) -> Ledger:
    return home.ledger


# Row builders ---------------------------------------------------------------
def _order(order_id: str = "ord-1", *, buyer_id: str = "buyer-1") -> Order:
    return Order(
        order_id=order_id,
        buyer_id=buyer_id,
        items=[{"sku": "A-1", "quantity": 1}],
        declared_value="100.00",
        currency="USD",
        carrier=None,
        tracking_number=None,
        expected_delivery=date(2026, 11, 25),
        created_at=NOW - HOUR,
    )


def _device(
    device_id: str = "station-1",
    *,
    kind: str = "station",
    owner_id: str | None = None,
    serial_hex: str | None = None,
    not_after: datetime = NOW + timedelta(days=30),
) -> Device:
    return Device(
        device_id=device_id,
        kind=kind,
        owner_id=owner_id,
        certificate_pem="-----BEGIN CERTIFICATE-----\n",
        serial_hex=serial_hex or f"{device_id}-serial",
        not_after=not_after,
        enrolled_at=NOW - HOUR,
        revoked_at=None,
        revoke_reason=None,
    )


def _session(
    session_id: str = "ss-1",
    *,
    order_id: str = "ord-1",
    stage: str = "shipment",
    buyer_id: str | None = None,
    opened_at: datetime = NOW - HOUR,
    closed_at: datetime | None = None,
) -> CaptureSession:
    return CaptureSession(
        session_id=session_id,
        order_id=order_id,
        stage=stage,
        device_id="station-1" if stage == "shipment" else "app-1",
        buyer_id=buyer_id,
        opened_at=opened_at,
        expires_at=opened_at + timedelta(days=1),
        closed_at=closed_at,
    )


def _evidence(
    evidence_id: str = "ev-1",
    *,
    order_id: str = "ord-1",
    session_id: str = "ss-1",
    stage: str = "shipment",
    device_id: str = "station-1",
    sealed_sha256: str | None = None,
    manifest_id: str | None = None,
    sealed_size: int = 1000,
    at: datetime = NOW,
    idempotency_key: str | None = None,
) -> Evidence:
    return Evidence(
        evidence_id=evidence_id,
        order_id=order_id,
        session_id=session_id,
        stage=stage,
        device_id=device_id,
        media_type="image/jpeg",
        title="photo.jpg",
        original_sha256="a" * 64,
        sealed_sha256=sealed_sha256 or f"{evidence_id}-sealed",
        sealed_size=sealed_size,
        storage_key=f"evidence/{evidence_id}",
        manifest_id=manifest_id or f"urn:c2pa:{evidence_id}",
        archive_key=None,
        archive_sha256=None,
        captured_at=at,
        received_at=at,
        sealed_at=at,
        idempotency_key=idempotency_key,
    )


def _flagged(
    flagged_id: str = "fl-1",
    *,
    order_id: str = "ord-1",
    session_id: str = "rs-1",
    buyer_id: str | None = "buyer-1",
    content_sha256: str | None = None,
    size: int = 10,
    received_at: datetime = NOW,
) -> FlaggedUpload:
    return FlaggedUpload(
        flagged_id=flagged_id,
        order_id=order_id,
        session_id=session_id,
        device_id="app-1",
        buyer_id=buyer_id,
        media_type="image/jpeg",
        content_sha256=content_sha256 or f"{flagged_id}-content",
        size=size,
        storage_key=None,
        reasons=["screen_recapture"],
        received_at=received_at,
        head=b"\xff\xd8",
    )


def _dispute(
    dispute_id: str = "dp-1",
    *,
    order_id: str = "ord-1",
    buyer_id: str = "buyer-1",
    created_at: datetime = NOW,
    decision: str | None = None,
) -> Dispute:
    return Dispute(
        dispute_id=dispute_id,
        order_id=order_id,
        buyer_id=buyer_id,
        claim_type="damaged",
        amount="10.00",
        currency="USD",
        created_at=created_at,
        decision=decision,
        decided_at=created_at if decision else None,
        updated_at=created_at,
    )


def _attachment(
    dispute_id: str = "dp-1",
    content_sha256: str = "c" * 64,
    *,
    manifest_id: str | None = None,
    perceptual_hashes: list[str] | None = None,
    at: datetime = NOW + HOUR,
) -> DisputeEvidence:
    return DisputeEvidence(
        dispute_id=dispute_id,
        content_sha256=content_sha256,
        storage_key=f"disputes/{content_sha256}",
        filename="photo.jpg",
        media_type="image/jpeg",
        size=10,
        manifest_id=manifest_id,
        perceptual_hashes=perceptual_hashes,
        attached_at=at,
    )


def _packed(ledger: Ledger) -> None:
    """An order with a shipment session and a buyer's receipt session."""
    ledger.add_order(_order())
    ledger.add_session(_session())
    ledger.add_session(_session("rs-1", stage="receipt", buyer_id="buyer-1"))


def _conflict(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConflictError) as refused:
        call(*args, **kwargs)
    return refused.value.code


# Readiness --------------------------------------------------------------------
def test_ping_answers_on_a_migrated_ledger(ledger: Ledger) -> None:
    ledger.ping()


# Orders -------------------------------------------------------------------------
def test_an_order_is_stored_and_read_back(ledger: Ledger) -> None:
    ledger.add_order(_order())
    order = ledger.get_order("ord-1")
    assert order is not None
    assert (order.buyer_id, order.status, order.items) == (
        "buyer-1",
        "open",
        [{"sku": "A-1", "quantity": 1}],
    )
    assert order.created_at == NOW - HOUR
    assert order.created_at.tzinfo is not None


def test_an_unknown_order_is_none(ledger: Ledger) -> None:
    assert ledger.get_order("ord-missing") is None


def test_a_duplicate_order_id_is_a_conflict(ledger: Ledger) -> None:
    ledger.add_order(_order())
    assert _conflict(ledger.add_order, _order(buyer_id="buyer-2")) == "conflict"
    stored = ledger.get_order("ord-1")
    assert stored is not None
    assert stored.buyer_id == "buyer-1"


def test_an_open_order_is_updated(ledger: Ledger) -> None:
    ledger.add_order(_order())
    updated = ledger.update_open_order("ord-1", {"carrier": "DHL"}, now=NOW)
    assert updated is not None
    assert (updated.carrier, updated.updated_at) == ("DHL", NOW)
    stored = ledger.get_order("ord-1")
    assert stored is not None
    assert stored.carrier == "DHL"


def test_an_unknown_or_cancelled_order_is_not_updated(ledger: Ledger) -> None:
    assert ledger.update_open_order("ord-missing", {"carrier": "DHL"}, now=NOW) is None
    ledger.add_order(_order())
    ledger.cancel_order("ord-1", now=NOW)
    assert ledger.update_open_order("ord-1", {"carrier": "DHL"}, now=NOW + SECOND) is None
    stored = ledger.get_order("ord-1")
    assert stored is not None
    assert (stored.carrier, stored.updated_at) == (None, NOW)


def test_a_second_cancel_keeps_the_first_time(ledger: Ledger) -> None:
    ledger.add_order(_order())
    first = ledger.cancel_order("ord-1", now=NOW)
    again = ledger.cancel_order("ord-1", now=NOW + HOUR)
    assert first is not None
    assert again is not None
    assert (again.status, again.cancelled_at, again.updated_at) == ("cancelled", NOW, NOW)
    assert ledger.cancel_order("ord-missing", now=NOW) is None


# Devices ------------------------------------------------------------------------
def test_a_device_is_stored_and_read_back(ledger: Ledger) -> None:
    ledger.add_device(_device())
    device = ledger.get_device("station-1")
    assert device is not None
    assert (device.kind, device.revoked_at) == ("station", None)
    assert ledger.get_device("station-missing") is None


@pytest.mark.parametrize(
    "duplicate",
    [_device(serial_hex="other-serial"), _device("station-2", serial_hex="station-1-serial")],
    ids=["same-device-id", "same-serial"],
)
def test_a_duplicate_device_is_a_conflict(ledger: Ledger, duplicate: Device) -> None:
    ledger.add_device(_device())
    assert _conflict(ledger.add_device, duplicate) == "conflict"


def test_the_first_revocation_stands(ledger: Ledger) -> None:
    ledger.add_device(_device())
    ledger.add_device(_device("station-2"))
    first = ledger.revoke_device("station-1", at=NOW, reason="lost " + "x" * 200)
    again = ledger.revoke_device("station-1", at=NOW + HOUR, reason="stolen")
    assert first is not None
    assert again is not None
    assert again.revoked_at == NOW
    assert again.revoke_reason == ("lost " + "x" * 200)[:128]
    assert ledger.revoked_devices() == {"station-1": NOW}


def test_revoking_an_unknown_device_is_none(ledger: Ledger) -> None:
    assert ledger.revoke_device("station-missing", at=NOW, reason="lost") is None
    assert ledger.revoked_devices() == {}


def test_a_renewal_replaces_the_certificate(ledger: Ledger) -> None:
    ledger.add_device(_device())
    later = NOW + timedelta(days=60)
    ledger.renew_device("station-1", certificate_pem="renewed", serial_hex="s2", not_after=later)
    ledger.renew_device("station-missing", certificate_pem="x", serial_hex="s3", not_after=later)
    device = ledger.get_device("station-1")
    assert device is not None
    assert (device.certificate_pem, device.serial_hex, device.not_after) == ("renewed", "s2", later)
    assert ledger.get_device("station-missing") is None


@pytest.mark.parametrize(
    ("now", "active"),
    [(NOW - SECOND, 1), (NOW, 0), (NOW + SECOND, 0)],
    ids=["second-before-expiry", "at-expiry", "second-after-expiry"],
)
def test_active_buyer_devices_end_at_not_after(ledger: Ledger, now: datetime, active: int) -> None:
    ledger.add_device(_device("app-1", kind="buyer", owner_id="buyer-1", not_after=NOW))
    ledger.add_device(_device("app-2", kind="buyer", owner_id="buyer-1", not_after=NOW + HOUR))
    ledger.add_device(_device("app-3", kind="buyer", owner_id="buyer-2", not_after=NOW + HOUR))
    ledger.add_device(_device("station-1", owner_id="buyer-1", not_after=NOW + HOUR))
    ledger.revoke_device("app-2", at=NOW - HOUR, reason="lost")
    assert ledger.count_active_buyer_devices("buyer-1", now=now) == active


# Nonces -------------------------------------------------------------------------
def test_a_nonce_is_accepted_once(ledger: Ledger) -> None:
    assert ledger.use_nonce("n-1", "station-1", NOW) is True
    assert ledger.use_nonce("n-1", "station-1", NOW + SECOND) is False
    assert ledger.use_nonce("n-1", "station-2", NOW + SECOND) is False  # shared table


@pytest.mark.parametrize(
    ("age", "replayable"),
    [
        (NONCE_RETENTION - SECOND, False),
        (NONCE_RETENTION, False),
        (NONCE_RETENTION + SECOND, True),
    ],
    ids=["second-inside-retention", "at-retention", "second-past-retention"],
)
def test_a_nonce_is_pruned_only_past_the_retention(
    ledger: Ledger, age: timedelta, replayable: bool
) -> None:
    assert ledger.use_nonce("old", "station-1", NOW - age)
    assert ledger.use_nonce("new", "station-1", NOW)  # prunes what has expired
    assert ledger.use_nonce("old", "station-1", NOW) is replayable


def test_a_short_window_never_drops_another_callers_live_nonce(ledger: Ledger) -> None:
    assert ledger.use_nonce("old", "station-1", NOW - NONCE_RETENTION + SECOND)
    assert ledger.use_nonce("new", "app-1", NOW, keep_for=timedelta(seconds=5))
    assert ledger.use_nonce("old", "station-1", NOW) is False


def test_a_longer_window_keeps_its_nonces_longer(ledger: Ledger) -> None:
    window = NONCE_RETENTION * 3
    assert ledger.use_nonce("old", "station-1", NOW - window + SECOND)
    assert ledger.use_nonce("new", "station-1", NOW, keep_for=window)
    assert ledger.use_nonce("old", "station-1", NOW, keep_for=window) is False


def test_each_nonce_prunes_a_bounded_batch_oldest_first(home: Home) -> None:
    old = NOW - NONCE_RETENTION - HOUR
    for index in range(NONCE_PRUNE_BATCH + 5):
        assert home.ledger.use_nonce(f"old-{index:04d}", "station-1", old + index * SECOND)
    assert home.ledger.use_nonce("new", "station-1", NOW)
    # The oldest went; the newest expired ones are left for the next request.
    left = {f"old-{index:04d}" for index in range(NONCE_PRUNE_BATCH, NONCE_PRUNE_BATCH + 5)}
    assert home.nonces() == {*left, "new"}
    assert home.ledger.use_nonce("next", "station-1", NOW + SECOND)
    assert home.nonces() == {"new", "next"}


# Sessions -------------------------------------------------------------------------
def test_a_session_is_stored_and_read_back(ledger: Ledger) -> None:
    _packed(ledger)
    session = ledger.get_session("ss-1")
    assert session is not None
    assert (session.order_id, session.stage, session.closed_at) == ("ord-1", "shipment", None)
    assert ledger.get_session("ss-missing") is None


def test_a_duplicate_session_is_a_conflict(ledger: Ledger) -> None:
    _packed(ledger)
    assert _conflict(ledger.add_session, _session()) == "conflict"


def test_a_session_for_an_unknown_order_is_a_conflict(ledger: Ledger) -> None:
    assert _conflict(ledger.add_session, _session(order_id="ord-missing")) == "conflict"
    assert ledger.get_session("ss-1") is None


def test_closing_a_session_keeps_the_first_time(ledger: Ledger) -> None:
    _packed(ledger)
    ledger.close_session("ss-1", NOW)
    ledger.close_session("ss-1", NOW + HOUR)
    ledger.close_session("ss-missing", NOW)
    session = ledger.get_session("ss-1")
    assert session is not None
    assert session.closed_at == NOW


def test_only_the_buyers_open_receipt_sessions_of_the_order_close(ledger: Ledger) -> None:
    _packed(ledger)
    ledger.add_order(_order("ord-2"))
    ledger.add_session(_session("rs-2", stage="receipt", buyer_id="buyer-1"))
    ledger.add_session(_session("rs-other-buyer", stage="receipt", buyer_id="buyer-2"))
    ledger.add_session(
        _session("rs-other-order", order_id="ord-2", stage="receipt", buyer_id="buyer-1")
    )
    ledger.add_session(
        _session("rs-closed", stage="receipt", buyer_id="buyer-1", closed_at=NOW - HOUR)
    )

    assert ledger.close_open_receipt_sessions("ord-1", "buyer-1", NOW) == 2
    assert ledger.close_open_receipt_sessions("ord-1", "buyer-1", NOW + SECOND) == 0

    closed = {
        session_id: getattr(ledger.get_session(session_id), "closed_at", None)
        for session_id in ("ss-1", "rs-1", "rs-2", "rs-other-buyer", "rs-other-order", "rs-closed")
    }
    assert closed == {
        "ss-1": None,
        "rs-1": NOW,
        "rs-2": NOW,
        "rs-other-buyer": None,
        "rs-other-order": None,
        "rs-closed": NOW - HOUR,
    }


def test_the_latest_shipment_session(ledger: Ledger) -> None:
    assert ledger.latest_shipment_session("ord-1") is None
    _packed(ledger)
    ledger.add_session(_session("ss-2", opened_at=NOW - SECOND))
    ledger.close_session("ss-1", NOW)
    latest = ledger.latest_shipment_session("ord-1")
    latest_closed = ledger.latest_shipment_session("ord-1", closed=True)
    assert latest is not None
    assert latest_closed is not None
    assert (latest.session_id, latest_closed.session_id) == ("ss-2", "ss-1")


def test_a_reopen_releases_the_packed_shipment_sessions(ledger: Ledger) -> None:
    _packed(ledger)
    ledger.add_session(_session("ss-2", opened_at=NOW - SECOND))
    ledger.add_session(_session("ss-open", opened_at=NOW))
    assert ledger.packed_shipment_session("ord-1") is None
    ledger.close_session("ss-1", NOW)
    ledger.close_session("ss-2", NOW + SECOND)
    packed = ledger.packed_shipment_session("ord-1")
    assert packed is not None
    assert packed.session_id == "ss-2"

    released = ledger.release_shipment_sessions("ord-1", by="platform-" + "p" * 80, at=NOW + HOUR)

    assert released == ["ss-1", "ss-2"]
    assert ledger.packed_shipment_session("ord-1") is None
    row = ledger.get_session("ss-1")
    assert row is not None
    assert (row.released_at, row.released_by) == (NOW + HOUR, ("platform-" + "p" * 80)[:64])
    assert ledger.release_shipment_sessions("ord-1", by="platform", at=NOW + HOUR) == []


# Evidence -------------------------------------------------------------------------
def test_evidence_is_stored_and_found_every_way(ledger: Ledger) -> None:
    _packed(ledger)
    ledger.add_evidence(_evidence(idempotency_key="upload-1"))
    row = ledger.get_evidence("ev-1")
    assert row is not None
    assert row.sealed_at == NOW
    found = [
        ledger.find_by_idempotency("station-1", "upload-1"),
        ledger.evidence_by_sealed_sha256("ev-1-sealed"),
        ledger.evidence_by_manifest(["urn:c2pa:ev-1", "urn:c2pa:unknown"])["urn:c2pa:ev-1"],
    ]
    assert [item.evidence_id if item else None for item in found] == ["ev-1"] * 3


def test_missing_evidence_is_none_or_empty(ledger: Ledger) -> None:
    _packed(ledger)
    ledger.add_evidence(_evidence(idempotency_key="upload-1"))
    assert ledger.get_evidence("ev-missing") is None
    assert ledger.find_by_idempotency("station-2", "upload-1") is None  # another device's key
    assert ledger.find_by_idempotency("station-1", "upload-2") is None
    assert ledger.evidence_by_sealed_sha256("f" * 64) is None
    assert ledger.evidence_by_manifest([]) == {}
    assert ledger.evidence_by_manifest(["urn:c2pa:unknown"]) == {}
    assert ledger.evidence_for_order("ord-missing") == []


@pytest.mark.parametrize(
    "duplicate",
    [
        _evidence("ev-2", sealed_sha256="ev-1-sealed"),
        _evidence("ev-2", manifest_id="urn:c2pa:ev-1"),
        _evidence("ev-2", idempotency_key="upload-1"),
        _evidence(),
    ],
    ids=["same-sealed-bytes", "same-manifest", "same-idempotency-key", "same-id"],
)
def test_duplicate_evidence_is_a_conflict(ledger: Ledger, duplicate: Evidence) -> None:
    _packed(ledger)
    ledger.add_evidence(_evidence(idempotency_key="upload-1"))
    assert _conflict(ledger.add_evidence, duplicate) == "conflict"
    assert [row.evidence_id for row in ledger.evidence_for_order("ord-1")] == ["ev-1"]


def test_the_same_idempotency_key_on_another_device_is_new_evidence(ledger: Ledger) -> None:
    _packed(ledger)
    ledger.add_evidence(_evidence(idempotency_key="upload-1"))
    ledger.add_evidence(_evidence("ev-2", device_id="station-2", idempotency_key="upload-1"))
    found = ledger.find_by_idempotency("station-2", "upload-1")
    assert found is not None
    assert found.evidence_id == "ev-2"


def test_evidence_without_its_session_is_a_conflict(ledger: Ledger) -> None:
    _packed(ledger)
    assert _conflict(ledger.add_evidence, _evidence(session_id="ss-missing")) == "conflict"


def test_an_orders_evidence_is_listed_oldest_first_by_stage(ledger: Ledger) -> None:
    _packed(ledger)
    ledger.add_evidence(_evidence("ev-late", at=NOW + HOUR))
    ledger.add_evidence(_evidence("ev-early", at=NOW - HOUR))
    ledger.add_evidence(
        _evidence("ev-receipt", session_id="rs-1", stage="receipt", device_id="app-1")
    )
    assert [row.evidence_id for row in ledger.evidence_for_order("ord-1")] == [
        "ev-early",
        "ev-receipt",
        "ev-late",
    ]
    assert [row.evidence_id for row in ledger.evidence_for_order("ord-1", "receipt")] == [
        "ev-receipt"
    ]


def test_the_first_ingredient_archive_stands(ledger: Ledger) -> None:
    _packed(ledger)
    ledger.add_evidence(_evidence())
    ledger.set_ingredient_archive("ev-1", "archives/1", "1" * 64)
    ledger.set_ingredient_archive("ev-1", "archives/2", "2" * 64)
    ledger.set_ingredient_archive("ev-missing", "archives/3", "3" * 64)
    row = ledger.get_evidence("ev-1")
    assert row is not None
    assert (row.archive_key, row.archive_sha256) == ("archives/1", "1" * 64)


# Flagged uploads and quotas -----------------------------------------------------------
def test_a_flagged_upload_is_kept_once_per_session(ledger: Ledger) -> None:
    _packed(ledger)
    assert ledger.add_flagged_upload(_flagged("fl-late", received_at=NOW + SECOND)) is True
    assert ledger.add_flagged_upload(_flagged("fl-early", received_at=NOW - SECOND)) is True
    assert (
        ledger.add_flagged_upload(_flagged("fl-again", content_sha256="fl-late-content")) is False
    )
    assert [row.flagged_id for row in ledger.flagged_uploads("ord-1")] == ["fl-early", "fl-late"]
    assert ledger.flagged_uploads("ord-missing") == []


@pytest.mark.parametrize(
    ("received_at", "pruned"),
    [(NOW - SECOND, 1), (NOW, 0), (NOW + SECOND, 0)],
    ids=["second-before", "at-cutoff", "second-after"],
)
def test_flagged_uploads_are_pruned_before_the_cutoff(
    ledger: Ledger, received_at: datetime, pruned: int
) -> None:
    _packed(ledger)
    ledger.add_flagged_upload(_flagged(received_at=received_at))
    assert ledger.prune_flagged_uploads(before=NOW) == pruned
    assert len(ledger.flagged_uploads("ord-1")) == 1 - pruned


def test_pruning_flagged_uploads_is_bounded_oldest_first(ledger: Ledger) -> None:
    _packed(ledger)
    for index in range(3):
        ledger.add_flagged_upload(_flagged(f"fl-{index}", received_at=NOW - (3 - index) * HOUR))
    assert ledger.prune_flagged_uploads(before=NOW, limit=2) == 2
    assert [row.flagged_id for row in ledger.flagged_uploads("ord-1")] == ["fl-2"]
    assert ledger.prune_flagged_uploads(before=NOW, limit=2) == 1
    assert ledger.prune_flagged_uploads(before=NOW, limit=2) == 0


def test_upload_bytes_count_sealed_and_refused_uploads(ledger: Ledger) -> None:
    _packed(ledger)
    assert ledger.upload_bytes_for_order("ord-1") == 0
    ledger.add_evidence(_evidence(sealed_size=3_000_000_000))  # past 32 bits
    ledger.add_evidence(
        _evidence("ev-r", session_id="rs-1", stage="receipt", device_id="app-1", sealed_size=500)
    )
    ledger.add_flagged_upload(_flagged(size=20))
    assert ledger.upload_bytes_for_order("ord-1") == 3_000_000_000 + 500 + 20
    assert ledger.upload_bytes_for_order("ord-missing") == 0


@pytest.mark.parametrize(
    ("since", "total"),
    [(NOW - SECOND, 520), (NOW, 520), (NOW + SECOND, 0)],
    ids=["second-before", "at-since", "second-after"],
)
def test_upload_bytes_of_a_buyer_since(ledger: Ledger, since: datetime, total: int) -> None:
    _packed(ledger)
    ledger.add_evidence(_evidence(sealed_size=1000))  # a station's, not the buyer's
    ledger.add_evidence(
        _evidence("ev-r", session_id="rs-1", stage="receipt", device_id="app-1", sealed_size=500)
    )
    ledger.add_flagged_upload(_flagged(size=20))
    ledger.add_flagged_upload(_flagged("fl-2", buyer_id="buyer-2", size=7))
    assert ledger.upload_bytes_for_buyer("buyer-1", since=since) == total


# Disputes -----------------------------------------------------------------------------
def test_a_dispute_is_stored_and_read_back(ledger: Ledger) -> None:
    ledger.add_dispute(_dispute())
    dispute = ledger.get_dispute("dp-1")
    assert dispute is not None
    assert (dispute.order_id, dispute.decision, dispute.updated_at) == ("ord-1", None, NOW)
    assert ledger.get_dispute("dp-missing") is None
    assert _conflict(ledger.add_dispute, _dispute()) == "conflict"


def test_an_attachment_is_kept_once_and_moves_the_dispute(ledger: Ledger) -> None:
    ledger.add_dispute(_dispute())
    assert ledger.attach(_attachment(at=NOW + HOUR)) is True
    assert ledger.attach(_attachment(at=NOW + 2 * HOUR)) is False
    assert ledger.attach(_attachment("dp-missing")) is False
    dispute = ledger.get_dispute("dp-1")
    assert dispute is not None
    assert dispute.updated_at == NOW + HOUR
    assert [row.content_sha256 for row in ledger.attachments("dp-1")] == ["c" * 64]
    assert ledger.attachments("dp-missing") == []


@pytest.mark.parametrize(
    ("dispute_id", "content", "decided", "outcome"),
    [
        ("dp-1", "c" * 64, False, "detached"),
        ("dp-1", "d" * 64, False, "not_attached"),
        ("dp-1", "c" * 64, True, "decided"),
        ("dp-missing", "c" * 64, False, "no_dispute"),
    ],
    ids=["detached", "not-attached", "decided", "no-dispute"],
)
def test_detach_names_its_outcome(
    ledger: Ledger, dispute_id: str, content: str, decided: bool, outcome: str
) -> None:
    ledger.add_dispute(_dispute())
    ledger.attach(_attachment())
    if decided:
        ledger.record_verdict("dp-1", "allow", {"decision": "allow"}, NOW + HOUR)
    assert ledger.detach(dispute_id, content, now=NOW + 2 * HOUR) == outcome
    dispute = ledger.get_dispute("dp-1")
    assert dispute is not None
    kept = [row.content_sha256 for row in ledger.attachments("dp-1")]
    if outcome == "detached":
        assert (kept, dispute.updated_at) == ([], NOW + 2 * HOUR)
    else:
        assert kept == ["c" * 64]


def test_other_disputes_sharing_bytes_manifests_or_hashes(ledger: Ledger) -> None:
    for dispute_id in ("dp-1", "dp-2", "dp-3", "dp-4"):
        ledger.add_dispute(_dispute(dispute_id, order_id=f"ord-{dispute_id}"))
    ledger.attach(_attachment("dp-1", "c" * 64, manifest_id="urn:m1", perceptual_hashes=["p1"]))
    ledger.attach(_attachment("dp-2", "c" * 64))
    ledger.attach(_attachment("dp-3", "e" * 64, manifest_id="urn:m1", perceptual_hashes=["p3"]))
    ledger.attach(_attachment("dp-4", "f" * 64))

    assert ledger.other_disputes_with("dp-1", "c" * 64, "urn:m1") == ["dp-2", "dp-3"]
    assert ledger.other_disputes_with("dp-1", "c" * 64, None) == ["dp-2"]
    assert ledger.other_disputes_with("dp-4", "f" * 64, None) == []
    candidates = ledger.perceptual_candidates("dp-1")
    assert "dp-1" not in {other for other, _ in candidates}
    # An attachment without hashes may be listed with none (JSON null is not SQL NULL).
    assert [(other, hashes) for other, hashes in candidates if hashes] == [("dp-3", ["p3"])]
    assert ledger.dispute_orders(["dp-2", "dp-1", "dp-missing", "dp-2"]) == {
        "dp-1": "ord-dp-1",
        "dp-2": "ord-dp-2",
    }
    assert ledger.dispute_orders([]) == {}


def _sealer(calls: list[tuple[str, int]]) -> Any:
    def audit(prev_hash: str, verdict_id: int, body: dict[str, Any]) -> tuple[str, str, str]:
        calls.append((prev_hash, verdict_id))
        return (f"{verdict_id:064x}", "signature", "certificate")

    return audit


def test_a_verdict_decides_the_dispute_and_extends_the_audit_chain(ledger: Ledger) -> None:
    ledger.add_dispute(_dispute())
    calls: list[tuple[str, int]] = []
    ledger.record_verdict(
        "dp-1",
        "review",
        {"decision": "review"},
        NOW + HOUR,
        reason_codes=["signer_revoked", "content_tampered", "signer_revoked"],
        audit=_sealer(calls),
    )
    ledger.record_verdict(
        "dp-1",
        "allow",
        {"decision": "allow"},
        NOW + 2 * HOUR,
        change_reason="evidence_added",
        audit=_sealer(calls),
    )

    dispute = ledger.get_dispute("dp-1")
    assert dispute is not None
    assert (dispute.decision, dispute.decided_at, dispute.updated_at) == (
        "allow",
        NOW + 2 * HOUR,
        NOW + 2 * HOUR,
    )
    # The listing filters by the latest verdict's codes, and it named none.
    assert ledger.platform_disputes(reason="signer_revoked") == []
    verdicts = ledger.verdicts("dp-1")
    assert [(row.decision, row.change_reason) for row in verdicts] == [
        ("review", None),
        ("allow", "evidence_added"),
    ]
    first, second = (row.id for row in verdicts)
    assert calls == [(GENESIS_HASH, first), (f"{first:064x}", second)]
    entries = ledger.audit_entries()
    assert [(entry.prev_hash, entry.verdict_id) for entry, _ in entries] == calls
    assert [body.replace(" ", "") for _, body in entries] == [
        '{"decision":"review"}',
        '{"decision":"allow"}',
    ]
    assert ledger.verdicts("dp-missing") == []


def test_a_verdict_evaluated_on_a_stale_basis_is_not_written(ledger: Ledger) -> None:
    """Two writers (two file jobs, a job and the platform) evaluated the same dispute: the
    second write is refused, so the latest verdict never covers less than an earlier one."""
    ledger.add_dispute(_dispute())
    ledger.attach(_attachment())
    seen = ledger.verdict_basis("dp-1")
    ledger.record_verdict("dp-1", "review", {"n": 1}, NOW + HOUR, basis=seen)
    with pytest.raises(StaleVerdictError) as caught:
        ledger.record_verdict("dp-1", "allow", {"n": 2}, NOW + 2 * HOUR, basis=seen)
    assert caught.value.code == "verdict_stale"
    # A file attached after the evaluation makes its basis stale too.
    fresh = ledger.verdict_basis("dp-1")
    ledger.attach(_attachment(content_sha256="d" * 64))
    with pytest.raises(StaleVerdictError):
        ledger.record_verdict("dp-1", "allow", {"n": 3}, NOW + 3 * HOUR, basis=fresh)
    assert [v.body for v in ledger.verdicts("dp-1")] == [{"n": 1}]
    dispute = ledger.get_dispute("dp-1")
    assert dispute is not None
    assert dispute.decision == "review"
    current = ledger.verdict_basis("dp-1")
    ledger.record_verdict("dp-1", "allow", {"n": 4}, NOW + 4 * HOUR, basis=current)
    assert [v.body for v in ledger.verdicts("dp-1")] == [{"n": 1}, {"n": 4}]


def test_shipment_bytes_are_checked_again_when_the_evidence_is_recorded(ledger: Ledger) -> None:
    """Adversary: two stations of one merchant sealing the same photo into two orders at the
    same moment, each passing the upload's early check before the other recorded. The insert
    checks again under a lock on the bytes: the second order's row is refused."""
    ledger.add_order(_order())
    ledger.add_order(_order("ord-2"))
    ledger.add_session(_session())
    ledger.add_session(_session("ss-2", order_id="ord-2"))
    ledger.add_evidence(_evidence())
    with pytest.raises(ConflictError) as caught:
        ledger.add_evidence(_evidence("ev-2", order_id="ord-2", session_id="ss-2"))
    assert caught.value.code == "capture_sealed_elsewhere"
    assert ledger.get_evidence("ev-2") is None
    # The same bytes again in the same order, and a buyer's receipt of them, are not refused.
    ledger.add_evidence(_evidence("ev-3"))
    ledger.add_evidence(_evidence("ev-4", order_id="ord-2", session_id="ss-2", stage="receipt"))
    assert ledger.get_evidence("ev-3") is not None
    assert ledger.get_evidence("ev-4") is not None


def test_reason_codes_are_kept_sorted_and_single(ledger: Ledger) -> None:
    ledger.add_dispute(_dispute())
    ledger.record_verdict(
        "dp-1",
        "block",
        {},
        NOW,
        reason_codes=["signer_revoked", "content_tampered", "signer_revoked"],
    )
    dispute = ledger.get_dispute("dp-1")
    assert dispute is not None
    assert dispute.reason_codes == ",content_tampered,signer_revoked,"


def test_a_chain_that_cannot_be_extended_is_audit_contention(home: Home) -> None:
    home.ledger.add_dispute(_dispute())

    def stuck(prev_hash: str, verdict_id: int, body: dict[str, Any]) -> tuple[str, str, str]:
        return ("e" * 64, "signature", "certificate")  # the same entry hash every time

    home.ledger.record_verdict("dp-1", "allow", {}, NOW, audit=stuck)
    code = _conflict(home.ledger.record_verdict, "dp-1", "block", {}, NOW + HOUR, audit=stuck)

    assert code == "audit_contention"
    assert (home.count(Verdict), home.count(AuditEntry)) == (1, 1)  # nothing half written
    dispute = home.ledger.get_dispute("dp-1")
    assert dispute is not None
    assert dispute.decision == "allow"


# Counting and listing disputes ------------------------------------------------------
def test_refunds_on_an_order_count_allowed_and_earlier_pending_claims(ledger: Ledger) -> None:
    ledger.add_dispute(_dispute("dp-allowed", created_at=NOW - HOUR, decision="allow"))
    ledger.add_dispute(_dispute("dp-blocked", created_at=NOW - HOUR, decision="block"))
    ledger.add_dispute(_dispute("dp-a-pending", created_at=NOW - SECOND))
    ledger.add_dispute(_dispute("dp-b-tie", created_at=NOW))
    ledger.add_dispute(_dispute("dp-z-tie", created_at=NOW))
    ledger.add_dispute(_dispute("dp-later", created_at=NOW + SECOND))
    ledger.add_dispute(_dispute("dp-stranger", buyer_id="buyer-2", created_at=NOW - HOUR))
    ledger.add_dispute(_dispute("dp-other-order", order_id="ord-2", decision="allow"))

    assert ledger.count_refunds_for_order("ord-1", excluding="dp-b-tie") == 1
    counted = ledger.count_refunds_for_order(
        "ord-1", excluding="dp-b-tie", filed_at=NOW, buyer_id="buyer-1"
    )
    assert counted == 2  # dp-allowed, dp-a-pending (dp-z-tie loses the tie on id)
    assert (
        ledger.count_refunds_for_order(
            "ord-1", excluding="dp-z-tie", filed_at=NOW, buyer_id="buyer-1"
        )
        == 3
    )
    assert ledger.count_refunds_for_order("ord-missing", excluding="dp-1") == 0


@pytest.mark.parametrize(
    ("since", "count"),
    [(NOW - SECOND, 1), (NOW, 1), (NOW + SECOND, 0)],
    ids=["second-before", "at-since", "second-after"],
)
def test_disputes_by_a_buyer_since(ledger: Ledger, since: datetime, count: int) -> None:
    ledger.add_dispute(_dispute("dp-1", created_at=NOW))
    ledger.add_dispute(_dispute("dp-self", created_at=NOW + HOUR))
    ledger.add_dispute(_dispute("dp-2", buyer_id="buyer-2", created_at=NOW))
    assert ledger.count_disputes_by_buyer("buyer-1", since=since, excluding="dp-self") == count


def test_the_agent_list_is_newest_first_and_filtered(ledger: Ledger) -> None:
    ledger.add_dispute(_dispute("dp-1", created_at=NOW - HOUR, decision="allow"))
    ledger.add_dispute(_dispute("dp-2", created_at=NOW))
    ledger.add_dispute(_dispute("dp-3", created_at=NOW + HOUR, decision="allow"))

    def ids(rows: list[Dispute]) -> list[str]:
        return [row.dispute_id for row in rows]

    assert ids(ledger.list_disputes()) == ["dp-3", "dp-2", "dp-1"]
    assert ids(ledger.list_disputes(decision="allow")) == ["dp-3", "dp-1"]
    assert ids(ledger.list_disputes(since=NOW, until=NOW + HOUR)) == ["dp-2"]
    assert ids(ledger.list_disputes(limit=1)) == ["dp-3"]
    assert ids(ledger.disputes_since(NOW)) == ["dp-2", "dp-3"]
    assert ids(ledger.disputes_since(None)) == ["dp-1", "dp-2", "dp-3"]


def test_the_platform_list_filters_in_sql_and_pages_by_keyset(ledger: Ledger) -> None:
    for index in range(5):
        ledger.add_dispute(_dispute(f"dp-{index}", created_at=NOW, order_id=f"ord-{index % 2}"))
    ledger.record_verdict("dp-1", "block", {}, NOW + HOUR, reason_codes=["content_tampered"])
    ledger.record_verdict("dp-3", "allow", {}, NOW + HOUR, reason_codes=["content_x_tampered"])

    def ids(rows: list[Dispute]) -> list[str]:
        return [row.dispute_id for row in rows]

    assert ids(ledger.platform_disputes()) == ["dp-0", "dp-2", "dp-4", "dp-1", "dp-3"]
    assert ids(ledger.platform_disputes(status="open")) == ["dp-0", "dp-2", "dp-4"]
    assert ids(ledger.platform_disputes(status="decided")) == ["dp-1", "dp-3"]
    assert ids(ledger.platform_disputes(decision="allow")) == ["dp-3"]
    assert ids(ledger.platform_disputes(reason="content_tampered")) == ["dp-1"]
    assert ids(ledger.platform_disputes(reason="content_%")) == []  # a pattern matches nothing
    assert ids(ledger.platform_disputes(order_id="ord-1")) == ["dp-1", "dp-3"]
    assert ids(ledger.platform_disputes(buyer_id="buyer-2")) == []
    assert ids(ledger.platform_disputes(updated_since=NOW + HOUR)) == ["dp-1", "dp-3"]

    pages: list[list[str]] = []
    after: tuple[datetime, str] | None = None
    while page := ledger.platform_disputes(after=after, limit=2):
        pages.append(ids(page))
        after = (page[-1].updated_at, page[-1].dispute_id)
    assert pages == [["dp-0", "dp-2"], ["dp-4", "dp-1"], ["dp-3"]]

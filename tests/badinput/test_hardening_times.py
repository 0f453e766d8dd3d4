"""Issue 14 item 12: a time without a UTC offset is refused at the door, before any storing.

Adversary: an enrolled station or buyer app (its own key signs the statement) whose clock
code writes a naive ``captured_at``, by bug or on purpose. Before the fix the statement check
let it through, the capture was sealed and stored, and the ledger insert then failed with a
500, leaving a sealed orphan in the evidence store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from clients.client import APIError
from clients.schemas import EvidenceResponse
from evidence.manifest import CaptureAssertion, Stage
from infra.settings import Settings
from keys.attestation import CaptureStatement
from orderseal.samples import make_jpeg
from tests.badinput.state import stored
from tests.support import flows

NAIVE = datetime(2025, 1, 1, 12, 0, 0)  # noqa: DTZ001 - the naive time under test


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.mark.parametrize(
    ("captured_at", "refused"),
    [(datetime.now(UTC), False), (NAIVE, True)],
    ids=["aware-honest", "naive"],
)
def test_station_capture_with_naive_time_is_refused_before_storing(
    settings: Settings, cast: flows.Actors, tmp_path: Path, captured_at: datetime, refused: bool
) -> None:
    session = cast.station.open_session(flows.register_order(cast))
    photo = make_jpeg(tmp_path / "pack.jpg", seed=12, size=(320, 240))
    statement, signature, digest = cast.station.device.attest(
        order_id=session["order_id"],
        session_id=session["session_id"],
        stage="shipment",
        path=photo,
        captured_at=captured_at,
    )
    before = stored(settings)

    def upload() -> EvidenceResponse:
        result: EvidenceResponse = cast.station.upload_attested(
            session["session_id"],
            photo,
            statement=statement,
            signature=signature,
            digest=digest,
            title="pack.jpg",
        )
        return result

    if not refused:
        assert upload()["original_sha256"] == digest
        return
    with pytest.raises(APIError) as caught:
        upload()
    assert (caught.value.status, caught.value.code) == (422, "attestation_malformed")
    assert stored(settings) == before  # nothing sealed, nothing stored


_FIELDS = {
    "device_id": "d",
    "order_id": "o",
    "session_id": "s",
    "stage": "shipment",
    "content_sha256": "0" * 64,
}


@pytest.mark.parametrize(
    ("captured_at", "ok"),
    [
        ("2025-01-01T12:00:00+00:00", True),
        ("2025-01-01T12:00:00Z", True),
        ("2025-01-01T14:00:00+02:00", True),
        ("2025-01-01T12:00:00", False),
        ("2025-01-01", False),
        ("yesterday", False),
    ],
    ids=["utc", "zulu", "offset", "naive", "date-only", "garbage"],
)
def test_statement_and_assertion_times_need_an_offset(captured_at: str, ok: bool) -> None:
    text = CaptureStatement(**_FIELDS, captured_at=captured_at).canonical().decode()
    assertion = {
        "order_id": "o",
        "stage": Stage.SHIPMENT,
        "device_id": "d",
        "session_id": "s",
        "captured_at": captured_at,
        "received_at": "2025-01-01T12:00:01+00:00",
        "content_sha256": "0" * 64,
        "media_type": "image/jpeg",
    }
    if ok:
        assert CaptureStatement.from_json(text).captured_time.utcoffset() is not None
        assert CaptureAssertion.model_validate(assertion).captured_at == captured_at
        return
    with pytest.raises(ValueError):  # noqa: PT011 - a plain parse error, it has no code
        CaptureStatement.from_json(text)
    with pytest.raises(ValueError):  # noqa: PT011 - pydantic's ValidationError
        CaptureAssertion.model_validate(assertion)

"""Serial continuity check over hand-built facts (receipt serial vs sealed shipment serial)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from evidence.manifest import ASSERTION_LABEL, CaptureAssertion, ChainLink, Stage
from evidence.reader import IngredientFacts, ManifestFacts, ReaderReport
from verifier.checks import ALL_CHECKS
from verifier.checks.serial import check_serial, shipped_serials
from verifier.models import DisputeContext, EvidenceFacts
from verifier.policy import DEFAULT_POLICY
from verifier.reasons import ReasonCode

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CTX = DisputeContext(order_id="O-1", buyer_id="B-1", order=None, now=NOW)
SHIP = "urn:c2pa:ship"


def _assertion(stage: Stage, serials: tuple[str, ...], **extra: Any) -> CaptureAssertion:
    return CaptureAssertion(
        order_id="O-1",
        stage=stage,
        device_id="dev",
        session_id="s",
        captured_at=NOW.isoformat(),
        received_at=NOW.isoformat(),
        content_sha256="a" * 64,
        media_type="image/jpeg",
        serials=serials,
        **extra,
    )


def _manifest(label: str, assertion: CaptureAssertion | None) -> ManifestFacts:
    return ManifestFacts(
        label=label,
        claim_generator="OrderSeal",
        signer_issuer="OrderSeal",
        signer_common_name="OrderSeal Capture Service",
        signed_at=None,
        cert_serial_number="1",
        digital_source_types=(),
        action_names=(),
        assertions={ASSERTION_LABEL: assertion.model_dump(mode="json")} if assertion else {},
        ingredients=(IngredientFacts("ship.jpg", "componentOf", SHIP, ()),)
        if label != SHIP
        else (),
    )


def _facts(received: tuple[str, ...], shipped: tuple[str, ...] | None) -> EvidenceFacts:
    link = ChainLink(evidence_id="ev_ship", manifest_id=SHIP, content_sha256="b" * 64)
    receipt = _assertion(Stage.RECEIPT, received, chain=(link,))
    active = _manifest("urn:c2pa:receipt", receipt)
    ship = _manifest(SHIP, _assertion(Stage.SHIPMENT, shipped) if shipped is not None else None)
    report = ReaderReport(
        state="Trusted",
        failure_codes=(),
        ingredient_failure_codes=(),
        active_manifest=active,
        manifests={active.label: active, SHIP: ship},
    )
    return EvidenceFacts(
        filename="r.jpg",
        content_sha256="a" * 64,
        media_type="image/jpeg",
        report=report,
        assertion=receipt,
    )


@pytest.mark.parametrize(
    ("received", "shipped", "expected"),
    [
        (("SN-A",), ("SN-A", "SN-B"), True),
        (("SN-C",), ("SN-A", "SN-B"), False),
        (("SN-A", "SN-C"), ("SN-A",), False),
    ],
    ids=["same-unit", "swapped-unit", "one-of-two-wrong"],
)
def test_receipt_serial_is_compared_with_the_sealed_shipment_serial(
    received: tuple[str, ...], shipped: tuple[str, ...], expected: bool
) -> None:
    results = check_serial(_facts(received, shipped), CTX)
    assert [(r.code, r.passed) for r in results] == [(ReasonCode.SERIAL_MISMATCH, expected)]
    if not expected:
        # Agents see which serials: what was received and what was sealed.
        assert "SN-C" in results[0].detail
        assert shipped[0] in results[0].detail


@pytest.mark.parametrize(
    ("received", "shipped"),
    [((), ("SN-A",)), (("SN-A",), ()), (("SN-A",), None)],
    ids=["buyer-read-no-serial", "order-without-serials", "shipment-manifest-missing"],
)
def test_nothing_to_compare_gives_no_result(
    received: tuple[str, ...], shipped: tuple[str, ...] | None
) -> None:
    assert check_serial(_facts(received, shipped), CTX) == []


def test_shipped_serials_come_from_the_chained_ingredient_manifest() -> None:
    assert shipped_serials(_facts(("SN-A",), ("SN-A", "SN-B"))) == ("SN-A", "SN-B")


def test_serial_mismatch_blocks_and_runs_by_default() -> None:
    assert check_serial in ALL_CHECKS
    assert DEFAULT_POLICY.decision_for(ReasonCode.SERIAL_MISMATCH).value == "block"

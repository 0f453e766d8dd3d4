"""Pure checks over hand-built facts: no files, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from capture.manifest import ASSERTION_LABEL, CaptureAssertion, ChainLink, Stage
from verifier.checks.chain import check_chain
from verifier.checks.content import check_ai_declared, check_edited_after_capture
from verifier.checks.integrity import check_integrity
from verifier.checks.order import check_buyer, check_order, check_stage
from verifier.checks.reuse import check_reuse
from verifier.checks.revocation import check_revocation
from verifier.checks.window import check_window
from verifier.models import CheckResult, DisputeContext, EvidenceFacts, LedgerEvidence, OrderFacts
from verifier.reader import IngredientFacts, ManifestFacts, ReaderReport
from verifier.reasons import ReasonCode

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SHIPPED_AT = NOW - timedelta(days=5)
DELIVERY = NOW - timedelta(days=2)
ORDER = OrderFacts("O-1", "B-1", NOW - timedelta(days=6), DELIVERY)
CTX = DisputeContext(order_id="O-1", buyer_id="B-1", order=ORDER, now=NOW, receipt_window_days=30)
SHIP_MANIFEST = "urn:c2pa:ship"


def _assertion(**overrides: Any) -> CaptureAssertion:
    fields: dict[str, Any] = {
        "order_id": "O-1",
        "stage": Stage.RECEIPT,
        "device_id": "app-1",
        "session_id": "rs_1",
        "captured_at": NOW.isoformat(),
        "received_at": NOW.isoformat(),
        "content_sha256": "a" * 64,
        "media_type": "image/jpeg",
        "chain": (
            ChainLink(evidence_id="ev_ship", manifest_id=SHIP_MANIFEST, content_sha256="b" * 64),
        ),
    }
    fields.update(overrides)
    return CaptureAssertion(**fields)


def _manifest(
    label: str = "urn:c2pa:receipt",
    *,
    assertion: CaptureAssertion | None = None,
    sources: tuple[str, ...] = (),
    actions: tuple[str, ...] = ("c2pa.created",),
    ingredient_failures: tuple[str, ...] = (),
) -> ManifestFacts:
    assertions: dict[str, Any] = {}
    if assertion is not None:
        assertions[ASSERTION_LABEL] = assertion.model_dump(mode="json")
    return ManifestFacts(
        label=label,
        claim_generator="OrderSeal",
        signer_issuer="OrderSeal",
        signer_common_name="OrderSeal Capture Service",
        signed_at=None,
        cert_serial_number="1",
        digital_source_types=sources,
        action_names=actions,
        assertions=assertions,
        ingredients=(
            IngredientFacts("ship.jpg", "componentOf", SHIP_MANIFEST, ingredient_failures),
        ),
    )


def _report(
    manifest: ManifestFacts,
    *,
    state: str = "Trusted",
    failures: tuple[str, ...] = (),
    extra: tuple[ManifestFacts, ...] = (),
) -> ReaderReport:
    manifests = {m.label: m for m in (manifest, *extra)}
    return ReaderReport(
        state=state,  # type: ignore[arg-type]
        failure_codes=failures,
        ingredient_failure_codes=(),
        active_manifest=manifest,
        manifests=manifests,
    )


def _ledger(
    manifest_id: str,
    stage: str,
    *,
    sealed_at: datetime,
    order_id: str = "O-1",
    buyer: str | None = None,
) -> LedgerEvidence:
    return LedgerEvidence(
        evidence_id="ev_ship" if stage == "shipment" else "ev_rec",
        order_id=order_id,
        stage=stage,
        manifest_id=manifest_id,
        original_sha256="b" * 64 if stage == "shipment" else "a" * 64,
        sealed_sha256="c" * 64,
        device_id="dev",
        session_buyer_id=buyer,
        captured_at=sealed_at,
        sealed_at=sealed_at,
    )


def _facts(assertion: CaptureAssertion | None = None, **overrides: Any) -> EvidenceFacts:
    assertion = assertion or _assertion()
    fields: dict[str, Any] = {
        "filename": "r.jpg",
        "content_sha256": "d" * 64,
        "media_type": "image/jpeg",
        "report": _report(_manifest(assertion=assertion)),
        "assertion": assertion,
        "ledger_record": _ledger("urn:c2pa:receipt", "receipt", sealed_at=NOW, buyer="B-1"),
        "shipment_records": {
            SHIP_MANIFEST: _ledger(SHIP_MANIFEST, "shipment", sealed_at=SHIPPED_AT)
        },
    }
    fields.update(overrides)
    return EvidenceFacts(**fields)


def _failed(results: list[CheckResult]) -> set[ReasonCode]:
    return {r.code for r in results if not r.passed}


def test_honest_receipt_passes_every_check() -> None:
    facts = _facts()
    for check in (
        check_integrity,
        check_ai_declared,
        check_edited_after_capture,
        check_order,
        check_buyer,
        check_stage,
        check_chain,
        check_window,
        check_reuse,
        check_revocation,
    ):
        assert _failed(check(facts, CTX)) == set(), check.__name__


@pytest.mark.parametrize(
    ("state", "failures", "expected"),
    [
        ("Valid", ("signingCredential.untrusted",), {ReasonCode.UNTRUSTED_SIGNER}),
        (
            "Invalid",
            ("assertion.dataHash.mismatch",),
            {ReasonCode.CONTENT_TAMPERED, ReasonCode.UNTRUSTED_SIGNER},
        ),
        (
            "Invalid",
            ("claimSignature.mismatch",),
            {ReasonCode.SIGNATURE_INVALID, ReasonCode.UNTRUSTED_SIGNER},
        ),
        ("Invalid", (), {ReasonCode.SIGNATURE_INVALID, ReasonCode.UNTRUSTED_SIGNER}),
        ("Trusted", ("signingCredential.revoked",), {ReasonCode.SIGNER_REVOKED}),
    ],
    ids=["untrusted", "tampered", "bad-signature", "invalid-unexplained", "revoked-credential"],
)
def test_integrity(state: str, failures: tuple[str, ...], expected: set[ReasonCode]) -> None:
    facts = _facts(
        report=_report(_manifest(assertion=_assertion()), state=state, failures=failures)
    )
    assert _failed(check_integrity(facts, CTX)) == expected


def test_unreadable_file_reports_its_read_error() -> None:
    facts = _facts(report=None, read_error=ReasonCode.CORRUPT_MEDIA, read_error_detail="cut short")
    assert _failed(check_integrity(facts, CTX)) == {ReasonCode.CORRUPT_MEDIA}


@pytest.mark.parametrize(
    "source",
    [
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
        "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
    ],
    ids=["trained", "composite"],
)
def test_ai_declared_anywhere_in_history(source: str) -> None:
    parent = _manifest("urn:c2pa:parent", sources=(source,))
    report = _report(_manifest(assertion=_assertion()), extra=(parent,))
    assert _failed(check_ai_declared(_facts(report=report), CTX)) == {
        ReasonCode.AI_GENERATED_DECLARED
    }


def test_our_capture_re_signed_by_an_editor_is_edited_after_capture() -> None:
    ours = _manifest("urn:c2pa:ours", assertion=_assertion())
    editor = _manifest("urn:c2pa:editor", actions=("c2pa.opened", "c2pa.cropped"))
    report = _report(editor, extra=(ours,))
    assert _failed(check_edited_after_capture(_facts(report=report), CTX)) == {
        ReasonCode.EDITED_AFTER_CAPTURE
    }


def test_order_mismatch_and_unknown() -> None:
    facts = _facts(_assertion(order_id="O-2"))
    assert _failed(check_order(facts, CTX)) == {ReasonCode.ORDER_MISMATCH}
    unknown = DisputeContext(order_id="O-1", buyer_id="B-1", order=None, now=NOW)
    assert _failed(check_order(_facts(), unknown)) == {ReasonCode.ORDER_UNKNOWN}


def test_buyer_mismatch_for_claimant_and_capture_session() -> None:
    other = DisputeContext(order_id="O-1", buyer_id="B-9", order=ORDER, now=NOW)
    assert _failed(check_buyer(_facts(), other)) == {ReasonCode.BUYER_MISMATCH}


def test_shipment_capture_is_wrong_stage() -> None:
    facts = _facts(_assertion(stage=Stage.SHIPMENT, chain=()))
    assert _failed(check_stage(facts, CTX)) == {ReasonCode.WRONG_STAGE}


@pytest.mark.parametrize(
    "overrides",
    [
        {"ledger_record": None},
        {"shipment_records": {}},
        {
            "shipment_records": {
                SHIP_MANIFEST: _ledger(
                    SHIP_MANIFEST, "shipment", sealed_at=SHIPPED_AT, order_id="O-2"
                )
            }
        },
        {
            "shipment_records": {
                SHIP_MANIFEST: _ledger(
                    SHIP_MANIFEST, "shipment", sealed_at=NOW + timedelta(seconds=1)
                )
            }
        },
    ],
    ids=[
        "not-in-ledger",
        "shipment-unknown",
        "shipment-of-other-order",
        "shipment-sealed-after-receipt",
    ],
)
def test_chain_broken(overrides: dict[str, Any]) -> None:
    assert _failed(check_chain(_facts(**overrides), CTX)) == {ReasonCode.CHAIN_BROKEN}


def test_failing_shipment_ingredient_breaks_the_chain() -> None:
    assertion = _assertion()
    report = _report(
        _manifest(assertion=assertion, ingredient_failures=("claimSignature.mismatch",))
    )
    assert _failed(check_chain(_facts(assertion, report=report), CTX)) == {ReasonCode.CHAIN_BROKEN}


WINDOW_CLOSES = DELIVERY + timedelta(days=30)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (SHIPPED_AT - timedelta(seconds=1), False),
        (SHIPPED_AT, True),
        (SHIPPED_AT + timedelta(seconds=1), True),
        (WINDOW_CLOSES - timedelta(seconds=1), True),
        (WINDOW_CLOSES, True),
        (WINDOW_CLOSES + timedelta(seconds=1), False),
    ],
    ids=[
        "before-shipment",
        "at-shipment",
        "after-shipment",
        "before-close",
        "at-close",
        "after-close",
    ],
)
def test_capture_window_boundaries(moment: datetime, inside: bool) -> None:
    facts = _facts(_assertion(captured_at=moment.isoformat(), received_at=moment.isoformat()))
    failed = _failed(check_window(facts, CTX))
    assert failed == (set() if inside else {ReasonCode.CAPTURE_OUTSIDE_WINDOW})


def test_reuse_names_other_disputes() -> None:
    results = check_reuse(_facts(other_disputes=("dp_1",)), CTX)
    assert _failed(results) == {ReasonCode.EVIDENCE_REUSED}
    assert "dp_1" not in results[0].detail  # the platform sees that reuse was found
    assert "dp_1" in results[0].agent_detail  # agents see where


def test_near_duplicate_on_another_dispute_is_reuse() -> None:
    results = check_reuse(_facts(similar_disputes=("dp_2",)), CTX)
    assert _failed(results) == {ReasonCode.EVIDENCE_REUSED}
    assert "near-identical" in results[0].agent_detail


@pytest.mark.parametrize(
    ("revoked_at", "revoked"),
    [(NOW - timedelta(seconds=1), True), (NOW, True), (NOW + timedelta(seconds=1), False)],
    ids=["revoked-before-seal", "revoked-at-seal", "revoked-after-seal"],
)
def test_revocation_relative_to_the_seal(revoked_at: datetime, revoked: bool) -> None:
    facts = _facts(revoked_devices={"app-1": revoked_at})
    assert _failed(check_revocation(facts, CTX)) == (
        {ReasonCode.SIGNER_REVOKED} if revoked else set()
    )

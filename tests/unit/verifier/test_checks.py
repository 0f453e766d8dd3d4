"""Pure checks over hand-built facts: no files, no database, no clock."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evidence.manifest import ASSERTION_LABEL, CaptureAssertion, ChainLink, Stage
from evidence.reader import IngredientFacts, ManifestFacts, ReaderReport
from verifier.checks.chain import check_chain
from verifier.checks.content import check_ai_declared, check_edited_after_capture
from verifier.checks.identity import check_identity
from verifier.checks.integrity import check_integrity
from verifier.checks.order import check_buyer, check_order, check_stage
from verifier.checks.reuse import check_reuse
from verifier.checks.revocation import check_revocation
from verifier.checks.window import check_window
from verifier.models import CheckResult, DisputeContext, EvidenceFacts, LedgerEvidence, OrderFacts
from verifier.reasons import ReasonCode

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SHIPPED_AT = NOW - timedelta(days=5)
DELIVERY = NOW - timedelta(days=2)
ORDER = OrderFacts("O-1", "B-1", NOW - timedelta(days=6), DELIVERY)
CTX = DisputeContext(order_id="O-1", buyer_id="B-1", order=ORDER, now=NOW, receipt_window_days=30)
SHIP_MANIFEST = "urn:c2pa:ship"
#: Stand-ins for certificate DER: the checks only compare SHA-256 fingerprints.
SEALING_DER = b"orderseal sealing certificate"
DEVICE_DER = b"buyer app device certificate"
SEALING = frozenset({hashlib.sha256(SEALING_DER).hexdigest()})


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
    signer: bytes = SEALING_DER,
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
        signer_chain=(signer,),
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
        "report": _report(_manifest(assertion=assertion), extra=(_manifest(SHIP_MANIFEST),)),
        "assertion": assertion,
        "ledger_record": _ledger("urn:c2pa:receipt", "receipt", sealed_at=NOW, buyer="B-1"),
        "shipment_records": {
            SHIP_MANIFEST: _ledger(SHIP_MANIFEST, "shipment", sealed_at=SHIPPED_AT)
        },
        "sealing_fingerprints": SEALING,
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
    ("state", "failures", "signer", "expected"),
    [
        ("Valid", ("signingCredential.untrusted",), SEALING_DER, {ReasonCode.UNTRUSTED_SIGNER}),
        ("Invalid", ("assertion.dataHash.mismatch",), SEALING_DER, {ReasonCode.CONTENT_TAMPERED}),
        ("Invalid", ("claimSignature.mismatch",), SEALING_DER, {ReasonCode.SIGNATURE_INVALID}),
        ("Invalid", (), SEALING_DER, {ReasonCode.SIGNATURE_INVALID}),
        ("Trusted", ("signingCredential.revoked",), SEALING_DER, {ReasonCode.SIGNER_REVOKED}),
        ("Valid", (), SEALING_DER, {ReasonCode.UNTRUSTED_SIGNER}),
        ("Trusted", (), DEVICE_DER, {ReasonCode.UNTRUSTED_SIGNER}),
        (
            "Invalid",
            ("assertion.dataHash.mismatch",),
            DEVICE_DER,
            {ReasonCode.CONTENT_TAMPERED, ReasonCode.UNTRUSTED_SIGNER},
        ),
        ("Trusted", (), b"", {ReasonCode.UNTRUSTED_SIGNER}),
        (
            "Invalid",
            ("ingredient.manifest.mismatch",),
            SEALING_DER,
            {ReasonCode.CHAIN_BROKEN},
        ),
        ("Invalid", ("some.future.code",), SEALING_DER, {ReasonCode.SIGNATURE_INVALID}),
    ],
    ids=[
        "untrusted",
        "tampered-by-our-key",
        "bad-signature",
        "invalid-unexplained",
        "revoked-credential",
        "ours-but-not-chained",
        "device-key-trusted-by-c2pa",
        "device-key-tampered",
        "signer-unknown",
        "ingredient-mismatch",
        "unknown-code-fails-closed",
    ],
)
def test_integrity(
    state: str, failures: tuple[str, ...], signer: bytes, expected: set[ReasonCode]
) -> None:
    manifest = _manifest(assertion=_assertion(), signer=signer) if signer else _unsigned()
    facts = _facts(report=_report(manifest, state=state, failures=failures))
    assert _failed(check_integrity(facts, CTX)) == expected


def _unsigned() -> ManifestFacts:
    """A manifest whose signing certificate could not be read from the store."""
    manifest = _manifest(assertion=_assertion())
    return dataclasses.replace(manifest, signer_chain=())


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


def test_unsealed_file_on_another_orders_dispute_is_reuse() -> None:
    facts = _facts(ledger_record=None, other_disputes=("dp_1",), dispute_orders={"dp_1": "O-9"})
    results = check_reuse(facts, CTX)
    assert _failed(results) == {ReasonCode.EVIDENCE_REUSED}
    assert "dp_1" not in results[0].detail  # the platform sees that reuse was found
    assert "dp_1" in results[0].agent_detail  # agents see where


def test_own_sealed_evidence_is_not_reused_by_anothers_misuse() -> None:
    facts = _facts(other_disputes=("dp_1",), dispute_orders={"dp_1": "O-9"})
    results = check_reuse(facts, CTX)
    assert _failed(results) == set()
    assert "dp_1" in results[0].agent_detail  # agents still see the link


@pytest.mark.parametrize(
    "record",
    [
        _ledger("urn:c2pa:receipt", "receipt", sealed_at=NOW, order_id="O-2", buyer="B-1"),
        _ledger("urn:c2pa:receipt", "receipt", sealed_at=NOW, buyer="B-2"),
    ],
    ids=["sealed-for-another-order", "captured-by-another-buyer"],
)
def test_someone_elses_sealed_evidence_seen_elsewhere_is_reuse(record: LedgerEvidence) -> None:
    facts = _facts(ledger_record=record, other_disputes=("dp_1",), dispute_orders={"dp_1": "O-9"})
    assert _failed(check_reuse(facts, CTX)) == {ReasonCode.EVIDENCE_REUSED}


def test_our_key_is_required_for_ownership() -> None:
    facts = _facts(
        report=_report(_manifest(assertion=_assertion(), signer=DEVICE_DER)),
        other_disputes=("dp_1",),
        dispute_orders={"dp_1": "O-9"},
    )
    assert _failed(check_reuse(facts, CTX)) == {ReasonCode.EVIDENCE_REUSED}


def test_earlier_dispute_of_the_same_order_is_not_reuse() -> None:
    facts = _facts(
        ledger_record=None,
        other_disputes=("dp_1",),
        similar_disputes=("dp_1",),
        dispute_orders={"dp_1": "O-1"},
    )
    results = check_reuse(facts, CTX)
    assert _failed(results) == set()
    assert "dp_1" in results[0].agent_detail


def test_near_duplicate_on_another_dispute_is_reuse() -> None:
    facts = _facts(ledger_record=None, similar_disputes=("dp_2",), dispute_orders={"dp_2": "O-9"})
    results = check_reuse(facts, CTX)
    assert _failed(results) == {ReasonCode.EVIDENCE_REUSED}
    assert "near-identical" in results[0].agent_detail


def test_manifest_id_naming_other_bytes_is_not_as_sealed() -> None:
    altered = _ledger("urn:c2pa:receipt", "receipt", sealed_at=NOW, buyer="B-1")
    facts = _facts(ledger_record=None, altered_record=altered)
    assert _failed(check_identity(facts, CTX)) == {ReasonCode.NOT_AS_SEALED}
    assert _failed(check_chain(facts, CTX)) == set()  # one finding, one reason


def test_exact_sealed_bytes_pass_identity() -> None:
    results = check_identity(_facts(), CTX)
    assert [r.passed for r in results] == [True]


@pytest.mark.parametrize(
    "overrides",
    [
        {"ledger_record": None},
        {"assertion": None},
    ],
    ids=["not-in-ledger", "no-assertion"],
)
def test_our_seal_without_record_or_assertion_is_never_clean(overrides: dict[str, Any]) -> None:
    facts = dataclasses.replace(_facts(), **overrides)
    assert ReasonCode.CHAIN_BROKEN in _failed(check_chain(facts, CTX))


def test_assertion_disagreeing_with_its_ledger_row_breaks_the_chain() -> None:
    record = _ledger("urn:c2pa:receipt", "receipt", sealed_at=NOW, order_id="O-2", buyer="B-1")
    assert _failed(check_chain(_facts(ledger_record=record), CTX)) == {ReasonCode.CHAIN_BROKEN}


def test_shipment_manifest_signed_by_another_key_breaks_the_chain() -> None:
    report = _report(
        _manifest(assertion=_assertion()), extra=(_manifest(SHIP_MANIFEST, signer=DEVICE_DER),)
    )
    assert _failed(check_chain(_facts(report=report), CTX)) == {ReasonCode.CHAIN_BROKEN}


def test_third_party_c2pa_without_our_assertion_is_only_untrusted() -> None:
    report = _report(_manifest(signer=DEVICE_DER), state="Valid", failures=())
    facts = dataclasses.replace(_facts(report=report, ledger_record=None), assertion=None)
    assert check_chain(facts, CTX) == []
    assert _failed(check_integrity(facts, CTX)) == {ReasonCode.UNTRUSTED_SIGNER}


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

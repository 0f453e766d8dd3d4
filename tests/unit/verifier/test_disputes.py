"""Dispute use cases without HTTP: the honest path and the adversary's files, by reason code."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest

from evidence.manifest import Stage
from infra.errors import NotFoundError, OrderSealError
from keys.ca import generate_private_key, subject_name
from keys.profile import CertificateRole
from orderseal.forgery import legacy_device_certificate
from orderseal.samples import make_jpeg
from tests.support.device_signers import sign_as_device
from tests.unit.verifier.conftest import NOW, Sealed, World
from verifier.errors import DisputeError
from verifier.facts import AttachedFile
from verifier.models import Decision
from verifier.policy import DEFAULT_POLICY
from verifier.reasons import ReasonCode
from verifier.schemas import PlatformDisputeFilters, VerdictOut


def _file(world: World, order_id: str = "ORD-1", buyer_id: str = "B-1") -> str:
    dispute = world.disputes.file_dispute(
        order_id=order_id,
        buyer_id=buyer_id,
        claim_type="damaged",
        amount=Decimal("20.00"),
        currency="USD",
        now=NOW,
    )
    return dispute.dispute_id


def _honest(world: World) -> tuple[Sealed, Sealed]:
    world.order("ORD-1", "B-1")
    shipped = world.seal("ORD-1", Stage.SHIPMENT)
    return shipped, world.seal("ORD-1", Stage.RECEIPT, buyer_id="B-1", shipment=shipped, seed=2)


def _failed(verdict: VerdictOut) -> set[ReasonCode]:
    # A check carries a code exactly when it failed.
    return {check.code for item in verdict.evidence for check in item.checks if check.code}


def test_the_honest_receipt_is_allowed_and_recorded(world: World) -> None:
    _, received = _honest(world)
    dispute_id = _file(world)
    assert world.disputes.attach_sealed(dispute_id, received.row.evidence_id, now=NOW)
    verdict = world.disputes.decide(dispute_id, now=NOW)
    assert verdict.decision == Decision.ALLOW, _failed(verdict)
    assert verdict.reasons == ()
    assert world.disputes.history(dispute_id) == [verdict]
    assert world.disputes.dispute(dispute_id).decision == "allow"


def test_a_receipt_sealed_for_another_order_is_blocked(world: World) -> None:
    _, received = _honest(world)
    world.order("ORD-2", "B-1")
    dispute_id = _file(world, order_id="ORD-2")
    world.disputes.attach_sealed(dispute_id, received.row.evidence_id, now=NOW)
    verdict = world.disputes.decide(dispute_id, now=NOW)
    assert verdict.decision == Decision.BLOCK
    assert ReasonCode.ORDER_MISMATCH in {r.code for r in verdict.reasons}


def test_a_receipt_captured_by_another_buyer_is_blocked(world: World) -> None:
    world.order("ORD-1", "B-1")
    shipped = world.seal("ORD-1", Stage.SHIPMENT)
    theirs = world.seal("ORD-1", Stage.RECEIPT, buyer_id="B-other", shipment=shipped, seed=2)
    dispute_id = _file(world)
    world.disputes.attach_sealed(dispute_id, theirs.row.evidence_id, now=NOW)
    verdict = world.disputes.decide(dispute_id, now=NOW)
    assert verdict.decision == Decision.BLOCK
    assert ReasonCode.BUYER_MISMATCH in {r.code for r in verdict.reasons}


def test_shipment_media_is_not_receipt_evidence(world: World) -> None:
    shipped, _ = _honest(world)
    dispute_id = _file(world)
    world.disputes.attach_sealed(dispute_id, shipped.row.evidence_id, now=NOW)
    verdict = world.disputes.decide(dispute_id, now=NOW)
    assert verdict.decision == Decision.BLOCK
    assert ReasonCode.WRONG_STAGE in {r.code for r in verdict.reasons}


def test_a_device_signed_file_is_not_sealed_by_us(world: World) -> None:
    world.order("ORD-1", "B-1")
    device_ca = world.keys.load_ca("device-ca")
    key = generate_private_key()
    certificate = legacy_device_certificate(
        device_ca,
        key.public_key(),
        subject_name("buyer-rogue", unit="buyer"),
        role=CertificateRole.BUYER,
        now=NOW - timedelta(days=1),
        validity=timedelta(days=30),
    )
    source = make_jpeg(world.work / "staged.jpg", seed=7)
    signed = sign_as_device(
        source,
        world.work / "device-signed.jpg",
        private_key=key,
        chain=(certificate, *device_ca.chain_to_root[:-1]),
    )
    verdict = world.disputes.verify_files(
        [AttachedFile(signed, signed.name, "d" * 64)], order_id="ORD-1", buyer_id="B-1", now=NOW
    )
    assert verdict.decision != Decision.ALLOW
    assert ReasonCode.UNTRUSTED_SIGNER in _failed(verdict)


def test_a_receipt_reused_on_another_orders_dispute_is_blocked(world: World) -> None:
    _, received = _honest(world)
    world.order("ORD-2", "B-2")
    honest, misuse = _file(world), _file(world, order_id="ORD-2", buyer_id="B-2")
    world.disputes.attach_sealed(honest, received.row.evidence_id, now=NOW)
    world.disputes.attach_sealed(misuse, received.row.evidence_id, now=NOW)
    verdict = world.disputes.decide(misuse, now=NOW)
    assert verdict.decision == Decision.BLOCK
    assert {ReasonCode.EVIDENCE_REUSED, ReasonCode.ORDER_MISMATCH} <= {
        r.code for r in verdict.reasons
    }
    # The other dispute is named for agents only; the platform learns the outcome.
    (reuse,) = [c for c in verdict.evidence[0].checks if c.check == "reuse"]
    assert honest in reuse.agent_detail
    platform = verdict.platform_view().evidence[0].checks
    assert all(not c.agent_detail for c in platform)
    # The honest claim stays allowed: the copy on another order is that claim's misuse.
    assert world.disputes.decide(honest, now=NOW).decision == Decision.ALLOW


def test_a_second_dispute_on_the_same_order_is_not_reuse(world: World) -> None:
    _, received = _honest(world)
    first, second = _file(world), _file(world)
    world.disputes.attach_sealed(first, received.row.evidence_id, now=NOW)
    world.disputes.attach_sealed(second, received.row.evidence_id, now=NOW)
    verdict = world.disputes.decide(second, now=NOW)
    assert ReasonCode.EVIDENCE_REUSED not in _failed(verdict)
    assert verdict.decision == Decision.ALLOW


def test_no_evidence_sends_the_claim_to_a_person(world: World) -> None:
    world.order("ORD-1", "B-1")
    verdict = world.disputes.decide(_file(world), now=NOW)
    assert verdict.decision == Decision.REVIEW
    assert [r.code for r in verdict.reasons] == [ReasonCode.NO_EVIDENCE]


def test_an_unknown_claim_type_is_refused(world: World) -> None:
    with pytest.raises(DisputeError) as caught:
        world.disputes.file_dispute(
            order_id="ORD-1",
            buyer_id="B-1",
            claim_type="not_received",
            amount=Decimal(1),
            currency="USD",
            now=NOW,
        )
    assert caught.value.code == "claim_type_invalid"


@pytest.mark.parametrize("call", ["dispute", "history"], ids=str)
def test_an_unknown_dispute_is_not_found(world: World, call: str) -> None:
    with pytest.raises(NotFoundError) as caught:
        getattr(world.disputes, call)("dp_missing")
    assert caught.value.code == "dispute_not_found"


def test_unknown_evidence_is_not_found(world: World) -> None:
    dispute_id = _file(world)
    with pytest.raises(NotFoundError) as caught:
        world.disputes.attach_sealed(dispute_id, "ev_missing", now=NOW)
    assert caught.value.code == "evidence_not_found"


def test_attaching_twice_is_not_a_second_attachment(world: World) -> None:
    _, received = _honest(world)
    dispute_id = _file(world)
    assert world.disputes.attach_sealed(dispute_id, received.row.evidence_id, now=NOW)
    assert not world.disputes.attach_sealed(dispute_id, received.row.evidence_id, now=NOW)


def test_summaries_filter_by_the_latest_reason(world: World) -> None:
    world.order("ORD-1", "B-1")
    dispute_id = _file(world)
    world.disputes.decide(dispute_id, now=NOW)
    assert [s.dispute_id for s in world.disputes.summaries(reason="no_evidence")] == [dispute_id]
    assert world.disputes.summaries(reason="evidence_reused") == []
    assert world.disputes.summaries(decision=Decision.ALLOW) == []


def test_with_policy_differs_in_the_policy_only_and_never_audits(world: World) -> None:
    candidate_policy = dataclasses.replace(DEFAULT_POLICY, dry_run=True)
    candidate = world.disputes.with_policy(candidate_policy)
    assert candidate.policy is candidate_policy
    assert (candidate.facts, candidate.store) == (world.disputes.facts, world.disputes.store)
    assert candidate.audit_signer is None
    world.order("ORD-1", "B-1")
    dispute_id = _file(world)
    verdict = candidate.evaluate_dispute(dispute_id, now=NOW)
    assert (verdict.decision, verdict.dry_run) == (Decision.REVIEW, True)
    assert world.disputes.history(dispute_id) == []  # evaluating records nothing


# Detach, re-decisions and the platform's page (issue 16 §2-3) ------------------------------
def _code(call: object) -> str:
    with pytest.raises(OrderSealError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_detach_before_decision_kept_after(world: World) -> None:
    _, received = _honest(world)
    dispute_id = _file(world)
    world.disputes.attach_sealed(dispute_id, received.row.evidence_id, now=NOW)
    sha = received.row.sealed_sha256
    assert _code(lambda: world.disputes.detach(dispute_id, "0" * 64, now=NOW)) == (
        "attachment_not_found"
    )
    world.disputes.detach(dispute_id, sha, now=NOW)
    assert world.ledger.attachments(dispute_id) == []
    world.disputes.attach_sealed(dispute_id, received.row.evidence_id, now=NOW)
    world.disputes.decide(dispute_id, now=NOW)
    assert _code(lambda: world.disputes.detach(dispute_id, sha, now=NOW)) == "dispute_decided"
    assert len(world.ledger.attachments(dispute_id)) == 1
    assert _code(lambda: world.disputes.detach("dp_none", sha, now=NOW)) == "dispute_not_found"


def test_each_re_decision_says_why(world: World) -> None:
    shipped, received = _honest(world)
    dispute_id = _file(world)
    world.disputes.attach_sealed(dispute_id, received.row.evidence_id, now=NOW)
    world.disputes.decide(dispute_id, now=NOW)
    world.disputes.decide(dispute_id, now=NOW + timedelta(seconds=1))
    world.disputes.attach_sealed(dispute_id, shipped.row.evidence_id, now=NOW)
    world.disputes.decide(dispute_id, now=NOW + timedelta(seconds=2))
    reasons = [entry.change_reason for entry in world.disputes.history_entries(dispute_id)]
    assert reasons == [None, "re_evaluated", "evidence_added"]


def test_platform_page_filters_and_pages(world: World) -> None:
    ids = [_file(world, order_id="ORD-P") for _ in range(3)]
    world.disputes.decide(ids[0], now=NOW)  # no evidence: review, no_evidence
    first = world.disputes.platform_page(PlatformDisputeFilters(order_id="ORD-P", limit=2))
    assert len(first.disputes) == 2
    assert first.next_cursor is not None
    rest = world.disputes.platform_page(
        PlatformDisputeFilters(order_id="ORD-P", limit=2, cursor=first.next_cursor)
    )
    assert {d.dispute_id for d in [*first.disputes, *rest.disputes]} == set(ids)
    assert rest.next_cursor is None
    decided = world.disputes.platform_page(
        PlatformDisputeFilters(order_id="ORD-P", reason=ReasonCode.NO_EVIDENCE)
    )
    assert [d.dispute_id for d in decided.disputes] == [ids[0]]
    assert decided.disputes[0].status == "decided"
    other = PlatformDisputeFilters(order_id="ORD-Q", cursor=first.next_cursor)
    assert _code(lambda: world.disputes.platform_page(other)) == "cursor_invalid"

"""Order, buyer and stage binding of OrderSeal evidence."""

from __future__ import annotations

from evidence.manifest import Stage
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_buyer", "check_order", "check_stage"]


def check_order(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """The order exists in the ledger and the sealed file names it."""
    results = [
        CheckResult(
            "order_known",
            ReasonCode.ORDER_UNKNOWN,
            ctx.order is not None,
            "order is registered" if ctx.order else f"order {ctx.order_id} is not in the ledger",
        )
    ]
    if facts.assertion is not None:
        sealed_for = facts.assertion.order_id
        results.append(
            CheckResult(
                "order_match",
                ReasonCode.ORDER_MISMATCH,
                sealed_for == ctx.order_id,
                "sealed for this order"
                if sealed_for == ctx.order_id
                else f"sealed for another order ({sealed_for}), not {ctx.order_id}",
            )
        )
    return results


def check_buyer(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """The claimant is the order's buyer, and the receipt was captured by that buyer."""
    if ctx.buyer_id is None:
        return []
    results: list[CheckResult] = []
    if ctx.order is not None:
        ok = ctx.order.buyer_id == ctx.buyer_id
        results.append(
            CheckResult(
                "buyer_match",
                ReasonCode.BUYER_MISMATCH,
                ok,
                "claimant is the order's buyer" if ok else "claimant is not the order's buyer",
            )
        )
    record = facts.ledger_record
    if record is not None and record.session_buyer_id is not None:
        ok = record.session_buyer_id == ctx.buyer_id
        results.append(
            CheckResult(
                "capture_buyer",
                ReasonCode.BUYER_MISMATCH,
                ok,
                "captured in the claimant's receipt session"
                if ok
                else "captured in another buyer's receipt session",
            )
        )
    return results


_NOT_RECEIPT = {
    Stage.SHIPMENT: "sealed at shipment, not at receipt: it shows the parcel as shipped",
    Stage.REVIEW: "sealed for a product review after receipt, not at receipt: it does not show "
    "the parcel as it was opened",
}


def check_stage(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Dispute evidence must be receipt evidence: shipment media proves the seller's side."""
    if facts.assertion is None:
        return []
    stage = facts.assertion.stage
    return [
        CheckResult(
            "stage",
            ReasonCode.WRONG_STAGE,
            stage == Stage.RECEIPT,
            "receipt capture" if stage == Stage.RECEIPT else _NOT_RECEIPT[stage],
        )
    ]

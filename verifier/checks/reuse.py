"""Reuse: the same bytes, manifest or a near copy misused on another order's dispute.

Reuse means misuse, not ownership (docs/reason-codes.md, "Reuse"):

* sealed evidence claimed on its own order, by the buyer whose receipt session captured
  it, is never ``evidence_reused``: when the same file sits on another order's dispute,
  that other claim is the misuse (it gets ``order_mismatch`` and ``evidence_reused``);
* a dispute of the same order is not reuse either: a second refund on one order is the
  policy's per-order refund limit, not a block;
* any other file (unsealed, another order's sealed evidence, a near-duplicate picture)
  seen on another order's dispute is ``evidence_reused``.

Agents always see the links; the platform only learns the outcome.
"""

from __future__ import annotations

from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_reuse"]


def check_reuse(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Flag evidence seen on another order's dispute unless it is this claim's own seal."""
    exact = [d for d in facts.other_disputes if facts.dispute_orders.get(d) != ctx.order_id]
    similar = [
        d
        for d in facts.similar_disputes
        if d not in facts.other_disputes and facts.dispute_orders.get(d) != ctx.order_id
    ]
    same_order = sorted(
        {
            d
            for d in (*facts.other_disputes, *facts.similar_disputes)
            if facts.dispute_orders.get(d) == ctx.order_id
        }
    )
    links = []
    if exact:
        links.append(f"the same file on {', '.join(exact)}")
    if similar:
        links.append(f"a near-identical picture on {', '.join(similar)}")
    if same_order:
        links.append(f"also on this order's dispute(s) {', '.join(same_order)}")
    agent_detail = "; ".join(links)
    if not exact and not similar:
        detail = (
            "seen only on disputes of this order" if same_order else "not seen on another dispute"
        )
        return [
            CheckResult(
                "reuse", ReasonCode.EVIDENCE_REUSED, True, detail, agent_detail=agent_detail
            )
        ]
    if _own_sealed_evidence(facts, ctx):
        return [
            CheckResult(
                "reuse",
                ReasonCode.EVIDENCE_REUSED,
                True,
                "sealed evidence of this order, claimed by its own buyer; a copy on another "
                "order's dispute is that claim's misuse",
                agent_detail=agent_detail,
            )
        ]
    detail = (
        "this file was already attached to another order's dispute"
        if exact
        else "a near-identical copy of this picture was attached to another order's dispute"
    )
    return [
        CheckResult("reuse", ReasonCode.EVIDENCE_REUSED, False, detail, agent_detail=agent_detail)
    ]


def _own_sealed_evidence(facts: EvidenceFacts, ctx: DisputeContext) -> bool:
    """These exact bytes are our seal for this order, captured by this claimant (if named)."""
    record = facts.ledger_record
    if record is None or not facts.sealed_by_orderseal or record.order_id != ctx.order_id:
        return False
    if ctx.buyer_id is None or record.session_buyer_id is None:
        # Shipment evidence has no buyer; wrong_stage judges it. A one-off check without a
        # claimant only asks whether the file belongs to the order.
        return ctx.buyer_id is None or record.stage == "shipment"
    return record.session_buyer_id == ctx.buyer_id

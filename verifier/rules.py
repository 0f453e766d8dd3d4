"""Dispute-level policy rules (pure): claim value, required media, claimant history, and the
merchant's wrong-item rate (whose rule name is :data:`MERCHANT_RULE`).

Each rule returns a ``RuleTraceOut`` whether it fired or not, so the trace shows every rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from verifier.models import Decision, DisputeContext
from verifier.policy import Policy
from verifier.schemas import EvidenceVerdictOut, RuleTraceOut

__all__ = ["MERCHANT_RULE", "apply_rules"]

#: The rule whose firing is reported as ``merchant_wrong_item_rate``, not ``policy_review``.
MERCHANT_RULE = "merchant_wrong_item_rate"


def _rule(rule: str, fired: bool, detail: str) -> RuleTraceOut:
    return RuleTraceOut(rule=rule, fired=fired, detail=detail)


def _allowed(evidence: Sequence[EvidenceVerdictOut], prefix: str) -> int:
    return sum(
        1
        for verdict in evidence
        if verdict.decision == Decision.ALLOW and (verdict.media_type or "").startswith(prefix)
    )


def apply_rules(
    policy: Policy, ctx: DisputeContext, evidence: Sequence[EvidenceVerdictOut]
) -> tuple[RuleTraceOut, ...]:
    """Evaluate every dispute rule of ``policy`` for this claim."""
    results: list[RuleTraceOut] = []
    threshold = policy.review_above.get(ctx.currency or "")
    if threshold is not None and ctx.amount is not None:
        results.append(
            _rule(
                "value_threshold",
                ctx.amount > threshold,
                f"claim {ctx.amount} {ctx.currency} above the review threshold {threshold}"
                if ctx.amount > threshold
                else f"claim {ctx.amount} {ctx.currency} within {threshold}",
            )
        )
    if ctx.claim_type and ctx.claim_type in policy.video_required_for:
        videos = _allowed(evidence, "video/")
        results.append(
            _rule(
                "video_required",
                videos == 0,
                f"claim type {ctx.claim_type} needs a sealed receipt video, found {videos}",
            )
        )
    if policy.min_photos:
        photos = _allowed(evidence, "image/")
        results.append(
            _rule(
                "min_photos",
                photos < policy.min_photos,
                f"{photos} sealed receipt photo(s), the policy asks for {policy.min_photos}",
            )
        )
    if policy.max_refunds_per_order is not None:
        refunds = ctx.prior_refunds_for_order
        results.append(
            _rule(
                "refunds_per_order",
                refunds >= policy.max_refunds_per_order,
                f"{refunds} earlier refund(s) on this order, limit {policy.max_refunds_per_order}",
            )
        )
    if policy.max_disputes_per_buyer is not None:
        recent = ctx.prior_disputes_for_buyer
        results.append(
            _rule(
                "disputes_per_buyer",
                recent >= policy.max_disputes_per_buyer,
                f"{recent} other dispute(s) by this buyer in {policy.buyer_window_days} days, "
                f"limit {policy.max_disputes_per_buyer}",
            )
        )
    if policy.max_swaps_per_buyer is not None:
        swaps = ctx.prior_swaps_for_buyer
        results.append(
            _rule(
                "swaps_per_buyer",
                swaps >= policy.max_swaps_per_buyer,
                f"{swaps} other dispute(s) by this buyer in {policy.buyer_window_days} days "
                f"point to a swapped unit, limit {policy.max_swaps_per_buyer}",
            )
        )
    if policy.max_wrong_item_rate is not None:
        results.append(_wrong_item_rate(policy, ctx))
    return tuple(results)


def _wrong_item_rate(policy: Policy, ctx: DisputeContext) -> RuleTraceOut:
    total, wrong = ctx.merchant_disputes, ctx.merchant_wrong_items
    limit = policy.max_wrong_item_rate
    if limit is None or total < policy.wrong_item_min_disputes:
        return _rule(
            MERCHANT_RULE,
            False,
            f"{total} decided dispute(s) of the merchant in {policy.merchant_window_days} days, "
            f"fewer than the {policy.wrong_item_min_disputes} the wrong-item rate needs",
        )
    rate = Decimal(wrong) / Decimal(total)
    return _rule(
        MERCHANT_RULE,
        rate >= limit,
        f"{wrong} of the merchant's {total} decided dispute(s) in "
        f"{policy.merchant_window_days} days were a wrong item shipped ({rate:.0%}), "
        f"review from {limit:.0%}",
    )

"""Dispute-level policy rules (pure): claim value, required media, claimant history.

Each rule returns a ``RuleTraceOut`` whether it fired or not, so the trace shows every rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from verifier.models import Decision, DisputeContext
from verifier.policy import Policy
from verifier.schemas import EvidenceVerdictOut, RuleTraceOut

__all__ = ["apply_rules"]


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
    return tuple(results)

"""Reuse: the same bytes or manifest already attached to another dispute."""

from __future__ import annotations

from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_reuse"]


def check_reuse(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Flag evidence seen on another dispute: the same bytes or manifest, or a near copy.

    The other disputes are named to agents only; the platform learns that reuse was found.
    """
    exact, similar = (
        facts.other_disputes,
        tuple(d for d in facts.similar_disputes if d not in facts.other_disputes),
    )
    if not exact and not similar:
        return [
            CheckResult("reuse", ReasonCode.EVIDENCE_REUSED, True, "not seen on another dispute")
        ]
    kinds = []
    if exact:
        kinds.append(f"the same file on {', '.join(exact)}")
    if similar:
        kinds.append(f"a near-identical picture on {', '.join(similar)}")
    detail = (
        "this file was already attached to another dispute"
        if exact
        else "a near-identical copy of this picture was attached to another dispute"
    )
    return [
        CheckResult(
            "reuse", ReasonCode.EVIDENCE_REUSED, False, detail, agent_detail="; ".join(kinds)
        )
    ]

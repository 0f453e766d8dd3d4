"""Reuse: the same bytes or manifest already attached to another dispute."""

from __future__ import annotations

from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_reuse"]


def check_reuse(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Flag evidence seen on another dispute (the other dispute ids are for agents only)."""
    reused = bool(facts.other_disputes)
    return [
        CheckResult(
            "reuse",
            ReasonCode.EVIDENCE_REUSED,
            not reused,
            f"already attached to dispute(s) {', '.join(facts.other_disputes)}"
            if reused
            else "not seen on another dispute",
        )
    ]

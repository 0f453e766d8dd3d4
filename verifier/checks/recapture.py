"""Recapture: a photo that looks like a photograph of a screen (advice unless routed).

The facts carry the photo's recapture score (``evidence.recapture``: narrow periodic peaks in
its spectrum, left by a screen's pixel grid and its moire). A score at or above the threshold
is a suspected recapture. It fails (``recapture_suspected``, review) only when the policy
routes it (``[evidence] recapture_review``); otherwise the check passes and its detail tells
the agent, because the score has a measured false-positive rate (a real grid, a knitted
jumper) and must never block or even hold a claim on its own.

Adversary: a buyer who photographs the screen showing someone's honest sealed photo (or a
generated one) with the buyer app, so that the recapture is sealed as live.
"""

from __future__ import annotations

from evidence.recapture import RECAPTURE_THRESHOLD
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_recapture"]

_CHECK = "recapture"


def check_recapture(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """The photo's recapture score against the threshold; nothing for videos."""
    score = facts.recapture_score
    if score is None:
        return []
    measured = f"recapture score {score:.1f} (threshold {RECAPTURE_THRESHOLD:.1f})"
    if score < RECAPTURE_THRESHOLD:
        return [CheckResult(_CHECK, ReasonCode.RECAPTURE_SUSPECTED, True, measured)]
    if not ctx.recapture_review:
        return [
            CheckResult(
                _CHECK,
                ReasonCode.RECAPTURE_SUSPECTED,
                True,
                f"advice: the photo may be a picture of a screen, {measured}; the policy does "
                "not route it to review",
            )
        ]
    return [
        CheckResult(
            _CHECK,
            ReasonCode.RECAPTURE_SUSPECTED,
            False,
            f"the photo looks like a picture of a screen, {measured}",
        )
    ]

"""Stage checks for review images (issue 19 §3): which stage a sealed file must come from.

A dispute wants receipt evidence (``verifier.checks.order.check_stage``); a review image must
be the buyer's sealed review photo, and a seller's counter-image the station's packing
evidence. A file sealed at another stage is ``wrong_stage``: a receipt photo shown as a
review photo, or a buyer's photo put forward by the seller.
"""

from __future__ import annotations

from evidence.manifest import Stage
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_counter_stage", "check_review_stage"]


def _stage_is(facts: EvidenceFacts, wanted: Stage, what: str) -> list[CheckResult]:
    if facts.assertion is None:
        return []
    stage = facts.assertion.stage
    return [
        CheckResult(
            "stage",
            ReasonCode.WRONG_STAGE,
            stage == wanted,
            what if stage == wanted else f"sealed at {stage.value}, not at {wanted.value}",
        )
    ]


def check_review_stage(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """A review image must be sealed at the review stage."""
    return _stage_is(facts, Stage.REVIEW, "review photo")


def check_counter_stage(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """A seller's counter-image must be the packing station's shipment evidence."""
    return _stage_is(facts, Stage.SHIPMENT, "packing station evidence")

"""Recovered copies: a file without a manifest, traced by its perceptual hash to sealed evidence.

The facts then describe the sealed original we hold (``EvidenceFacts.recovered``), so every
other check judges what was really sealed, not the copy. This check says which case it is:

* the original is this order's and was captured by this claimant: ``manifest_recovered``
  (review by default; a policy may allow it, ``verifier.policy.ALLOWABLE``);
* the original is another order's: ``evidence_reused`` (a buyer who found a sealed photo of
  someone else's parcel and stripped it);
* the original is this order's but not the claimant's capture: ``buyer_mismatch``.

Adversaries: a false match (an unrelated picture within the radius) can only lead to allow when
the original it points to is this order's and this buyer's, and the claim is then judged on
that original, which shows what was really there. The same holds for a buyer who crafts an
image to collide with a sealed hash of their own order: they gain nothing that their own sealed
capture did not already show. An index flooded with sealings bounds the lookup; a truncated
lookup never allows (``no_manifest``, review).
"""

from __future__ import annotations

from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_recovered"]

_CHECK = "recovered"


def check_recovered(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Name the sealed original of a stripped copy, and whose it is."""
    recovered = facts.recovered
    if recovered is None:
        return []
    original = recovered.original
    agent = (
        f"traced to sealed {original.stage} evidence {original.evidence_id} of order "
        f"{original.order_id}, {recovered.distance} of 64 bits apart"
    )
    if original.order_id != ctx.order_id:
        return [
            CheckResult(
                _CHECK,
                ReasonCode.EVIDENCE_REUSED,
                False,
                "a copy, without its Content Credentials, of evidence sealed for another order",
                agent_detail=agent,
            )
        ]
    if ctx.buyer_id is not None and original.session_buyer_id != ctx.buyer_id:
        return [
            CheckResult(
                _CHECK,
                ReasonCode.BUYER_MISMATCH,
                False,
                "a copy of evidence sealed for this order, but not captured by the claimant",
                agent_detail=agent,
            )
        ]
    results = [
        CheckResult(
            _CHECK,
            ReasonCode.MANIFEST_RECOVERED,
            False,
            "a copy without Content Credentials of this claim's own sealed evidence "
            f"{original.evidence_id}; judged on the sealed original",
            agent_detail=agent,
        )
    ]
    if recovered.truncated:
        results.append(
            CheckResult(
                _CHECK,
                ReasonCode.NO_MANIFEST,
                False,
                "the fingerprint lookup stopped at its bound; a person compares the copy",
                agent_detail=agent,
            )
        )
    return results

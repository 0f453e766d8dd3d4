"""Public verify view: anyone can check whether a file carries an intact OrderSeal chain.

The file goes through the same gather step and the same engine as a dispute, with the public
check set (the checks that need no order or claimant). The answer is stages, times and fixed
messages only: no order, buyer or device identities, whoever asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel

from evidence.manifest import ASSERTION_LABEL, Stage
from evidence.reader import ManifestFacts
from verifier.checks import Check
from verifier.checks.chain import check_chain
from verifier.checks.content import check_ai_declared, check_edited_after_capture
from verifier.checks.identity import check_identity
from verifier.checks.integrity import check_integrity
from verifier.engine import evaluate_evidence
from verifier.facts import AttachedFile, FactGatherer
from verifier.models import DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode
from verifier.schemas import ReasonOut

__all__ = [
    "PUBLIC_MESSAGES",
    "STAGE_WORDS",
    "PublicVerifier",
    "PublicVerifyOut",
    "StageOut",
    "public_checks",
]

#: What anyone is told per finding: fixed text, so no evidence id or ledger detail leaks.
PUBLIC_MESSAGES: dict[ReasonCode, str] = {
    ReasonCode.NO_MANIFEST: "The file carries no embedded Content Credentials.",
    ReasonCode.UNSUPPORTED_MEDIA: "The file is not a photo or video format that can be checked.",
    ReasonCode.CORRUPT_MEDIA: "The file or its Content Credentials are malformed.",
    ReasonCode.SIGNATURE_INVALID: "The Content Credentials signature does not verify.",
    ReasonCode.CONTENT_TAMPERED: "The content changed after it was signed.",
    ReasonCode.UNTRUSTED_SIGNER: "It was not sealed by the OrderSeal capture service.",
    ReasonCode.SIGNER_REVOKED: "The signing certificate was revoked.",
    ReasonCode.AI_GENERATED_DECLARED: "Its Content Credentials declare generative AI.",
    ReasonCode.EDITED_AFTER_CAPTURE: "It was edited and re-signed after capture.",
    ReasonCode.NOT_AS_SEALED: "The file was changed after OrderSeal sealed it.",
    ReasonCode.CHAIN_BROKEN: "Its seal does not match the OrderSeal record.",
}
_OTHER_MESSAGE = "The file does not verify as OrderSeal evidence."
#: Each sealed stage in plain words, for people who do not know our vocabulary (issue 19 §3).
STAGE_WORDS: dict[str, str] = {
    Stage.SHIPMENT.value: "Shipment: photographed at the seller's packing station",
    Stage.RECEIPT.value: "Receipt: filmed or photographed by the buyer while unboxing",
    Stage.REVIEW.value: "Review: photographed by the buyer for a product review, after receipt",
}
_UNKNOWN_STAGE = "A stage OrderSeal does not know"


class StageOut(BaseModel):
    stage: str
    #: The stage in plain words (``STAGE_WORDS``).
    label: str
    captured_at: str | None
    sealed_at: str | None


class PublicVerifyOut(BaseModel):
    carries_orderseal_chain: bool
    intact: bool
    stages: list[StageOut]
    findings: list[ReasonOut]
    summary: str


def public_checks(facts: EvidenceFacts) -> tuple[Check, ...]:
    """The checks a file gets without a claim.

    Ledger answers go only to a file that proves them: identity for a file our key signed,
    the chain for the very bytes we sealed. Anyone else learns nothing about the ledger.
    """
    if facts.report is None:
        return (check_integrity,)
    checks: list[Check] = [check_integrity, check_ai_declared, check_edited_after_capture]
    if facts.sealed_by_orderseal:
        checks.append(check_identity)
    if facts.ledger_record is not None:
        checks.append(check_chain)
    return tuple(checks)


def _public_finding(code: ReasonCode) -> ReasonOut:
    return ReasonOut(code=code, message=PUBLIC_MESSAGES.get(code, _OTHER_MESSAGE))


def _stages(manifests: Mapping[str, ManifestFacts]) -> list[StageOut]:
    stages = []
    for manifest in manifests.values():
        data = manifest.assertions.get(ASSERTION_LABEL)
        if isinstance(data, dict):
            stage = str(data.get("stage", "unknown"))
            stages.append(
                StageOut(
                    stage=stage,
                    label=STAGE_WORDS.get(stage, _UNKNOWN_STAGE),
                    captured_at=data.get("captured_at"),
                    sealed_at=data.get("received_at"),
                )
            )
    return sorted(stages, key=lambda s: s.sealed_at or "")


class PublicVerifier:
    """Judges a file for anyone: the dispute engine with the public check set."""

    def __init__(self, *, facts: FactGatherer) -> None:
        self.facts = facts

    def examine(self, file: AttachedFile, *, now: datetime) -> PublicVerifyOut:
        """Judge the file by the dispute rules that need no order, and keep what anyone may know.

        The facts come from the same ``gather`` as dispute verdicts and ``orderseal verify``:
        the sealing authority, identity by content and the ledger row all count here too.
        """
        ctx = DisputeContext(order_id="", buyer_id=None, order=None, now=now)
        facts = self.facts.gather(file, dispute_id=None, with_reuse=False)
        verdict = evaluate_evidence(facts, ctx, checks=public_checks(facts))
        # A check carries a code exactly when it failed.
        findings = [_public_finding(c.code) for c in verdict.checks if c.code is not None]
        report = facts.report
        if report is None:
            return PublicVerifyOut(
                carries_orderseal_chain=False,
                intact=False,
                stages=[],
                findings=findings,
                summary="This file carries no readable Content Credentials.",
            )
        ours = facts.sealed_by_orderseal and facts.assertion is not None
        claims_ours = ASSERTION_LABEL in report.active_manifest.assertions
        intact = (
            ours
            and not findings
            and not report.ingredient_failure_codes
            and report.state == "Trusted"
            and facts.ledger_record is not None
        )
        if intact:
            summary = (
                "Intact OrderSeal evidence: sealed by the OrderSeal capture service, "
                "unchanged since."
            )
        elif claims_ours or facts.sealed_by_orderseal:
            summary = (
                "This file claims an OrderSeal seal, but it does not verify: do not rely on it."
            )
        else:
            summary = "This file is not OrderSeal evidence."
        return PublicVerifyOut(
            carries_orderseal_chain=intact,
            intact=intact,
            stages=_stages(report.manifests) if intact else [],
            findings=findings,
            summary=summary,
        )

"""Review images (issue 19 §3): is a picture shown in a product review sealed evidence?

Two questions, both answered by the dispute engine with their own check sets:

* **The platform** asks, for any image a review shows, whether it is this order's and this
  buyer's sealed review photo (``review_sealed``), a copy stripped of its Content Credentials
  of one (``manifest_recovered``, with the original), another order's or buyer's evidence
  (``evidence_reused``, ``order_mismatch``, ``buyer_mismatch``), a photo of another stage
  (``wrong_stage``: a receipt photo is not a review photo), signed by someone else
  (``untrusted_signer``: the buyer's own key, say), or unsealed (``no_manifest``).
* **A seller's counter-image** against a review counts only when it is sealed packing
  evidence of that very order (``counter_sealed``). A generated picture is ``no_manifest``,
  another order's station photo ``order_mismatch``, a buyer's photo ``wrong_stage``.

Every other failure (tampered, re-signed, revoked, not as sealed, a broken chain) answers
``not_verified``; ``reasons`` always lists each failed check's code (docs/reason-codes.md,
"Review images").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from infra.errors import NotFoundError
from verifier.checks import Check
from verifier.checks.chain import check_chain
from verifier.checks.content import check_ai_declared, check_edited_after_capture
from verifier.checks.identity import check_identity
from verifier.checks.integrity import check_integrity
from verifier.checks.order import check_buyer, check_order
from verifier.checks.recovered import check_recovered
from verifier.checks.review import check_counter_stage, check_review_stage
from verifier.checks.revocation import check_revocation
from verifier.engine import evaluate_evidence
from verifier.facts import AttachedFile, FactGatherer
from verifier.policy import DEFAULT_POLICY
from verifier.reasons import ReasonCode
from verifier.schemas import EvidenceVerdictOut, ReasonOut

__all__ = [
    "COUNTER_CHECKS",
    "REVIEW_CHECKS",
    "CounterAnswer",
    "CounterImageOut",
    "ReviewAnswer",
    "ReviewImageOut",
    "ReviewImageQuery",
    "ReviewImages",
]

_BASE: tuple[Check, ...] = (
    check_integrity,
    check_identity,
    check_ai_declared,
    check_edited_after_capture,
    check_revocation,
    check_order,
    check_chain,
)
#: A review image: our seal, this order and buyer, the review stage, traced if stripped.
REVIEW_CHECKS: tuple[Check, ...] = (*_BASE, check_buyer, check_review_stage, check_recovered)
#: A counter-image: our seal, this order, the shipment stage, traced if stripped.
COUNTER_CHECKS: tuple[Check, ...] = (*_BASE, check_counter_stage, check_recovered)


class ReviewAnswer(StrEnum):
    """What an image shown in a review is (docs/reason-codes.md, "Review images")."""

    REVIEW_SEALED = "review_sealed"
    MANIFEST_RECOVERED = "manifest_recovered"
    EVIDENCE_REUSED = "evidence_reused"
    ORDER_MISMATCH = "order_mismatch"
    BUYER_MISMATCH = "buyer_mismatch"
    WRONG_STAGE = "wrong_stage"
    UNTRUSTED_SIGNER = "untrusted_signer"
    NO_MANIFEST = "no_manifest"
    NOT_VERIFIED = "not_verified"


class CounterAnswer(StrEnum):
    """What a seller's counter-image is; only ``counter_sealed`` counts."""

    COUNTER_SEALED = "counter_sealed"
    MANIFEST_RECOVERED = "manifest_recovered"
    EVIDENCE_REUSED = "evidence_reused"
    ORDER_MISMATCH = "order_mismatch"
    WRONG_STAGE = "wrong_stage"
    UNTRUSTED_SIGNER = "untrusted_signer"
    NO_MANIFEST = "no_manifest"
    NOT_VERIFIED = "not_verified"


#: First failed code wins; anything not listed is ``not_verified``. Whose evidence it is comes
#: before how it fails, and ``manifest_recovered`` only when nothing else failed.
_PRECEDENCE: tuple[ReasonCode, ...] = (
    ReasonCode.EVIDENCE_REUSED,
    ReasonCode.ORDER_MISMATCH,
    ReasonCode.BUYER_MISMATCH,
    ReasonCode.UNTRUSTED_SIGNER,
    ReasonCode.WRONG_STAGE,
)
_UNSEALED = (ReasonCode.NO_MANIFEST, ReasonCode.UNSUPPORTED_MEDIA, ReasonCode.CORRUPT_MEDIA)


class ReviewImageQuery(BaseModel):
    """Which review the image is shown in: the order and the buyer who wrote it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    buyer_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ReviewImageOut(BaseModel):
    """The answer for one review image."""

    model_config = ConfigDict(frozen=True)

    answer: ReviewAnswer
    #: True exactly when ``answer`` is ``review_sealed``.
    review_sealed: bool
    order_id: str
    buyer_id: str
    content_sha256: str
    #: The stage the file (or its recovered original) was sealed at; None when unsealed.
    stage: str | None
    #: This file's own sealed evidence, when it is byte for byte what we sealed.
    evidence_id: str | None
    #: The sealed original a stripped copy was traced to (only with ``manifest_recovered``).
    recovered_evidence_id: str | None
    reasons: list[ReasonOut]


class CounterImageOut(BaseModel):
    """The answer for one counter-image of a seller."""

    model_config = ConfigDict(frozen=True)

    answer: CounterAnswer
    #: True exactly when ``answer`` is ``counter_sealed``: only then does the image count.
    counts: bool
    order_id: str
    content_sha256: str
    stage: str | None
    evidence_id: str | None
    recovered_evidence_id: str | None
    reasons: list[ReasonOut]


def _failed(verdict: EvidenceVerdictOut) -> list[ReasonCode]:
    # A check carries a code exactly when it failed.
    return list(dict.fromkeys(c.code for c in verdict.checks if c.code is not None))


def _answer(failed: Sequence[ReasonCode], *, recovered: bool) -> str | None:
    """The answer's code for the failed checks; None when nothing failed."""
    for code in _PRECEDENCE:
        if code in failed:
            return code.value
    rest = [c for c in failed if c != ReasonCode.MANIFEST_RECOVERED]
    if any(c not in _UNSEALED for c in rest):
        return "not_verified"
    if rest:
        return ReasonCode.NO_MANIFEST.value
    if recovered:
        return ReasonCode.MANIFEST_RECOVERED.value
    return None


def _reasons(verdict: EvidenceVerdictOut) -> list[ReasonOut]:
    return [ReasonOut(code=c.code, message=c.detail) for c in verdict.checks if c.code is not None]


class ReviewImages:
    """Answers the review questions over the gather step and the engine."""

    def __init__(self, *, facts: FactGatherer) -> None:
        self.facts = facts

    def _verdict(
        self,
        file: AttachedFile,
        *,
        order_id: str,
        buyer_id: str | None,
        checks: tuple[Check, ...],
        now: datetime,
    ) -> EvidenceVerdictOut:
        # Traced through the fingerprint index, without the dispute lookups: a review is not
        # a refund claim, and a review image must not cost a scan of every dispute.
        facts = self.facts.gather(file, dispute_id=None, with_reuse=False, recover=True)
        ctx = self.facts.context(order_id, buyer_id, now, policy=DEFAULT_POLICY)
        return evaluate_evidence(facts, ctx, checks=checks)

    def review_image(
        self, file: AttachedFile, query: ReviewImageQuery, *, now: datetime
    ) -> ReviewImageOut:
        """Is ``file`` sealed review evidence of ``query``'s order and buyer, or a copy of one?"""
        verdict = self._verdict(
            file, order_id=query.order_id, buyer_id=query.buyer_id, checks=REVIEW_CHECKS, now=now
        )
        recovered = verdict.recovered_evidence_id is not None
        answer = ReviewAnswer(
            _answer(_failed(verdict), recovered=recovered) or ReviewAnswer.REVIEW_SEALED
        )
        return ReviewImageOut(
            answer=answer,
            review_sealed=answer is ReviewAnswer.REVIEW_SEALED,
            order_id=query.order_id,
            buyer_id=query.buyer_id,
            content_sha256=file.sha256,
            stage=verdict.stage.value if verdict.stage else None,
            evidence_id=None if recovered else verdict.evidence_id,
            # Another order's original is not named: the platform learns the outcome only.
            recovered_evidence_id=verdict.recovered_evidence_id
            if answer is ReviewAnswer.MANIFEST_RECOVERED
            else None,
            reasons=_reasons(verdict),
        )

    def merchant_order(self, merchant_id: str, order_id: str) -> None:
        """Refuse an order that is not the merchant's, before any body is read.

        Raises:
            NotFoundError: ``order_unknown``, for another merchant's order as for none.
        """
        order = self.facts.ledger.get_order(order_id)
        if order is None or order.merchant_id != merchant_id:
            raise NotFoundError(f"order {order_id} is not registered", code="order_unknown")

    def counter_image(
        self, file: AttachedFile, *, merchant_id: str, order_id: str, now: datetime
    ) -> CounterImageOut:
        """Does the seller's ``file`` count against a review of ``order_id``?

        Raises:
            NotFoundError: ``order_unknown`` (see :meth:`merchant_order`).
        """
        self.merchant_order(merchant_id, order_id)
        verdict = self._verdict(
            file, order_id=order_id, buyer_id=None, checks=COUNTER_CHECKS, now=now
        )
        recovered = verdict.recovered_evidence_id is not None
        answer = CounterAnswer(
            _answer(_failed(verdict), recovered=recovered) or CounterAnswer.COUNTER_SEALED
        )
        return CounterImageOut(
            answer=answer,
            counts=answer is CounterAnswer.COUNTER_SEALED,
            order_id=order_id,
            content_sha256=file.sha256,
            stage=verdict.stage.value if verdict.stage else None,
            evidence_id=None if recovered else verdict.evidence_id,
            recovered_evidence_id=verdict.recovered_evidence_id
            if answer is CounterAnswer.MANIFEST_RECOVERED
            else None,
            reasons=_reasons(verdict),
        )

"""Policy: how check results map to decisions, and how evidence decisions combine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from verifier.models import CheckResult, Decision
from verifier.reasons import ReasonCode
from verifier.schemas import EvidenceVerdictOut, ReasonOut

__all__ = ["DEFAULT_POLICY", "Policy", "combine", "decide_dispute", "decide_evidence"]


@dataclass(frozen=True)
class Policy:
    """How findings map to decisions, plus the platform's dispute-level rules.

    Failed checks whose code is in ``block`` block, any other failed check reviews. The
    dispute rules (value thresholds, required video, photo count, claimant limits) can only
    send an otherwise allowed claim to review (``policy_review``); they never allow.

    Merchant rules (issue 17): when the order's merchant's share of decided disputes that point
    to it (a wrong item shipped, ``attribution`` ``merchant``) within ``merchant_window_days``
    reaches ``max_wrong_item_rate`` over at least ``wrong_item_min_disputes`` disputes, its new
    disputes go to review with ``merchant_wrong_item_rate``. Buyer-side swaps count against the
    buyer: ``max_swaps_per_buyer`` within ``buyer_window_days`` sends the next to review.
    """

    block: frozenset[ReasonCode]
    review: frozenset[ReasonCode]
    #: Failed checks that still allow; only codes in ``ALLOWABLE`` (a recovered copy).
    allow: frozenset[ReasonCode] = frozenset()
    review_above: Mapping[str, Decimal] = field(default_factory=dict)
    video_required_for: frozenset[str] = frozenset()
    min_photos: int = 0
    receipt_window_days: int = 30
    max_refunds_per_order: int | None = None
    max_disputes_per_buyer: int | None = None
    buyer_window_days: int = 30
    max_swaps_per_buyer: int | None = None
    max_wrong_item_rate: Decimal | None = None
    wrong_item_min_disputes: int = 5
    merchant_window_days: int = 90
    #: A photo whose recapture score reaches the threshold (a photographed screen) fails with
    #: ``recapture_suspected`` (review); off, the score is advice shown to agents only.
    recapture_review: bool = False
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not self.block and not self.review:
            raise ValueError("expected a policy naming at least one code, found an empty one")
        overlap = self.block & self.review
        if overlap:
            raise ValueError(f"codes both block and review: {sorted(overlap)}")
        if self.allow - ALLOWABLE:
            raise ValueError(
                f"only {sorted(ALLOWABLE)} may allow, found {sorted(self.allow - ALLOWABLE)}"
            )
        if self.allow & (self.block | self.review):
            raise ValueError(f"codes both allow and block or review: {sorted(self.allow)}")

    def decision_for(self, code: ReasonCode) -> Decision:
        """The decision one failed check leads to (fail closed: unknown codes review)."""
        if code in self.allow:
            return Decision.ALLOW
        return Decision.BLOCK if code in self.block else Decision.REVIEW


#: The only codes a policy may map to allow: a stripped copy traced to this order's and this
#: buyer's sealed original (the check fails it otherwise, with a blocking code), and a label
#: code the buyer typed instead of scanning (every other check still runs on the capture).
ALLOWABLE = frozenset({ReasonCode.MANIFEST_RECOVERED, ReasonCode.LABEL_TYPED})


DEFAULT_POLICY = Policy(
    block=frozenset(
        {
            ReasonCode.SIGNATURE_INVALID,
            ReasonCode.CONTENT_TAMPERED,
            ReasonCode.SIGNER_REVOKED,
            ReasonCode.AI_GENERATED_DECLARED,
            ReasonCode.ORDER_MISMATCH,
            ReasonCode.BUYER_MISMATCH,
            ReasonCode.WRONG_STAGE,
            ReasonCode.CHAIN_BROKEN,
            ReasonCode.EVIDENCE_REUSED,
            ReasonCode.EDITED_AFTER_CAPTURE,
            ReasonCode.SERIAL_MISMATCH,
            ReasonCode.NOT_AS_SEALED,
        }
    ),
    review=frozenset(
        {
            # Honest buyers without the app, or with another vendor's camera credentials,
            # must still be heard by a person.
            ReasonCode.NO_MANIFEST,
            ReasonCode.UNTRUSTED_SIGNER,
            ReasonCode.ORDER_UNKNOWN,
            ReasonCode.CAPTURE_OUTSIDE_WINDOW,
            ReasonCode.UNSUPPORTED_MEDIA,
            ReasonCode.CORRUPT_MEDIA,
            ReasonCode.POLICY_REVIEW,
            ReasonCode.CHECK_CRASHED,
            ReasonCode.NO_EVIDENCE,
            ReasonCode.MERCHANT_WRONG_ITEM_RATE,
            # A stripped copy of this claim's own sealed original: a person looks, unless
            # the platform allows it (``[decisions] allow``).
            ReasonCode.MANIFEST_RECOVERED,
            # A receipt video that never showed its own label, or whose timeline jumps: it
            # may be pre-recorded or spliced, and a person looks (issue 19 §2).
            ReasonCode.LABEL_NOT_IN_CAPTURE,
            ReasonCode.CAPTURE_DISCONTINUOUS,
            # The buyer typed the label code (issue 18 §4): a person looks, unless the
            # platform allows it (``[decisions] allow``).
            ReasonCode.LABEL_TYPED,
            # A photo that looks like a photographed screen: it fails only when the policy
            # routes it (``recapture_review``); otherwise it is advice (issue 19 §2).
            ReasonCode.RECAPTURE_SUSPECTED,
        }
    ),
)


def combine(decisions: Iterable[Decision]) -> Decision:
    """Block beats review beats allow."""
    return max(decisions, key=lambda d: d.rank, default=Decision.ALLOW)


def decide_evidence(
    results: Iterable[CheckResult], policy: Policy
) -> tuple[Decision, tuple[ReasonOut, ...]]:
    """Decide one file from its check results; reasons are unique per code, in order."""
    reasons: dict[ReasonCode, ReasonOut] = {}
    decisions: list[Decision] = []
    for result in results:
        if result.passed:
            continue
        decisions.append(policy.decision_for(result.code))
        reasons.setdefault(result.code, ReasonOut(code=result.code, message=result.detail))
    return combine(decisions), tuple(reasons.values())


def decide_dispute(
    evidence: Iterable[EvidenceVerdictOut], policy: Policy
) -> tuple[Decision, tuple[ReasonOut, ...]]:
    """Combine per-file verdicts; with no file to stand on, a person decides."""
    verdicts = list(evidence)
    if not verdicts:
        reason = ReasonOut(code=ReasonCode.NO_EVIDENCE, message="no evidence attached")
        return policy.decision_for(ReasonCode.NO_EVIDENCE), (reason,)
    reasons: dict[ReasonCode, ReasonOut] = {}
    for verdict in verdicts:
        for reason in verdict.reasons:
            reasons.setdefault(reason.code, reason)
    return combine(v.decision for v in verdicts), tuple(reasons.values())

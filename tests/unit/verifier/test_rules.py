"""Each dispute-level policy rule fires when it should and stays silent otherwise."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from verifier.engine import evaluate
from verifier.models import Decision, DisputeContext
from verifier.policy import DEFAULT_POLICY, Policy
from verifier.reasons import ReasonCode
from verifier.rules import apply_rules
from verifier.schemas import EvidenceVerdictOut

NOW = datetime(2026, 11, 22, tzinfo=UTC)
CTX = DisputeContext(
    order_id="O-1",
    buyer_id="B-1",
    order=None,
    now=NOW,
    claim_type="damaged",
    amount=Decimal("100.00"),
    currency="USD",
)


def _evidence(media_type: str, decision: Decision = Decision.ALLOW) -> EvidenceVerdictOut:
    return EvidenceVerdictOut(
        filename="f",
        media_type=media_type,
        content_sha256="0" * 64,
        decision=decision,
        reasons=(),
        checks=(),
        manifest_id=None,
        stage="receipt",
        evidence_id=None,
    )


PHOTO, VIDEO = _evidence("image/jpeg"), _evidence("video/mp4")


def _fired(
    policy: Policy, ctx: DisputeContext, evidence: list[EvidenceVerdictOut]
) -> dict[str, bool]:
    return {r.rule: r.fired for r in apply_rules(policy, ctx, evidence)}


@pytest.mark.parametrize(
    ("amount", "fires"),
    [(Decimal("500.00"), False), (Decimal("500.01"), True)],
    ids=["at-threshold-silent", "above-threshold-fires"],
)
def test_value_threshold(amount: Decimal, fires: bool) -> None:
    policy = replace(DEFAULT_POLICY, review_above={"USD": Decimal("500.00")})
    assert _fired(policy, replace(CTX, amount=amount), [PHOTO]) == {"value_threshold": fires}


def test_value_threshold_is_per_currency() -> None:
    policy = replace(DEFAULT_POLICY, review_above={"EUR": Decimal("1.00")})
    assert _fired(policy, CTX, [PHOTO]) == {}


@pytest.mark.parametrize(
    ("evidence", "fires"),
    [
        ([PHOTO], True),
        ([PHOTO, _evidence("video/mp4", Decision.BLOCK)], True),
        ([PHOTO, VIDEO], False),
    ],
    ids=["no-video-fires", "blocked-video-does-not-count", "sealed-video-silent"],
)
def test_video_required(evidence: list[EvidenceVerdictOut], fires: bool) -> None:
    policy = replace(DEFAULT_POLICY, video_required_for=frozenset({"damaged"}))
    assert _fired(policy, CTX, evidence) == {"video_required": fires}


def test_video_not_required_for_other_claim_types() -> None:
    policy = replace(DEFAULT_POLICY, video_required_for=frozenset({"spoiled"}))
    assert _fired(policy, CTX, [PHOTO]) == {}


@pytest.mark.parametrize(
    ("photos", "fires"), [(1, True), (2, False)], ids=["one-short-fires", "enough-silent"]
)
def test_min_photos(photos: int, fires: bool) -> None:
    policy = replace(DEFAULT_POLICY, min_photos=2)
    assert _fired(policy, CTX, [PHOTO] * photos) == {"min_photos": fires}


@pytest.mark.parametrize(
    ("prior", "fires"), [(0, False), (1, True)], ids=["first-refund-silent", "second-fires"]
)
def test_refunds_per_order(prior: int, fires: bool) -> None:
    policy = replace(DEFAULT_POLICY, max_refunds_per_order=1)
    assert _fired(policy, replace(CTX, prior_refunds_for_order=prior), [PHOTO]) == {
        "refunds_per_order": fires
    }


@pytest.mark.parametrize(
    ("prior", "fires"), [(2, False), (3, True)], ids=["under-limit-silent", "at-limit-fires"]
)
def test_disputes_per_buyer(prior: int, fires: bool) -> None:
    policy = replace(DEFAULT_POLICY, max_disputes_per_buyer=3)
    assert _fired(policy, replace(CTX, prior_disputes_for_buyer=prior), [PHOTO]) == {
        "disputes_per_buyer": fires
    }


def test_a_fired_rule_turns_allow_into_review_with_policy_review() -> None:
    policy = replace(DEFAULT_POLICY, review_above={"USD": Decimal("10")})
    verdict = evaluate([], replace(CTX), policy=policy)
    assert verdict.decision == Decision.REVIEW
    assert ReasonCode.POLICY_REVIEW in {r.code for r in verdict.reasons}
    assert verdict.to_body()["policy_trace"] == [
        {
            "rule": "value_threshold",
            "fired": True,
            "detail": "claim 100.00 USD above the review threshold 10",
        }
    ]


def test_dry_run_records_the_policy_decision_but_a_person_acts() -> None:
    policy = replace(DEFAULT_POLICY, dry_run=True)
    verdict = evaluate([], CTX, policy=policy)
    body = verdict.to_body()
    assert body["decision"] == "review"
    assert body["dry_run"] is True
    assert body["policy_decision"] == "review"  # no evidence: the policy itself reviews

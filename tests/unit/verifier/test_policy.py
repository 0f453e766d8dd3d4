"""Policy precedence and fail-closed behaviour."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from verifier.engine import evaluate, evaluate_evidence
from verifier.models import CheckResult, Decision, DisputeContext, EvidenceFacts
from verifier.policy import DEFAULT_POLICY, Policy, combine, decide_evidence
from verifier.reasons import ReasonCode

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CTX = DisputeContext(order_id="O-1", buyer_id="B-1", order=None, now=NOW)


def _fail(code: ReasonCode) -> CheckResult:
    return CheckResult("x", code, False, code.value)


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        ([], Decision.ALLOW),
        ([Decision.ALLOW, Decision.REVIEW], Decision.REVIEW),
        ([Decision.REVIEW, Decision.BLOCK, Decision.ALLOW], Decision.BLOCK),
    ],
    ids=["empty-allows", "review-beats-allow", "block-beats-all"],
)
def test_precedence(decisions: list[Decision], expected: Decision) -> None:
    assert combine(decisions) == expected


def test_failed_checks_map_through_the_policy() -> None:
    decision, reasons = decide_evidence(
        [_fail(ReasonCode.NO_MANIFEST), CheckResult("y", ReasonCode.CONTENT_TAMPERED, True, "ok")],
        DEFAULT_POLICY,
    )
    assert decision == Decision.REVIEW
    assert [r.code for r in reasons] == [ReasonCode.NO_MANIFEST]


def test_empty_policy_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        Policy(block=frozenset(), review=frozenset())


def test_code_in_both_sets_is_an_error() -> None:
    with pytest.raises(ValueError, match="both"):
        Policy(
            block=frozenset({ReasonCode.NO_MANIFEST}), review=frozenset({ReasonCode.NO_MANIFEST})
        )


def test_unknown_code_fails_closed_to_review() -> None:
    narrow = Policy(block=frozenset({ReasonCode.CONTENT_TAMPERED}), review=frozenset())
    assert narrow.decision_for(ReasonCode.EVIDENCE_REUSED) == Decision.REVIEW


def test_crashing_check_sends_to_review() -> None:
    def broken(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
        raise RuntimeError("boom")

    facts = EvidenceFacts(
        filename="a.jpg", content_sha256="0" * 64, media_type="image/jpeg", report=None
    )
    verdict = evaluate_evidence(facts, CTX, checks=(broken,))
    assert verdict.decision == Decision.REVIEW
    assert [r.code for r in verdict.reasons] == [ReasonCode.CHECK_CRASHED]


def test_dispute_without_evidence_goes_to_review() -> None:
    verdict = evaluate([], CTX)
    assert verdict.decision == Decision.REVIEW
    assert [r.code for r in verdict.reasons] == [ReasonCode.NO_EVIDENCE]

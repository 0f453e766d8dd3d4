"""verifier.checks.recapture: a photographed screen is advice unless the policy routes it.

Adversary: a buyer photographs a screen showing an honest sealed photo (someone else's, or a
generated one) with the buyer app. The score flags it; it never blocks, and it reviews only
under ``[evidence] recapture_review = true``. The honest path: a plain photo passes, and a
score near the threshold is judged one step either side of it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evidence.recapture import RECAPTURE_THRESHOLD
from verifier.checks.recapture import check_recapture
from verifier.engine import evaluate_evidence
from verifier.models import DisputeContext, EvidenceFacts
from verifier.policy_file import parse_policy
from verifier.reasons import ReasonCode

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def _facts(score: float | None) -> EvidenceFacts:
    return EvidenceFacts(
        filename="photo.jpg",
        content_sha256="a" * 64,
        media_type="image/jpeg" if score is not None else "video/mp4",
        report=None,
        recapture_score=score,
    )


def _ctx(*, routed: bool) -> DisputeContext:
    return DisputeContext(
        order_id="ORD-1", buyer_id="buyer-1", order=None, now=NOW, recapture_review=routed
    )


@pytest.mark.parametrize(
    ("score", "routed", "passed"),
    [
        (RECAPTURE_THRESHOLD - 0.01, True, True),
        (RECAPTURE_THRESHOLD, True, False),
        (RECAPTURE_THRESHOLD + 5, True, False),
        (RECAPTURE_THRESHOLD, False, True),
        (RECAPTURE_THRESHOLD + 50, False, True),
        (1.0, False, True),
    ],
    ids=["just-below-routed", "at-routed", "above-routed", "at-advice", "far-advice", "plain"],
)
def test_fails_only_at_the_threshold_and_only_when_routed(
    score: float, routed: bool, passed: bool
) -> None:
    (result,) = check_recapture(_facts(score), _ctx(routed=routed))
    assert (result.code, result.passed) == (ReasonCode.RECAPTURE_SUSPECTED, passed)


def test_advice_says_so_in_its_detail() -> None:
    (result,) = check_recapture(_facts(RECAPTURE_THRESHOLD + 1), _ctx(routed=False))
    assert result.detail.startswith("advice")


def test_a_video_or_undecodable_file_is_not_scored() -> None:
    assert check_recapture(_facts(None), _ctx(routed=True)) == []


def test_the_policy_setting_routes_to_review_and_never_blocks() -> None:
    routed = parse_policy("[evidence]\nrecapture_review = true\n")
    assert routed.recapture_review is True
    assert parse_policy("").recapture_review is False
    assert routed.decision_for(ReasonCode.RECAPTURE_SUSPECTED) == "review"
    assert ReasonCode.RECAPTURE_SUSPECTED not in routed.block


def test_a_flagged_screen_photo_changes_no_decision_by_default() -> None:
    """The engine on its own: a suspected recapture with every other check silent."""
    ctx = _ctx(routed=False)
    verdict = evaluate_evidence(_facts(RECAPTURE_THRESHOLD + 3), ctx, checks=(check_recapture,))
    assert verdict.decision == "allow"
    assert verdict.recapture_score == RECAPTURE_THRESHOLD + 3
    routed = evaluate_evidence(
        _facts(RECAPTURE_THRESHOLD + 3),
        _ctx(routed=True),
        checks=(check_recapture,),
    )
    assert routed.decision == "review"
    assert [r.code for r in routed.reasons] == [ReasonCode.RECAPTURE_SUSPECTED]

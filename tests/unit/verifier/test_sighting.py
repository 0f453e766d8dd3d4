"""The label-sighting check over hand-built facts: what the seal says about a receipt video.

Adversary: a pre-recorded video (no label seen), one filming another parcel's label (not seen,
``other_labels``), one spliced from two takes (continuity broken). Each goes to review.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evidence.manifest import CaptureAssertion, Stage
from evidence.sighting import Continuity, LabelSighting
from verifier.checks import ALL_CHECKS
from verifier.checks.sighting import check_label_sighting
from verifier.models import Decision, DisputeContext, EvidenceFacts
from verifier.policy import DEFAULT_POLICY
from verifier.reasons import ReasonCode

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
CTX = DisputeContext(order_id="O-1", buyer_id="B-1", order=None, now=NOW)
STEADY = Continuity(
    frames=60,
    duration_ms=3933,
    monotonic=True,
    max_gap_ms=67,
    gap_bound_ms=1000,
    median_interval_ms=66.667,
    rate_consistent=True,
    ok=True,
)


def _sighting(*, seen: bool, continuity: Continuity = STEADY, others: int = 0) -> LabelSighting:
    return LabelSighting(
        frames_sampled=20,
        interval_ms=200,
        seen=seen,
        first_seen_ms=400 if seen else None,
        seen_ms=3000 if seen else 0,
        other_labels=others,
        complete=True,
        continuity=continuity,
    )


def _facts(stage: Stage, sighting: LabelSighting | None) -> EvidenceFacts:
    assertion = CaptureAssertion(
        order_id="O-1",
        stage=stage,
        device_id="dev",
        session_id="s",
        captured_at=NOW.isoformat(),
        received_at=NOW.isoformat(),
        content_sha256="a" * 64,
        media_type="video/mp4",
        label_sighting=sighting,
    )
    return EvidenceFacts(
        filename="r.mp4",
        content_sha256="a" * 64,
        media_type="video/mp4",
        report=None,
        assertion=assertion,
    )


def _failed(facts: EvidenceFacts) -> set[ReasonCode]:
    return {r.code for r in check_label_sighting(facts, CTX) if not r.passed}


def test_the_check_runs_with_every_other_check() -> None:
    assert check_label_sighting in ALL_CHECKS


def test_a_seen_label_on_a_continuous_take_passes() -> None:
    results = check_label_sighting(_facts(Stage.RECEIPT, _sighting(seen=True)), CTX)
    assert [(r.check, r.passed) for r in results] == [
        ("label_in_capture", True),
        ("continuity", True),
    ]
    assert "400 ms" in results[0].detail


@pytest.mark.parametrize("others", [0, 5], ids=["no-label", "another-parcels-label"])
def test_a_video_that_never_shows_its_label_reviews(others: int) -> None:
    facts = _facts(Stage.RECEIPT, _sighting(seen=False, others=others))
    assert _failed(facts) == {ReasonCode.LABEL_NOT_IN_CAPTURE}
    assert DEFAULT_POLICY.decision_for(ReasonCode.LABEL_NOT_IN_CAPTURE) is Decision.REVIEW


@pytest.mark.parametrize(
    "broken",
    [
        STEADY.model_copy(update={"max_gap_ms": 1067, "ok": False}),
        STEADY.model_copy(update={"monotonic": False, "ok": False}),
        STEADY.model_copy(update={"rate_consistent": False, "ok": False}),
    ],
    ids=["splice-gap", "backwards", "uneven-rate"],
)
def test_a_broken_timeline_reviews(broken: Continuity) -> None:
    facts = _facts(Stage.RECEIPT, _sighting(seen=True, continuity=broken))
    (result,) = [r for r in check_label_sighting(facts, CTX) if not r.passed]
    assert result.code is ReasonCode.CAPTURE_DISCONTINUOUS
    assert "broken" in result.detail
    assert DEFAULT_POLICY.decision_for(ReasonCode.CAPTURE_DISCONTINUOUS) is Decision.REVIEW


@pytest.mark.parametrize(
    ("stage", "sighting"),
    [(Stage.RECEIPT, None), (Stage.SHIPMENT, _sighting(seen=False))],
    ids=["receipt-sealed-before-sightings", "shipment"],
)
def test_nothing_to_weigh_without_a_receipt_sighting(
    stage: Stage, sighting: LabelSighting | None
) -> None:
    assert check_label_sighting(_facts(stage, sighting), CTX) == []


def test_the_sighting_survives_the_assertion_round_trip() -> None:
    sealed = _facts(Stage.RECEIPT, _sighting(seen=True)).assertion
    assert sealed is not None
    data = sealed.to_assertion()["data"]
    assert CaptureAssertion.model_validate(data) == sealed
    bare = sealed.model_copy(update={"label_sighting": None}).to_assertion()["data"]
    assert "label_sighting" not in bare

"""The label-entry check over hand-built facts: a typed label code reviews, scanned passes.

Adversary: a buyer who types a code read off a photo of the label before the parcel arrived.
An honest page says ``typed`` (review, ``label_typed``); a lying page says ``scanned``, which
passes but earns nothing: the marker only ever downgrades.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evidence.label_entry import LabelEntry, recorded_entry
from evidence.manifest import CaptureAssertion, Stage
from verifier.checks import ALL_CHECKS
from verifier.checks.entry import check_label_entry
from verifier.models import Decision, DisputeContext, EvidenceFacts
from verifier.policy import DEFAULT_POLICY, Policy
from verifier.reasons import ReasonCode

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
CTX = DisputeContext(order_id="O-1", buyer_id="B-1", order=None, now=NOW)


def _facts(stage: Stage, entry: LabelEntry | None) -> EvidenceFacts:
    assertion = CaptureAssertion(
        order_id="O-1",
        stage=stage,
        device_id="dev",
        session_id="rt_x",
        captured_at=NOW.isoformat(),
        received_at=NOW.isoformat(),
        content_sha256="a" * 64,
        media_type="image/jpeg",
        label_entry=entry,
    )
    return EvidenceFacts(
        filename="r.jpg",
        content_sha256="a" * 64,
        media_type="image/jpeg",
        report=None,
        assertion=assertion,
    )


def test_the_check_runs_with_every_other_check() -> None:
    assert check_label_entry in ALL_CHECKS


def test_a_typed_label_code_reviews_and_says_so() -> None:
    (result,) = check_label_entry(_facts(Stage.RECEIPT, LabelEntry.TYPED), CTX)
    assert (result.check, result.code, result.passed) == (
        "label_entry",
        ReasonCode.LABEL_TYPED,
        False,
    )
    assert "typed" in result.detail
    assert DEFAULT_POLICY.decision_for(ReasonCode.LABEL_TYPED) is Decision.REVIEW


@pytest.mark.parametrize("entry", [LabelEntry.SCANNED, LabelEntry.LINK], ids=["scanned", "link"])
def test_a_scanned_or_linked_label_passes(entry: LabelEntry) -> None:
    (result,) = check_label_entry(_facts(Stage.RECEIPT, entry), CTX)
    assert result.passed


@pytest.mark.parametrize(
    ("stage", "entry"),
    [(Stage.RECEIPT, None), (Stage.SHIPMENT, LabelEntry.TYPED)],
    ids=["receipt-sealed-before-the-marker", "shipment"],
)
def test_nothing_to_weigh_without_a_receipt_marker(stage: Stage, entry: LabelEntry | None) -> None:
    assert check_label_entry(_facts(stage, entry), CTX) == []


def test_a_policy_may_allow_a_typed_label_code() -> None:
    policy = Policy(
        block=DEFAULT_POLICY.block,
        review=DEFAULT_POLICY.review - {ReasonCode.LABEL_TYPED},
        allow=frozenset({ReasonCode.LABEL_TYPED}),
    )
    assert policy.decision_for(ReasonCode.LABEL_TYPED) is Decision.ALLOW


def test_the_marker_survives_the_assertion_round_trip_and_older_seals_lack_it() -> None:
    sealed = _facts(Stage.RECEIPT, LabelEntry.TYPED).assertion
    assert sealed is not None
    data = sealed.to_assertion()["data"]
    assert data["label_entry"] == "typed"
    assert CaptureAssertion.model_validate(data) == sealed
    bare = sealed.model_copy(update={"label_entry": None}).to_assertion()["data"]
    assert "label_entry" not in bare


@pytest.mark.parametrize("entry", list(LabelEntry), ids=[e.value for e in LabelEntry])
def test_the_recorded_column_reads_back_as_the_entry(entry: LabelEntry) -> None:
    assert recorded_entry(entry.value) is entry


def test_sessions_of_other_stages_record_nothing() -> None:
    assert recorded_entry(None) is None

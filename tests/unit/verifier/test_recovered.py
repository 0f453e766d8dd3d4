"""verifier.checks.recovered: whose sealed original a stripped copy was traced to.

Adversaries: a buyer with a stripped copy of another order's sealed photo (reused), someone
other than the capturing buyer claiming with a copy of it (buyer mismatch), and a flooded
index whose lookup stopped at its bound (never allows on an incomplete answer).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.ledger.fingerprint_index import FingerprintMatch
from verifier.checks.recovered import check_recovered
from verifier.facts import _best_original
from verifier.models import DisputeContext, EvidenceFacts, LedgerEvidence, RecoveredCopy
from verifier.policy_file import parse_policy
from verifier.reasons import ReasonCode

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def _facts(*, order_id: str, buyer: str | None, truncated: bool = False) -> EvidenceFacts:
    original = LedgerEvidence(
        evidence_id="ev-1",
        order_id=order_id,
        stage="receipt",
        manifest_id="urn:c2pa:1",
        original_sha256="a" * 64,
        sealed_sha256="b" * 64,
        device_id="buyer-app",
        session_buyer_id=buyer,
        captured_at=NOW,
        sealed_at=NOW,
    )
    return EvidenceFacts(
        filename="sealed.jpg",
        content_sha256="b" * 64,
        media_type="image/jpeg",
        report=None,
        recovered=RecoveredCopy("c" * 64, "copy.jpg", original, distance=2, truncated=truncated),
    )


def _ctx(buyer: str | None = "buyer-1") -> DisputeContext:
    return DisputeContext(order_id="ORD-1", buyer_id=buyer, order=None, now=NOW)


@pytest.mark.parametrize(
    ("order_id", "buyer", "claimant", "code"),
    [
        ("ORD-1", "buyer-1", "buyer-1", ReasonCode.MANIFEST_RECOVERED),
        ("ORD-1", "buyer-1", None, ReasonCode.MANIFEST_RECOVERED),
        ("ORD-2", "buyer-1", "buyer-1", ReasonCode.EVIDENCE_REUSED),
        ("ORD-1", "buyer-2", "buyer-1", ReasonCode.BUYER_MISMATCH),
        ("ORD-1", None, "buyer-1", ReasonCode.BUYER_MISMATCH),
    ],
    ids=["own", "no-claimant", "other-order", "other-buyer", "packing-photo"],
)
def test_whose_original_it_is(
    order_id: str, buyer: str | None, claimant: str | None, code: ReasonCode
) -> None:
    (result,) = check_recovered(_facts(order_id=order_id, buyer=buyer), _ctx(claimant))
    assert (result.code, result.passed) == (code, False)
    assert "ev-1" in result.agent_detail


def test_only_the_own_original_can_be_allowed_by_policy() -> None:
    allowing = parse_policy('[decisions]\nallow = ["manifest_recovered"]\n')
    own = check_recovered(_facts(order_id="ORD-1", buyer="buyer-1"), _ctx())
    foreign = check_recovered(_facts(order_id="ORD-2", buyer="buyer-1"), _ctx())
    assert [allowing.decision_for(r.code) for r in own] == ["allow"]
    assert [allowing.decision_for(r.code) for r in foreign] == ["block"]


def test_a_truncated_lookup_never_allows() -> None:
    allowing = parse_policy('[decisions]\nallow = ["manifest_recovered"]\n')
    results = check_recovered(_facts(order_id="ORD-1", buyer="buyer-1", truncated=True), _ctx())
    assert {r.code for r in results} == {ReasonCode.MANIFEST_RECOVERED, ReasonCode.NO_MANIFEST}
    assert "review" in {allowing.decision_for(r.code) for r in results}


def test_a_file_with_its_own_manifest_is_not_judged_here() -> None:
    facts = EvidenceFacts(filename="f", content_sha256="d" * 64, media_type=None, report=None)
    assert check_recovered(facts, _ctx()) == []


def _match(evidence_id: str, order_id: str, distance: int, query: int = 0) -> FingerprintMatch:
    return FingerprintMatch(evidence_id, order_id, 0, query, distance)


def test_the_claimed_orders_original_comes_before_a_nearer_one_of_another_order() -> None:
    """Adversary: at scale an unrelated original of another order falls within the radius
    now and then; being nearer, it must not hide the claim's own original (and block an
    honest buyer's copy as reuse)."""
    matches = [_match("ev-foreign", "ORD-2", 3), _match("ev-own", "ORD-1", 6)]
    assert _best_original(matches, frames=0, claimed_order="ORD-1") == ("ev-own", 6)
    assert _best_original(matches, frames=0, claimed_order=None) == ("ev-foreign", 3)
    assert _best_original(matches, frames=0, claimed_order="ORD-9") == ("ev-foreign", 3)


def test_a_video_needs_most_frames_of_the_own_original_before_it_wins() -> None:
    own_one_frame = [_match("ev-own", "ORD-1", 2, 0)]
    foreign_all = [_match("ev-foreign", "ORD-2", 4, q) for q in range(3)]
    assert _best_original([*own_one_frame, *foreign_all], frames=3, claimed_order="ORD-1") == (
        "ev-foreign",
        4,
    )

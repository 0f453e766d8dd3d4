"""The API's verdict models carry ``Verdict.to_json`` unchanged: same keys, same values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from verifier.models import CheckResult, Decision, EvidenceVerdict, Reason, RuleResult, Verdict
from verifier.reasons import ReasonCode
from verifier.schemas import DisputeSummary, VerdictOut

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _verdict(*, agent_detail: str, dry_run: bool) -> Verdict:
    reason = Reason(ReasonCode.EVIDENCE_REUSED, "the same photo is on another order's dispute")
    evidence = EvidenceVerdict(
        filename="receipt.jpg",
        content_sha256="ab" * 32,
        decision=Decision.BLOCK,
        reasons=(reason,),
        checks=(
            CheckResult("integrity", ReasonCode.CONTENT_TAMPERED, True, "intact"),
            CheckResult(
                "reuse", ReasonCode.EVIDENCE_REUSED, False, "seen before", agent_detail=agent_detail
            ),
        ),
        manifest_id="urn:c2pa:1",
        stage="receipt",
        evidence_id=None,
        media_type=None,
    )
    return Verdict(
        decision=Decision.REVIEW if dry_run else Decision.BLOCK,
        reasons=(reason,),
        evidence=(evidence,),
        decided_at=NOW,
        rules=(RuleResult("value_threshold", False, "below 500.00"),),
        policy_decision=Decision.BLOCK if dry_run else None,
        dry_run=dry_run,
    )


@pytest.mark.parametrize(
    ("agent_detail", "dry_run"),
    [("", False), ("also on dispute d-2 (order o-9)", False), ("", True)],
    ids=["platform-view", "agent-detail", "dry-run"],
)
def test_verdict_round_trips_byte_for_byte(agent_detail: str, dry_run: bool) -> None:
    body = _verdict(agent_detail=agent_detail, dry_run=dry_run).to_json()
    out = VerdictOut.model_validate(body)
    assert out.model_dump(mode="json") == body
    assert list(out.model_dump(mode="json")["evidence"][0]["checks"][1]) == list(
        body["evidence"][0]["checks"][1]
    )


def test_verdict_time_keeps_the_ledger_text() -> None:
    body = _verdict(agent_detail="", dry_run=False).to_json()
    assert VerdictOut.model_validate(body).model_dump_json().count(NOW.isoformat()) == 1


def test_summary_reasons_are_typed() -> None:
    with pytest.raises(ValueError, match="code"):
        DisputeSummary.model_validate(
            {
                "dispute_id": "d-1",
                "order_id": "o-1",
                "buyer_id": "b-1",
                "claim_type": "not_received",
                "amount": "1.00",
                "currency": "EUR",
                "created_at": NOW,
                "decision": None,
                "decided_at": None,
                "reasons": [{"code": "no_such_reason", "message": "?"}],
            }
        )

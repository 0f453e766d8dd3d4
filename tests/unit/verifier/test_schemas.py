"""The one verdict model keeps the ledger's JSON: same keys, same values, same times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from verifier.models import CheckResult, Decision
from verifier.reasons import ReasonCode
from verifier.schemas import (
    CheckOut,
    DisputeSummary,
    EvidenceVerdictOut,
    FileVerdictOut,
    ReasonOut,
    RuleTraceOut,
    VerdictOut,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
REASON = {"code": "evidence_reused", "message": "the same photo is on another order's dispute"}


def _body(*, agent_detail: str, dry_run: bool, legacy: bool = False) -> dict[str, Any]:
    """A verdict as the ledger stores it (``legacy``: before passed checks lost their code)."""
    reuse = {"check": "reuse", "code": "evidence_reused", "passed": False, "detail": "seen before"}
    integrity = {"check": "integrity", "passed": True, "detail": "intact"}
    if legacy:
        integrity = {"check": "integrity", "code": "content_tampered", **integrity}
    return {
        "decision": "review" if dry_run else "block",
        "reasons": [REASON],
        "evidence": [
            {
                "filename": "receipt.jpg",
                "media_type": None,
                "content_sha256": "ab" * 32,
                "decision": "block",
                "reasons": [REASON],
                "checks": [
                    integrity,
                    {**reuse, **({"agent_detail": agent_detail} if agent_detail else {})},
                ],
                "manifest_id": "urn:c2pa:1",
                "stage": "receipt",
                "evidence_id": None,
            }
        ],
        "decided_at": NOW.isoformat(),
        "policy_trace": [{"rule": "value_threshold", "fired": False, "detail": "below 500.00"}],
        "policy_decision": "block",
        "dry_run": dry_run,
    }


def _verdict(*, agent_detail: str, dry_run: bool) -> VerdictOut:
    reason = ReasonOut(code=ReasonCode.EVIDENCE_REUSED, message=REASON["message"])
    evidence = EvidenceVerdictOut(
        filename="receipt.jpg",
        media_type=None,
        content_sha256="ab" * 32,
        decision=Decision.BLOCK,
        reasons=(reason,),
        checks=(
            CheckOut.from_result(
                CheckResult("integrity", ReasonCode.CONTENT_TAMPERED, True, "intact")
            ),
            CheckOut.from_result(
                CheckResult("reuse", ReasonCode.EVIDENCE_REUSED, False, "seen before", agent_detail)
            ),
        ),
        manifest_id="urn:c2pa:1",
        stage="receipt",
        evidence_id=None,
    )
    return VerdictOut(
        decision=Decision.REVIEW if dry_run else Decision.BLOCK,
        reasons=(reason,),
        evidence=(evidence,),
        decided_at=NOW.isoformat(),
        policy_trace=(RuleTraceOut(rule="value_threshold", fired=False, detail="below 500.00"),),
        policy_decision=Decision.BLOCK,
        dry_run=dry_run,
    )


CASES = [("", False), ("also on dispute d-2 (order o-9)", False), ("", True)]
IDS = ["platform-view", "agent-detail", "dry-run"]


@pytest.mark.parametrize(("agent_detail", "dry_run"), CASES, ids=IDS)
def test_verdict_is_the_stored_body_key_for_key(agent_detail: str, dry_run: bool) -> None:
    body = _body(agent_detail=agent_detail, dry_run=dry_run)
    verdict = _verdict(agent_detail=agent_detail, dry_run=dry_run)
    assert verdict.to_body() == body
    assert list(verdict.to_body()["evidence"][0]["checks"][1]) == list(
        body["evidence"][0]["checks"][1]
    )
    assert list(verdict.to_body()) == list(body)


@pytest.mark.parametrize(("agent_detail", "dry_run"), CASES, ids=IDS)
def test_stored_bodies_round_trip(agent_detail: str, dry_run: bool) -> None:
    body = _body(agent_detail=agent_detail, dry_run=dry_run)
    assert VerdictOut.from_body(body).to_body() == body


@pytest.mark.parametrize(("agent_detail", "dry_run"), CASES, ids=IDS)
def test_legacy_bodies_load_without_the_code_of_a_passed_check(
    agent_detail: str, dry_run: bool
) -> None:
    legacy = _body(agent_detail=agent_detail, dry_run=dry_run, legacy=True)
    current = _body(agent_detail=agent_detail, dry_run=dry_run)
    assert VerdictOut.from_body(legacy).to_body() == current


def test_passed_check_has_no_code_and_failed_check_has_one() -> None:
    passed = CheckOut.from_result(CheckResult("readable", ReasonCode.NO_MANIFEST, True, "ok"))
    failed = CheckOut.from_result(CheckResult("readable", ReasonCode.NO_MANIFEST, False, "none"))
    assert passed.code is None
    assert "code" not in passed.model_dump(mode="json")
    assert failed.model_dump(mode="json")["code"] == "no_manifest"
    with pytest.raises(ValueError, match="reason code"):
        CheckOut(check="readable", passed=False, detail="none")


def test_verdict_time_keeps_the_ledger_text() -> None:
    verdict = _verdict(agent_detail="", dry_run=False)
    assert verdict.model_dump_json().count(NOW.isoformat()) == 1


def test_platform_view_drops_only_the_agent_detail() -> None:
    agent = _verdict(agent_detail="also on dispute d-2 (order o-9)", dry_run=False)
    assert agent.platform_view().to_body() == _body(agent_detail="", dry_run=False)


def test_cli_answer_is_decision_reasons_evidence() -> None:
    body = _body(agent_detail="", dry_run=False)
    answer = FileVerdictOut.from_verdict(VerdictOut.from_body(body)).model_dump(mode="json")
    assert answer == {key: body[key] for key in ("decision", "reasons", "evidence")}
    assert list(answer) == ["decision", "reasons", "evidence"]


def test_summary_reasons_are_typed() -> None:
    with pytest.raises(ValueError, match="code"):
        DisputeSummary.model_validate(
            {
                "dispute_id": "d-1",
                "order_id": "o-1",
                "buyer_id": "b-1",
                "claim_type": "damaged",
                "amount": "1.00",
                "currency": "EUR",
                "created_at": NOW,
                "decision": None,
                "decided_at": None,
                "reasons": [{"code": "no_such_reason", "message": "?"}],
            }
        )

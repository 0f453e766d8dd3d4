"""Runs every check over parsed facts and applies the policy (pure: no I/O)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from verifier.checks import ALL_CHECKS, Check
from verifier.models import (
    CheckResult,
    Decision,
    DisputeContext,
    EvidenceFacts,
    EvidenceVerdict,
    Reason,
    Verdict,
)
from verifier.policy import DEFAULT_POLICY, Policy, combine, decide_dispute, decide_evidence
from verifier.reasons import ReasonCode
from verifier.rules import apply_rules

__all__ = ["evaluate", "evaluate_evidence"]

_log = logging.getLogger(__name__)


def _run(check: Check, facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    try:
        return check(facts, ctx)
    except Exception:  # noqa: BLE001 - fail closed: a crashing check sends the case to a person
        _log.exception("check %s crashed", getattr(check, "__name__", check))
        name = getattr(check, "__name__", "check")
        return [CheckResult(name, ReasonCode.CHECK_CRASHED, False, f"{name} could not run")]


def evaluate_evidence(
    facts: EvidenceFacts,
    ctx: DisputeContext,
    *,
    policy: Policy = DEFAULT_POLICY,
    checks: Sequence[Check] = ALL_CHECKS,
) -> EvidenceVerdict:
    """Run every check on one file and decide it."""
    results = tuple(result for check in checks for result in _run(check, facts, ctx))
    decision, reasons = decide_evidence(results, policy)
    assertion = facts.assertion
    return EvidenceVerdict(
        filename=facts.filename,
        content_sha256=facts.content_sha256,
        decision=decision,
        reasons=reasons,
        checks=results,
        manifest_id=facts.report.active_manifest.label if facts.report else None,
        stage=assertion.stage.value if assertion else None,
        evidence_id=facts.ledger_record.evidence_id if facts.ledger_record else None,
        media_type=facts.media_type,
    )


def evaluate(
    evidence: Sequence[EvidenceFacts], ctx: DisputeContext, *, policy: Policy = DEFAULT_POLICY
) -> Verdict:
    """Decide a claim from all of its evidence."""
    verdicts = tuple(evaluate_evidence(facts, ctx, policy=policy) for facts in evidence)
    decision, reasons = decide_dispute(verdicts, policy)
    rules = apply_rules(policy, ctx, verdicts)
    fired = [rule for rule in rules if rule.fired]
    if fired:
        decision = combine([decision, policy.decision_for(ReasonCode.POLICY_REVIEW)])
        detail = "; ".join(rule.detail for rule in fired)
        reasons = (*reasons, Reason(ReasonCode.POLICY_REVIEW, detail))
    if policy.dry_run:
        return Verdict(
            decision=Decision.REVIEW,
            reasons=reasons,
            evidence=verdicts,
            decided_at=ctx.now,
            rules=rules,
            policy_decision=decision,
            dry_run=True,
        )
    return Verdict(
        decision=decision, reasons=reasons, evidence=verdicts, decided_at=ctx.now, rules=rules
    )

"""Runs checks over parsed facts and applies the policy (pure: no I/O).

Every verdict comes from here: disputes, ``orderseal verify`` and the public page (with its own
check set). Each check's ``CheckResult`` is converted once, into ``verifier.schemas``' models.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from verifier.checks import ALL_CHECKS, Check
from verifier.models import CheckResult, Decision, DisputeContext, EvidenceFacts
from verifier.policy import DEFAULT_POLICY, Policy, combine, decide_dispute, decide_evidence
from verifier.reasons import ReasonCode
from verifier.rules import MERCHANT_RULE, apply_rules
from verifier.schemas import CheckOut, EvidenceVerdictOut, ReasonOut, VerdictOut

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
) -> EvidenceVerdictOut:
    """Run every check in ``checks`` on one file and decide it."""
    results = tuple(result for check in checks for result in _run(check, facts, ctx))
    decision, reasons = decide_evidence(results, policy)
    assertion = facts.assertion
    return EvidenceVerdictOut(
        filename=facts.recovered.submitted_filename if facts.recovered else facts.filename,
        media_type=facts.media_type,
        # A recovered copy keeps its own hash: it names the submitted file, not the original.
        content_sha256=facts.recovered.submitted_sha256
        if facts.recovered
        else facts.content_sha256,
        decision=decision,
        reasons=reasons,
        checks=tuple(CheckOut.from_result(result) for result in results),
        manifest_id=facts.report.active_manifest.label if facts.report else None,
        stage=assertion.stage.value if assertion else None,
        evidence_id=facts.ledger_record.evidence_id if facts.ledger_record else None,
        recovered_evidence_id=facts.recovered.original.evidence_id if facts.recovered else None,
        recapture_score=facts.recapture_score,
    )


def evaluate(
    evidence: Sequence[EvidenceFacts], ctx: DisputeContext, *, policy: Policy = DEFAULT_POLICY
) -> VerdictOut:
    """Decide a claim from all of its evidence.

    In dry-run mode the decision is ``review`` (a person acts) and ``policy_decision`` keeps
    what the policy would have decided.
    """
    verdicts = tuple(evaluate_evidence(facts, ctx, policy=policy) for facts in evidence)
    decision, reasons = decide_dispute(verdicts, policy)
    rules = apply_rules(policy, ctx, verdicts)
    fired = [rule for rule in rules if rule.fired and rule.rule != MERCHANT_RULE]
    if fired:
        decision = combine([decision, policy.decision_for(ReasonCode.POLICY_REVIEW)])
        detail = "; ".join(rule.detail for rule in fired)
        reasons = (*reasons, ReasonOut(code=ReasonCode.POLICY_REVIEW, message=detail))
    for rule in rules:
        if rule.fired and rule.rule == MERCHANT_RULE:
            # Its own reason, so agents and the merchant see why, apart from claimant rules.
            code = ReasonCode.MERCHANT_WRONG_ITEM_RATE
            decision = combine([decision, policy.decision_for(code)])
            reasons = (*reasons, ReasonOut(code=code, message=rule.detail))
    return VerdictOut(
        decision=Decision.REVIEW if policy.dry_run else decision,
        reasons=reasons,
        evidence=verdicts,
        decided_at=ctx.now.isoformat(),
        policy_trace=rules,
        policy_decision=decision,
        dry_run=policy.dry_run,
    )

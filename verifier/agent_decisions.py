"""Agents act on ``review`` disputes: approve, deny or ask for more evidence, with a note.

Adversaries: an agent (or a stolen agent key) deciding a dispute that is not in review, or
deciding twice at once to pay twice; a platform key trying the agent's route; a note large
enough to bloat the signed chain; requests for evidence in a loop, each a signed verdict and a
webhook. The ledger's compare-and-set (``decision = 'review'``) gives one decision and one
``409 dispute_not_in_review``; the role dependency answers ``403 wrong_role``; the note is
1..2000 characters; a request for evidence while the last one is unanswered is ``409
evidence_already_requested``; a decision while a file is still being verified by a job is
``409 verification_pending`` (the job's verdict would otherwise be only history under it).

Each decision is a verdict row appended to the signed audit chain (``change_reason``
``agent_decision``, the agent's subject, key id and note inside the signed body), and
``dispute.decision_changed`` is written to the webhook outbox in the same transaction.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from infra.errors import ConflictError, NotFoundError
from infra.ledger.agent_models import AgentDecision
from infra.ledger.agent_work import AgentWork
from infra.ledger.models import Dispute
from infra.ledger.webhooks import OutboxEvent
from infra.webhooks.events import dispute_event
from verifier.agent_schemas import AGENT_ACTIONS, AgentDecisionIn, AgentDecisionOut
from verifier.audit import make_sealer
from verifier.disputes import DisputeService
from verifier.errors import VerificationPendingError
from verifier.schemas import VerdictOut
from verifier.wording import utc_text

__all__ = [
    "AgentDecisionService",
    "DisputeNotInReviewError",
    "EvidenceAlreadyRequestedError",
    "decision_out",
]

_log = logging.getLogger(__name__)


class DisputeNotInReviewError(ConflictError):
    """Agents decide only a dispute whose current decision is ``review``."""

    code = "dispute_not_in_review"


class EvidenceAlreadyRequestedError(ConflictError):
    """More evidence was asked for and has not come yet: asking again changes nothing."""

    code = "evidence_already_requested"


def decision_out(row: AgentDecision) -> AgentDecisionOut:
    """The ledger's decision row as agents read it."""
    return AgentDecisionOut.model_validate(
        {
            "decision_id": row.decision_id,
            "dispute_id": row.dispute_id,
            "action": row.action,
            "decision": row.decision,
            "previous_decision": row.previous_decision,
            "note": row.note,
            "agent": row.agent_subject,
            "key_id": row.agent_key_id,
            "decided_at": utc_text(row.decided_at),
        }
    )


class AgentDecisionService:
    """Records agents' decisions over the dispute service's ledger, signer and policy."""

    def __init__(self, *, disputes: DisputeService, work: AgentWork) -> None:
        self.disputes = disputes
        self.work = work

    def decide(
        self, dispute_id: str, request: AgentDecisionIn, *, agent: str, key_id: str, now: datetime
    ) -> AgentDecisionOut:
        """Record ``request`` on the dispute, in the audit chain and the webhook outbox.

        Raises:
            NotFoundError: ``dispute_not_found``.
            DisputeNotInReviewError: ``dispute_not_in_review`` (decided otherwise, never
                decided, or another agent's decision came first).
            EvidenceAlreadyRequestedError: ``evidence_already_requested`` (a request for
                evidence while the last one is unanswered).
            VerificationPendingError: ``verification_pending``: a job still verifies a file,
                whose verdict would otherwise be only history under the agent's decision.
        """
        if self.disputes.pending_files(dispute_id):
            raise VerificationPendingError(
                "expected every file verified before an agent decides; decide again once the "
                "workspace lists no pending file"
            )
        decision_id = f"ad_{secrets.token_hex(8)}"
        decision = AGENT_ACTIONS[request.action]
        ref = {
            "decision_id": decision_id,
            "action": request.action,
            "agent": agent,
            "key_id": key_id,
            "note": request.note,
        }

        def body(latest: dict[str, Any]) -> dict[str, Any]:
            # The verdict the agent read, with the agent's decision: reasons and checks stay
            # those of the verifier, so the history shows what the agent decided over.
            before = VerdictOut.from_body(latest).to_body()
            return before | {
                "decision": decision.value,
                "decided_at": now.isoformat(),
                "change_reason": "agent_decision",
                "agent_decision": ref,
            }

        def event(dispute: Dispute) -> OutboxEvent:
            codes = tuple(c for c in (dispute.reason_codes or "").split(",") if c)
            return dispute_event(
                dispute_id=dispute.dispute_id,
                order_id=dispute.order_id,
                decision=decision.value,
                previous_decision="review",
                reason_codes=codes,
                at=now,
                agent_action=request.action,
            )

        signer = self.disputes.audit_signer
        outcome = self.work.record_decision(
            decision_id=decision_id,
            dispute_id=dispute_id,
            action=request.action,
            decision=decision.value,
            note=request.note,
            agent_subject=agent,
            agent_key_id=key_id,
            at=now,
            body=body,
            audit=make_sealer(signer) if signer else None,
            event=event,
        )
        if outcome.status == "no_dispute":
            raise NotFoundError("no such dispute", code="dispute_not_found")
        if outcome.status == "already_requested":
            raise EvidenceAlreadyRequestedError(
                f"expected new evidence on dispute {dispute_id} before another request for it; "
                "approve or deny meanwhile"
            )
        if outcome.status == "not_in_review" or outcome.decision is None:
            raise DisputeNotInReviewError(
                f"expected dispute {dispute_id} in review, found it decided otherwise "
                "(or not yet decided)"
            )
        _log.info("dispute %s: agent %s %s", dispute_id, agent, request.action)
        return decision_out(outcome.decision)

    def decisions(self, dispute_id: str) -> list[AgentDecisionOut]:
        """The agents' decisions on a dispute, oldest first.

        Raises:
            NotFoundError: ``dispute_not_found``.
        """
        self.disputes.dispute(dispute_id)
        return [decision_out(row) for row in self.work.decisions(dispute_id)]

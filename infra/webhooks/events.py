"""The webhook events, typed: what a platform receives, and the outbox rows that carry them.

Each body is a Standard Webhooks envelope ``{"type", "timestamp", "data"}``. ``data`` carries
ids, the decision and reason codes: what the platform already reads through its own API, never
the agent-only details (other disputes or accounts) or device and buyer identities.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from infra.ledger.webhooks import OutboxEvent

__all__ = [
    "DisputeDecidedData",
    "EventType",
    "EvidenceSealedData",
    "WebhookPayload",
    "dispute_event",
    "evidence_sealed_event",
]


class EventType(StrEnum):
    """Every event type an endpoint can subscribe to."""

    DISPUTE_DECIDED = "dispute.decided"
    DISPUTE_DECISION_CHANGED = "dispute.decision_changed"
    EVIDENCE_SEALED = "evidence.sealed"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DisputeDecidedData(_Frozen):
    """A dispute's verdict (``dispute.decided``) or a later one (``dispute.decision_changed``).

    ``previous_decision`` is None on the first verdict; on a re-decision it may equal
    ``decision`` (the re-evaluation confirmed it).
    """

    dispute_id: str
    order_id: str
    decision: Literal["allow", "block", "review"]
    previous_decision: Literal["allow", "block", "review"] | None
    reason_codes: tuple[str, ...]
    decided_at: datetime
    #: Set when an agent made this decision (``approve``, ``deny`` or ``request_evidence``: the
    #: platform asks the buyer for more and decides again); the key is absent otherwise.
    agent_action: Literal["approve", "deny", "request_evidence"] | None = Field(
        default=None, exclude_if=lambda value: value is None
    )


class EvidenceSealedData(_Frozen):
    """Evidence sealed for an order (``evidence.sealed``): attachable to a dispute by its id."""

    evidence_id: str
    order_id: str
    stage: Literal["shipment", "receipt", "review"]
    media_type: str
    sealed_sha256: str
    manifest_id: str
    sealed_at: datetime


class WebhookPayload(_Frozen):
    """The JSON body of every delivery."""

    type: EventType
    timestamp: datetime
    data: DisputeDecidedData | EvidenceSealedData


def _event(
    kind: EventType, data: DisputeDecidedData | EvidenceSealedData, at: datetime
) -> OutboxEvent:
    payload = WebhookPayload(type=kind, timestamp=at, data=data)
    return OutboxEvent(
        event_id=f"msg_{secrets.token_hex(16)}",
        event_type=kind.value,
        body=payload.model_dump_json(),
        created_at=at,
    )


def dispute_event(
    *,
    dispute_id: str,
    order_id: str,
    decision: str,
    previous_decision: str | None,
    reason_codes: tuple[str, ...],
    at: datetime,
    agent_action: str | None = None,
) -> OutboxEvent:
    """The outbox row for a verdict: ``dispute.decided`` first, ``decision_changed`` after.

    ``agent_action`` names the agent decision the verdict records (None: the verifier's).
    """
    kind = (
        EventType.DISPUTE_DECIDED
        if previous_decision is None
        else EventType.DISPUTE_DECISION_CHANGED
    )
    data = DisputeDecidedData.model_validate(
        {
            "dispute_id": dispute_id,
            "order_id": order_id,
            "decision": decision,
            "previous_decision": previous_decision,
            "reason_codes": reason_codes,
            "decided_at": at,
            "agent_action": agent_action,
        }
    )
    return _event(kind, data, at)


def evidence_sealed_event(
    *,
    evidence_id: str,
    order_id: str,
    stage: str,
    media_type: str,
    sealed_sha256: str,
    manifest_id: str,
    at: datetime,
) -> OutboxEvent:
    """The outbox row for a sealed evidence row."""
    data = EvidenceSealedData.model_validate(
        {
            "evidence_id": evidence_id,
            "order_id": order_id,
            "stage": stage,
            "media_type": media_type,
            "sealed_sha256": sealed_sha256,
            "manifest_id": manifest_id,
            "sealed_at": at,
        }
    )
    return _event(EventType.EVIDENCE_SEALED, data, at)

"""Ledger tables of the agents' work: who a dispute is assigned to, what an agent decided, and
the signed report links the platform hands out.

They share ``infra.ledger.models.Base`` so one migration chain (0011) and the drift test cover
them. An agent decision is also a verdict row (``verdicts``, ``change_reason`` =
``agent_decision``) so the signed audit chain covers it; the row here is its index by agent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from infra.ledger.models import Base

__all__ = ["AgentDecision", "DisputeWork", "ReportLink"]


class DisputeWork(Base):
    """A dispute's place in the agents' queue: assignment and the agents' status.

    ``agent_status`` is None (the automatic verdict stands), ``awaiting_evidence`` (an agent
    asked for more; the next automatic verdict applies) or ``agent_decided`` (an agent approved
    or denied; a later automatic verdict is kept in the history and does not replace it).
    """

    __tablename__ = "dispute_work"
    __table_args__ = (Index("ix_dispute_work_assigned", "assigned_to"),)

    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.dispute_id"), primary_key=True)
    assigned_to: Mapped[str | None] = mapped_column(String(64), default=None)
    assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    assigned_by: Mapped[str | None] = mapped_column(String(64), default=None)
    agent_status: Mapped[str | None] = mapped_column(String(24), default=None)
    updated_at: Mapped[datetime]


class AgentDecision(Base):
    """One agent decision on a ``review`` dispute, with who made it and the note."""

    __tablename__ = "agent_decisions"

    decision_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.dispute_id"), index=True)
    #: The verdict row (and so the audit entry) that records it.
    verdict_id: Mapped[int] = mapped_column(ForeignKey("verdicts.id"), unique=True)
    action: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text)
    agent_subject: Mapped[str] = mapped_column(String(64))
    agent_key_id: Mapped[str] = mapped_column(String(32))
    previous_decision: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime]


class ReportLink(Base):
    """A read-only link to one dispute's report: only the SHA-256 of its token is stored."""

    __tablename__ = "report_links"

    link_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.dispute_id"), index=True)
    created_by: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

"""Ledger table of background jobs: the heavy work a request hands off once its part is durable.

A job row is written in the same transaction as its cause (an attached dispute file, a sealed
evidence row), so the work exists exactly when what it is about does. Workers claim due rows
with a lease (``infra.ledger.leases``), like webhook deliveries; the table shares
``infra.ledger.models.Base`` so one migration chain and the drift test cover it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infra.ledger.models import Base

__all__ = ["Job"]


class Job(Base):
    """One unit of work: ``pending`` until ``done``, ``dead`` (dead letter) or ``cancelled``.

    ``(kind, subject)`` is unique: enqueueing the same work twice keeps one row. ``attempts``
    counts claims, so a file that kills its worker outright still uses them up.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "subject", name="uq_jobs_kind_subject"),
        Index("ix_jobs_due", "status", "next_attempt_at"),
        Index("ix_jobs_dispute", "dispute_id", "status"),
        Index("ix_jobs_owner", "owner", "status"),
    )

    job_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: What the job is about, unique per kind (``dispute_evidence:<id>``, ``evidence:<id>``).
    subject: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    #: The API key subject whose request made the job (per-caller bound), if any.
    owner: Mapped[str | None] = mapped_column(String(128))
    #: The dispute the job is about, if any (per-dispute bound).
    dispute_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    lease_expires_at: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(255))
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

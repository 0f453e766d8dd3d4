"""Ledger tables of verdict webhooks: endpoints, the outbox of events, deliveries and attempts.

An event row is written in the same transaction as what it announces (a verdict, a sealed
evidence row), with one delivery per subscribed endpoint; workers claim due deliveries, and
every attempt is logged. The tables share ``infra.ledger.models.Base`` so one migration chain
and the drift test cover them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infra.ledger.models import Base

__all__ = ["WebhookAttempt", "WebhookDelivery", "WebhookEndpoint", "WebhookEvent"]


class WebhookEndpoint(Base):
    """A receiver URL registered by a platform key's subject, with its HMAC secret(s).

    The ``whsec_`` secret must be kept readable (HMAC needs it); the ed25519 ``v1a`` signature
    needs none. After a rotation ``previous_secret`` keeps signing until ``previous_expires_at``.
    """

    __tablename__ = "webhook_endpoints"

    endpoint_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    #: Event types delivered; None means every type.
    event_types: Mapped[list[Any] | None]
    secret: Mapped[str] = mapped_column(String(128))
    previous_secret: Mapped[str | None] = mapped_column(String(128))
    previous_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class WebhookEvent(Base):
    """One outbox event; ``event_id`` is the ``webhook-id`` of every delivery and retry."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    #: The exact JSON bytes sent (as text), so every retry signs the same body.
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)


class WebhookDelivery(Base):
    """One event to one endpoint: ``pending`` until ``delivered``, ``dead`` or ``cancelled``.

    A worker claims a due row by setting ``lease_expires_at``; a worker that dies mid-delivery
    leaves its lease to expire, and the row is claimed again.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_delivery_event_endpoint"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    delivery_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.event_id"))
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.endpoint_id"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    #: Retries stop (dead letter) once this is older than the retry window; redeliver resets it.
    window_started_at: Mapped[datetime]
    lease_expires_at: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(64))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """The delivery log: one row per attempt, with its outcome and latency."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.delivery_id"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(255))
    latency_ms: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(64))

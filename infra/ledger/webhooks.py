"""Webhook queries: endpoints, the transactional outbox, claiming due deliveries, the log.

``add_outbox_events(session, events)`` runs inside the caller's transaction (the ledger's
verdict and evidence writes), so an event exists exactly when what it announces does.
``claim`` takes due deliveries with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (workers on many
hosts never wait on each other) and a compare-and-set on the lease everywhere, so SQLite's
in-process worker and a stray second worker cannot both hold one delivery.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from infra.ledger.counting import hold_counting_lock
from infra.ledger.leases import LeaseColumns, claim_due
from infra.ledger.sessions import GuardedSessions
from infra.ledger.webhook_models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "MAX_ENDPOINTS_PER_OWNER",
    "ClaimedDelivery",
    "DeliveryOutcome",
    "OutboxEvent",
    "WebhookRepository",
    "add_outbox_events",
]

#: Live endpoints one platform subject registers (``webhook_endpoint_limit_reached``): each
#: one receives every event, so a key registering endpoints in a loop would multiply the
#: delivery work of every verdict.
MAX_ENDPOINTS_PER_OWNER = 20

_DELIVERY_LEASES = LeaseColumns(
    table=WebhookDelivery,
    key=WebhookDelivery.delivery_id,
    status=WebhookDelivery.status,
    next_attempt_at=WebhookDelivery.next_attempt_at,
    lease_expires_at=WebhookDelivery.lease_expires_at,
    leased_by=WebhookDelivery.leased_by,
)


@dataclass(frozen=True)
class OutboxEvent:
    """An event to write with the record it announces: its id is the ``webhook-id``."""

    event_id: str
    event_type: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this worker holds the lease of, with what it needs to send it."""

    delivery_id: str
    event_id: str
    endpoint_id: str
    body: bytes
    url: str
    #: The endpoint's secrets as stored (sealed: ``infra.secret_box``), current one first.
    secrets: tuple[str, ...]
    attempts: int
    window_started_at: datetime


@dataclass(frozen=True)
class DeliveryOutcome:
    """The result of one attempt, as the worker records it."""

    started_at: datetime
    latency_ms: int
    status_code: int | None
    error: str | None
    #: When to try again; None with ``delivered`` False means dead letter.
    next_attempt_at: datetime | None
    delivered: bool


def add_outbox_events(session: Session, events: Sequence[OutboxEvent]) -> None:
    """Write ``events`` and one pending delivery per live endpoint subscribed to each.

    Runs in the caller's transaction: the caller's commit makes the events durable with it.
    """
    if not events:
        return
    endpoints = session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None))
    ).all()
    for event in events:
        session.add(
            WebhookEvent(
                event_id=event.event_id,
                event_type=event.event_type,
                body=event.body,
                created_at=event.created_at,
            )
        )
        session.flush()
        for endpoint in endpoints:
            if endpoint.event_types is not None and event.event_type not in endpoint.event_types:
                continue
            session.add(
                WebhookDelivery(
                    delivery_id=f"dlv_{secrets.token_hex(12)}",
                    event_id=event.event_id,
                    endpoint_id=endpoint.endpoint_id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=event.created_at,
                    window_started_at=event.created_at,
                    lease_expires_at=None,
                    leased_by=None,
                    last_status_code=None,
                    last_error=None,
                    created_at=event.created_at,
                    delivered_at=None,
                )
            )


class WebhookRepository:
    """Endpoints, deliveries and attempts over the ledger's guarded sessions."""

    def __init__(self, sessions: GuardedSessions) -> None:
        self._sessions = sessions

    # Endpoints -----------------------------------------------------------------
    def add_endpoint(
        self, endpoint: WebhookEndpoint, *, max_live: int = MAX_ENDPOINTS_PER_OWNER
    ) -> bool:
        """Register an endpoint unless its owner already has ``max_live`` live ones.

        Returns:
            False (nothing stored) when the owner is at the limit.
        """
        with self._sessions.begin() as session:
            hold_counting_lock(session, f"webhook_endpoints:{endpoint.owner}")
            live = session.scalar(
                select(func.count())
                .select_from(WebhookEndpoint)
                .where(
                    WebhookEndpoint.owner == endpoint.owner, WebhookEndpoint.deleted_at.is_(None)
                )
            )
            if (live or 0) >= max_live:
                return False
            session.add(endpoint)
            return True

    def endpoints(self, owner: str) -> list[WebhookEndpoint]:
        """The owner's live endpoints, oldest first."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(WebhookEndpoint)
                    .where(WebhookEndpoint.owner == owner, WebhookEndpoint.deleted_at.is_(None))
                    .order_by(WebhookEndpoint.created_at, WebhookEndpoint.endpoint_id)
                ).all()
            )

    def get_endpoint(self, endpoint_id: str, owner: str) -> WebhookEndpoint | None:
        """The owner's live endpoint, or None (another owner's looks absent)."""
        with self._sessions() as session:
            row = session.get(WebhookEndpoint, endpoint_id)
            if row is None or row.owner != owner or row.deleted_at is not None:
                return None
            return row

    def delete_endpoint(self, endpoint_id: str, owner: str, *, at: datetime) -> bool:
        """Stop an endpoint: its pending deliveries are cancelled, its log kept."""
        with self._sessions.begin() as session:
            row = session.get(WebhookEndpoint, endpoint_id)
            if row is None or row.owner != owner or row.deleted_at is not None:
                return False
            row.deleted_at = at
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.endpoint_id == endpoint_id,
                    WebhookDelivery.status == "pending",
                )
                .values(status="cancelled", lease_expires_at=None, leased_by=None)
            )
            return True

    def rotate_secret(
        self, endpoint_id: str, owner: str, *, secret: str, previous_until: datetime
    ) -> WebhookEndpoint | None:
        """Give an endpoint a new secret; the old one keeps signing until ``previous_until``."""
        with self._sessions.begin() as session:
            row = session.get(WebhookEndpoint, endpoint_id)
            if row is None or row.owner != owner or row.deleted_at is not None:
                return None
            row.previous_secret, row.previous_expires_at = row.secret, previous_until
            row.secret = secret
            return row

    # Deliveries ----------------------------------------------------------------
    def deliveries(
        self, endpoint_id: str, *, limit: int
    ) -> list[tuple[WebhookDelivery, str, list[WebhookAttempt]]]:
        """An endpoint's deliveries newest first, each with its event type and attempts."""
        with self._sessions() as session:
            rows = session.execute(
                select(WebhookDelivery, WebhookEvent.event_type)
                .join(WebhookEvent, WebhookEvent.event_id == WebhookDelivery.event_id)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.delivery_id)
                .limit(limit)
            ).all()
            ids = [delivery.delivery_id for delivery, _ in rows]
            attempts: dict[str, list[WebhookAttempt]] = {i: [] for i in ids}
            if ids:
                for attempt in session.scalars(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.delivery_id.in_(ids))
                    .order_by(WebhookAttempt.id)
                ):
                    attempts[attempt.delivery_id].append(attempt)
            return [(delivery, kind, attempts[delivery.delivery_id]) for delivery, kind in rows]

    def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        """One delivery, or None."""
        with self._sessions() as session:
            return session.get(WebhookDelivery, delivery_id)

    def redeliver(self, delivery_id: str, *, now: datetime) -> tuple[WebhookDelivery, str] | None:
        """Queue a delivery again now (same ``webhook-id``), with a fresh retry window.

        A cancelled delivery (deleted endpoint) stays cancelled. Returns the delivery and its
        event type, or None when there is no such delivery.
        """
        with self._sessions.begin() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None:
                return None
            event_type = session.scalar(
                select(WebhookEvent.event_type).where(WebhookEvent.event_id == row.event_id)
            )
            if row.status != "cancelled":
                row.status = "pending"
                row.next_attempt_at = now
                row.window_started_at = now
                row.lease_expires_at = None
                row.leased_by = None
            return row, event_type or ""

    def claim(
        self, worker: str, *, now: datetime, lease: timedelta, limit: int
    ) -> list[ClaimedDelivery]:
        """Take up to ``limit`` due deliveries for ``lease``: nobody else sends them meanwhile."""
        with self._sessions.begin() as session:
            taken = claim_due(
                session, _DELIVERY_LEASES, worker=worker, now=now, lease=lease, limit=limit
            )
            if not taken:
                return []
            rows = session.execute(
                select(WebhookDelivery, WebhookEvent.body, WebhookEndpoint)
                .join(WebhookEvent, WebhookEvent.event_id == WebhookDelivery.event_id)
                .join(WebhookEndpoint, WebhookEndpoint.endpoint_id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.delivery_id.in_(taken))
                .order_by(WebhookDelivery.next_attempt_at)
            ).all()
            claimed: list[ClaimedDelivery] = []
            for delivery, body, endpoint in rows:
                signing = [endpoint.secret]
                if (
                    endpoint.previous_secret
                    and endpoint.previous_expires_at is not None
                    and endpoint.previous_expires_at > now
                ):
                    signing.append(endpoint.previous_secret)
                claimed.append(
                    ClaimedDelivery(
                        delivery_id=delivery.delivery_id,
                        event_id=delivery.event_id,
                        endpoint_id=endpoint.endpoint_id,
                        body=body.encode(),
                        url=endpoint.url,
                        secrets=tuple(signing),
                        attempts=delivery.attempts,
                        window_started_at=delivery.window_started_at,
                    )
                )
            return claimed

    def record(self, delivery_id: str, worker: str, outcome: DeliveryOutcome) -> None:
        """Log one attempt and move the delivery on.

        Success always counts (the receiver has it). A failure moves the delivery only while
        this worker still holds its lease: after a lost lease another worker owns the retry.
        """
        with self._sessions.begin() as session:
            row = session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if row is None:
                return
            session.add(
                WebhookAttempt(
                    delivery_id=delivery_id,
                    attempt=row.attempts + 1,
                    started_at=outcome.started_at,
                    status_code=outcome.status_code,
                    error=(outcome.error or None) and outcome.error[:255],
                    latency_ms=outcome.latency_ms,
                    worker=worker[:64],
                )
            )
            row.attempts += 1
            row.last_status_code = outcome.status_code
            row.last_error = (outcome.error or None) and outcome.error[:255]
            if outcome.delivered:
                if row.status == "pending":
                    row.status = "delivered"
                row.delivered_at = row.delivered_at or outcome.started_at
                row.lease_expires_at, row.leased_by = None, None
                return
            if row.status != "pending" or row.leased_by != worker:
                return
            row.lease_expires_at, row.leased_by = None, None
            if outcome.next_attempt_at is None:
                row.status = "dead"
            else:
                row.next_attempt_at = outcome.next_attempt_at

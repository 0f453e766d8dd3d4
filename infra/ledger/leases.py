"""Claiming due rows of a queue table under a lease: the part webhooks and jobs share.

``claim_due`` takes rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (workers on
many hosts never wait on each other) and then sets each lease by compare-and-set, so on SQLite
too (where ``SKIP LOCKED`` is a no-op) two workers never hold one row. A worker that dies
leaves its lease to expire and the row is claimed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

__all__ = ["LeaseColumns", "claim_due"]


@dataclass(frozen=True)
class LeaseColumns:
    """The columns of a queue table that claiming reads and writes."""

    table: type[Any]
    key: InstrumentedAttribute[str]
    status: InstrumentedAttribute[str]
    next_attempt_at: InstrumentedAttribute[datetime]
    lease_expires_at: InstrumentedAttribute[datetime | None]
    leased_by: InstrumentedAttribute[str | None]

    def free(self, now: datetime) -> ColumnElement[bool]:
        """Nobody holds the row: never leased, or the lease has run out."""
        return or_(self.lease_expires_at.is_(None), self.lease_expires_at < now)


def claim_due(
    session: Session,
    columns: LeaseColumns,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    values: dict[str, Any] | None = None,
) -> list[str]:
    """Lease up to ``limit`` pending rows due by ``now`` to ``worker``; their keys, due first.

    ``values`` are set with the lease in the same compare-and-set (jobs count an attempt at
    claim time, so a file that kills its worker still uses up attempts).
    """
    free = columns.free(now)
    due = session.scalars(
        select(columns.key)
        .where(columns.status == "pending", columns.next_attempt_at <= now, free)
        .order_by(columns.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    taken: list[str] = []
    for key in due:
        result = session.execute(
            update(columns.table)
            .where(columns.key == key, free)
            .values(lease_expires_at=now + lease, leased_by=worker, **(values or {}))
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            taken.append(key)
    return taken

"""Dispute listing filters shared by every listing: the platform's, the merchant's, the agents'.

One place says how a reason filter reads the stored codes and how a keyset page continues, so
the listings cannot drift apart (a filter applied after the limit, an offset cursor).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, or_

from infra.ledger.models import Dispute

__all__ = ["has_reason", "keyset_page"]


def has_reason(code: str) -> ColumnElement[bool]:
    """The latest verdict carries reason ``code`` (codes are stored as ``,a,b,``)."""
    return Dispute.reason_codes.contains(f",{code},", autoescape=True)


def keyset_page(
    query: Select[Dispute],
    *,
    decision: str | None = None,
    reason: str | None = None,
    order_id: str | None = None,
    buyer_id: str | None = None,
    updated_since: datetime | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int = 100,
) -> Select[Dispute]:
    """``query`` filtered in SQL, then one page in (``updated_at``, id) order.

    ``after`` is the last (updated_at, dispute_id) of the previous page: no offset, and every
    filter applies before the limit.
    """
    if decision:
        query = query.where(Dispute.decision == decision)
    if reason:
        query = query.where(has_reason(reason))
    if order_id:
        query = query.where(Dispute.order_id == order_id)
    if buyer_id:
        query = query.where(Dispute.buyer_id == buyer_id)
    if updated_since:
        query = query.where(Dispute.updated_at >= updated_since)
    if after:
        at, last_id = after
        query = query.where(
            or_(
                Dispute.updated_at > at,
                and_(Dispute.updated_at == at, Dispute.dispute_id > last_id),
            )
        )
    return query.order_by(Dispute.updated_at, Dispute.dispute_id).limit(limit)

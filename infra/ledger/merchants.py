"""Merchant tenants in the ledger: merchants, their reopen log, responses and dispute reads.

A merchant (a seller) owns stations (``devices.merchant_id``) and orders
(``orders.merchant_id``); a dispute belongs to the merchant of its order. Every read here is
scoped by the merchant id, so a caller that passes its own merchant can never reach another
merchant's row: a row of another merchant and an absent one both come back as None.
The ``default`` merchant owns everything stored before tenants existed and every order
registered without a ``merchant_id``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from infra.errors import ConflictError, InputError, NotFoundError
from infra.ledger.counting import hold_counting_lock
from infra.ledger.dispute_pages import keyset_page
from infra.ledger.models import (
    CaptureSession,
    Dispute,
    Evidence,
    Merchant,
    MerchantResponse,
    Order,
    OrderReopen,
)
from infra.ledger.sessions import GuardedSessions

__all__ = [
    "DEFAULT_MERCHANT",
    "MerchantInfo",
    "MerchantNotFoundError",
    "Merchants",
    "ReopenRecord",
    "check_merchant_id",
]

#: The merchant of everything stored before tenants, and of orders registered without one.
DEFAULT_MERCHANT = "default"
_MERCHANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MAX_NAME = 128


class MerchantNotFoundError(InputError):
    """A request names a merchant that is not registered (``orderseal merchants add``)."""

    code = "merchant_not_found"


def check_merchant_id(merchant_id: str) -> str:
    """A merchant id of the shape the ledger holds.

    Raises:
        InputError: ``invalid_request``.
    """
    if not _MERCHANT_ID.fullmatch(merchant_id):
        raise InputError(
            "expected a merchant id of 1-64 letters, digits and . _ - (starting alphanumeric)",
            code="invalid_request",
        )
    return merchant_id


@dataclass(frozen=True)
class MerchantInfo:
    """A merchant as lists show it."""

    merchant_id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class ReopenRecord:
    """One reopening of a packed order."""

    order_id: str
    merchant_id: str
    by_role: str
    by_subject: str
    reason: str | None
    released_session_ids: tuple[str, ...]
    reopened_at: datetime

    @classmethod
    def from_row(cls, row: OrderReopen) -> ReopenRecord:
        """The record of a ledger row."""
        return cls(
            order_id=row.order_id,
            merchant_id=row.merchant_id,
            by_role=row.by_role,
            by_subject=row.by_subject,
            reason=row.reason,
            released_session_ids=tuple(str(s) for s in row.released_session_ids),
            reopened_at=row.reopened_at,
        )


def _info(row: Merchant) -> MerchantInfo:
    return MerchantInfo(row.merchant_id, row.name, row.created_at)


class Merchants:
    """Repository of merchants and their scoped reads; each method is one transaction.

    Every method raises ``UnavailableError`` (``ledger_unavailable``, 503) when the database
    is down or drops the connection.
    """

    def __init__(self, sessions: GuardedSessions) -> None:
        self._sessions = sessions

    # Merchants ---------------------------------------------------------------
    def add(self, merchant_id: str, *, name: str, now: datetime) -> MerchantInfo:
        """Register a merchant.

        Raises:
            InputError: an id or name of the wrong shape.
            ConflictError: ``merchant_exists``.
        """
        name = name.strip()
        if not name or len(name) > _MAX_NAME or not name.isprintable():
            raise InputError(f"expected a name of 1-{_MAX_NAME} printable characters")
        row = Merchant(merchant_id=check_merchant_id(merchant_id), name=name, created_at=now)
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            raise ConflictError(
                f"expected a new merchant id, found {merchant_id} registered",
                code="merchant_exists",
            ) from exc
        return _info(row)

    def get(self, merchant_id: str) -> MerchantInfo | None:
        """The merchant, or None."""
        with self._sessions() as session:
            row = session.get(Merchant, merchant_id[:64])
            return None if row is None else _info(row)

    def require(self, merchant_id: str) -> MerchantInfo:
        """The merchant a request names.

        Raises:
            MerchantNotFoundError: ``merchant_not_found`` (422).
        """
        info = self.get(merchant_id)
        if info is None:
            raise MerchantNotFoundError(
                f"expected a registered merchant, found {merchant_id[:64]!r}"
            )
        return info

    def list_merchants(self) -> list[MerchantInfo]:
        """Every merchant, by id."""
        with self._sessions() as session:
            return [
                _info(r) for r in session.scalars(select(Merchant).order_by(Merchant.merchant_id))
            ]

    # Scoped reads ------------------------------------------------------------
    def order(self, merchant_id: str, order_id: str) -> Order | None:
        """The merchant's order, or None (absent, or another merchant's)."""
        with self._sessions() as session:
            row = session.get(Order, order_id[:64])
            return row if row is not None and row.merchant_id == merchant_id else None

    def dispute(self, merchant_id: str, dispute_id: str) -> Dispute | None:
        """A dispute on one of the merchant's orders, or None."""
        with self._sessions() as session:
            return session.scalars(
                select(Dispute)
                .join(Order, Order.order_id == Dispute.order_id)
                .where(Dispute.dispute_id == dispute_id[:64], Order.merchant_id == merchant_id)
            ).one_or_none()

    def evidence(self, merchant_id: str, evidence_id: str) -> Evidence | None:
        """The merchant's own sealed evidence (shipment stage, one of its orders), or None.

        A buyer's receipt captures are the buyer's: they reach the merchant only as files the
        platform attached to a dispute, never by evidence id.
        """
        with self._sessions() as session:
            return session.scalars(
                select(Evidence)
                .join(Order, Order.order_id == Evidence.order_id)
                .where(
                    Evidence.evidence_id == evidence_id[:64],
                    Evidence.stage == "shipment",
                    Order.merchant_id == merchant_id,
                )
            ).one_or_none()

    def disputes(
        self,
        merchant_id: str,
        *,
        decision: str | None = None,
        reason: str | None = None,
        order_id: str | None = None,
        updated_since: datetime | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> list[Dispute]:
        """One page of the merchant's disputes in (``updated_at``, id) order, filtered in SQL.

        ``after`` is the last (updated_at, dispute_id) of the previous page (keyset cursor).
        """
        query = keyset_page(
            select(Dispute)
            .join(Order, Order.order_id == Dispute.order_id)
            .where(Order.merchant_id == merchant_id),
            decision=decision,
            reason=reason,
            order_id=order_id,
            updated_since=updated_since,
            after=after,
            limit=limit,
        )
        with self._sessions() as session:
            return list(session.scalars(query))

    # Policy counts -------------------------------------------------------------
    def attributed_counts(
        self, merchant_id: str, *, since: datetime, excluding: str
    ) -> tuple[int, int]:
        """(decided disputes, merchant-attributed ones) on the merchant's orders since ``since``.

        Counted by filing time, the dispute being decided left out.
        """
        with self._sessions() as session:
            row = session.execute(
                select(
                    func.count(),
                    func.count().filter(Dispute.attribution == "merchant"),
                )
                .select_from(Dispute)
                .join(Order, Order.order_id == Dispute.order_id)
                .where(
                    Order.merchant_id == merchant_id,
                    Dispute.decision.is_not(None),
                    Dispute.created_at >= since,
                    Dispute.dispute_id != excluding,
                )
            ).one()
            return int(row[0] or 0), int(row[1] or 0)

    def buyer_swaps(self, buyer_id: str, *, since: datetime, excluding: str) -> int:
        """Other disputes of the buyer since ``since`` whose verdict points to the buyer."""
        with self._sessions() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Dispute)
                    .where(
                        Dispute.buyer_id == buyer_id,
                        Dispute.attribution == "buyer",
                        Dispute.created_at >= since,
                        Dispute.dispute_id != excluding,
                    )
                )
                or 0
            )

    # Reopening -----------------------------------------------------------------
    def reopen(
        self,
        order_id: str,
        *,
        merchant_id: str | None,
        by_role: str,
        by_subject: str,
        reason: str | None,
        at: datetime,
    ) -> ReopenRecord | None:
        """Release the order's closed shipment sessions and record who, when and why.

        ``merchant_id`` None is the platform (any merchant's order); otherwise the order must
        be that merchant's. One transaction: the log and the release never disagree.

        Raises:
            NotFoundError: ``order_unknown`` (absent, or another merchant's).

        Returns:
            The record, or None when there was no closed, unreleased session to release.
        """
        with self._sessions.begin() as session:
            order = session.get(Order, order_id[:64])
            if order is None or (merchant_id is not None and order.merchant_id != merchant_id):
                raise NotFoundError(f"order {order_id} is not registered", code="order_unknown")
            rows = session.scalars(
                select(CaptureSession)
                .where(
                    CaptureSession.order_id == order_id,
                    CaptureSession.stage == "shipment",
                    CaptureSession.closed_at.is_not(None),
                    CaptureSession.released_at.is_(None),
                )
                .with_for_update()
            ).all()
            if not rows:
                return None
            for row in rows:
                row.released_at = at
                row.released_by = by_subject[:64]
            record = OrderReopen(
                order_id=order_id,
                merchant_id=order.merchant_id,
                by_role=by_role,
                by_subject=by_subject[:64],
                reason=reason,
                released_session_ids=sorted(row.session_id for row in rows),
                reopened_at=at,
            )
            session.add(record)
            return ReopenRecord.from_row(record)

    def reopens(self, order_id: str) -> list[ReopenRecord]:
        """Every reopening of the order, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(OrderReopen).where(OrderReopen.order_id == order_id).order_by(OrderReopen.id)
            )
            return [ReopenRecord.from_row(row) for row in rows]

    # Responses -------------------------------------------------------------------
    def add_response(
        self,
        dispute_id: str,
        *,
        merchant_id: str,
        statement: str,
        evidence_ids: Sequence[str],
        created_by: str,
        now: datetime,
        max_responses: int,
    ) -> MerchantResponse:
        """Store a merchant's response to a dispute (the caller checked scope and evidence).

        Raises:
            ConflictError: ``response_limit_reached``: the dispute holds ``max_responses``.
        """
        row = MerchantResponse(
            response_id=f"mr_{secrets.token_hex(8)}",
            dispute_id=dispute_id,
            merchant_id=merchant_id,
            statement=statement,
            evidence_ids=list(evidence_ids),
            created_by=created_by[:64],
            created_at=now,
        )
        with self._sessions.begin() as session:
            hold_counting_lock(session, f"merchant_responses:{dispute_id}")
            held = session.scalar(
                select(func.count())
                .select_from(MerchantResponse)
                .where(MerchantResponse.dispute_id == dispute_id)
            )
            if (held or 0) >= max_responses:
                raise ConflictError(
                    f"expected at most {max_responses} responses to one dispute",
                    code="response_limit_reached",
                )
            session.add(row)
        return row

    def responses(self, dispute_id: str) -> list[MerchantResponse]:
        """Every merchant response to the dispute, oldest first (agents read these)."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(MerchantResponse)
                    .where(MerchantResponse.dispute_id == dispute_id)
                    .order_by(MerchantResponse.created_at, MerchantResponse.response_id)
                )
            )

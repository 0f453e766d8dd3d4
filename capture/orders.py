"""Orders: register an order for capture, look one up, update, cancel or reopen it.

The platform registers every order before it is packed; the sessions and the upload
pipeline only ever act on a registered, open order. Registering an order id again with the
same content answers the order (``created`` False); with other content ``order_exists``. A
cancelled order refuses new capture sessions, updates and buyer tokens (``order_cancelled``);
what it already sealed is kept.

Every order belongs to a merchant (issue 17): the platform names it when it registers the
order, and an order registered without one belongs to ``default``. Reopening a packed order is
the platform's or the merchant's admin's; each reopening is logged with who, when and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from capture.errors import (
    BuyerNotOnOrderError,
    OrderCancelledError,
    OrderExistsError,
    OrderNotPackedError,
)
from infra.errors import ConflictError, NotFoundError
from infra.ledger.merchants import DEFAULT_MERCHANT, ReopenRecord
from infra.ledger.models import Evidence, Order
from infra.ledger.repository import Ledger

__all__ = [
    "CANCELLED",
    "OPEN",
    "OrderChanges",
    "OrderItem",
    "OrderService",
    "RegisteredOrder",
    "ReopenedOrder",
]

#: Order states: an open order can be packed and received; a cancelled one cannot.
OPEN, CANCELLED = "open", "cancelled"

#: The fields a registration retry must repeat exactly to be the same order.
_IDENTITY = (
    "buyer_id",
    "items",
    "declared_value",
    "currency",
    "carrier",
    "tracking_number",
    "expected_delivery",
    "merchant_id",
)

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderItem:
    """One order line."""

    sku: str
    quantity: int
    serials: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegisteredOrder:
    """A registration's answer: the order, and whether this call created it."""

    order: Order
    created: bool


@dataclass(frozen=True)
class OrderChanges:
    """What the platform may change on an open order; None leaves a field as it is.

    The buyer, items, value and currency are what the evidence was sealed against, so they
    never change (cancel and register a new order instead).
    """

    expected_delivery: date | None = None
    carrier: str | None = None
    tracking_number: str | None = None


#: A reopening is the platform's or a merchant admin's (``ReopenRecord.by_role``).
ReopenedOrder = ReopenRecord


class OrderService:
    """Orders in the ledger, as the platform and the capture sessions see them."""

    def __init__(self, *, ledger: Ledger) -> None:
        self.ledger = ledger

    def register_order(
        self,
        *,
        order_id: str,
        buyer_id: str,
        items: list[OrderItem],
        declared_value: Decimal,
        currency: str,
        carrier: str | None,
        tracking_number: str | None,
        expected_delivery: date | None,
        now: datetime,
        merchant_id: str | None = None,
    ) -> RegisteredOrder:
        """Register an order for capture, owned by ``merchant_id`` (None: ``default``).

        Raises:
            MerchantNotFoundError: ``merchant_not_found``, the merchant is not registered.
            OrderExistsError: ``order_exists``, the id is registered with other content.

        Returns:
            The recorded order; ``created`` False when the same order was registered before
            (a retry without an Idempotency-Key).
        """
        merchant = self.ledger.merchants.require(merchant_id or DEFAULT_MERCHANT)
        order = Order(
            order_id=order_id,
            merchant_id=merchant.merchant_id,
            buyer_id=buyer_id,
            items=[
                {"sku": i.sku, "quantity": i.quantity, "serials": list(i.serials)} for i in items
            ],
            declared_value=str(declared_value),
            currency=currency,
            carrier=carrier,
            tracking_number=tracking_number,
            expected_delivery=expected_delivery,
            created_at=now,
            status=OPEN,
        )
        try:
            self.ledger.add_order(order)
        except ConflictError:
            existing = self.ledger.get_order(order_id)
            if existing is None or any(
                getattr(existing, f) != getattr(order, f) for f in _IDENTITY
            ):
                raise OrderExistsError(
                    f"expected a new order id or the same content, found order {order_id} "
                    "registered with other content"
                ) from None
            return RegisteredOrder(existing, created=False)
        return RegisteredOrder(order, created=True)

    def order(self, order_id: str) -> Order:
        """A registered order.

        Raises:
            NotFoundError: ``order_unknown``.
        """
        order = self.ledger.get_order(order_id)
        if order is None:
            raise NotFoundError(f"order {order_id} is not registered", code="order_unknown")
        return order

    def refuse_if_cancelled(self, order: Order) -> Order:
        """The order if it is open.

        Raises:
            OrderCancelledError: ``order_cancelled``.
        """
        if order.status == CANCELLED:
            raise OrderCancelledError(f"expected an open order, found {order.order_id} cancelled")
        return order

    def update_order(self, order_id: str, changes: OrderChanges, *, now: datetime) -> Order:
        """Change what may change on an open order.

        Raises:
            NotFoundError: ``order_unknown``.
            OrderCancelledError: ``order_cancelled``.

        Returns:
            The order as stored now.
        """
        values = {k: v for k, v in vars(changes).items() if v is not None}
        updated = self.ledger.update_open_order(order_id, values, now=now)
        if updated is None:
            self.refuse_if_cancelled(self.order(order_id))
            raise NotFoundError(f"order {order_id} is not registered", code="order_unknown")
        return updated

    def cancel_order(self, order_id: str, *, now: datetime) -> Order:
        """Cancel the order; cancelling a cancelled order answers it unchanged.

        Raises:
            NotFoundError: ``order_unknown``.
        """
        cancelled = self.ledger.cancel_order(order_id, now=now)
        if cancelled is None:
            raise NotFoundError(f"order {order_id} is not registered", code="order_unknown")
        _log.info("order %s cancelled", order_id)
        return cancelled

    def sealed_evidence(self, order_id: str) -> list[Evidence]:
        """The order's sealed evidence, oldest first.

        Raises:
            NotFoundError: ``order_unknown``.
        """
        self.order(order_id)
        return self.ledger.evidence_for_order(order_id)

    def order_for_buyer_token(self, order_id: str, *, buyer_id: str) -> Order:
        """The open order a buyer token is asked for, if it names ``buyer_id``.

        Raises:
            NotFoundError: ``order_unknown``.
            BuyerNotOnOrderError: ``buyer_not_on_order``.
            OrderCancelledError: ``order_cancelled``.
        """
        order = self.order(order_id)
        if order.buyer_id != buyer_id:
            raise BuyerNotOnOrderError(
                f"expected the buyer order {order_id} names, found another buyer"
            )
        return self.refuse_if_cancelled(order)

    def buyer_order(self, order_id: str, *, buyer_id: str) -> Order | None:
        """The order if it is registered and belongs to ``buyer_id``, else None."""
        order = self.ledger.get_order(order_id)
        if order is None or order.buyer_id != buyer_id:
            return None
        return order

    def reopen_order(
        self,
        order_id: str,
        *,
        by: str,
        now: datetime,
        reason: str | None = None,
        merchant_id: str | None = None,
    ) -> ReopenedOrder:
        """Release the order's closed shipment sessions so a station can pack it again.

        The released sessions keep their evidence and the labels already printed; they are
        marked with who reopened the order and when, and the reopen log keeps who (role and
        subject), when and why.

        Args:
            order_id: the packed order.
            by: the caller (API key subject), recorded on each released session.
            now: the reopening time.
            reason: why (required of a merchant admin; the platform may leave it out).
            merchant_id: a merchant admin's merchant: only its own orders (None: the platform).

        Raises:
            NotFoundError: ``order_unknown`` (absent, or another merchant's).
            OrderNotPackedError: no closed shipment session is left to release.

        Returns:
            The reopen record.
        """
        record = self.ledger.merchants.reopen(
            order_id,
            merchant_id=merchant_id,
            by_role="platform" if merchant_id is None else "merchant",
            by_subject=by,
            reason=reason,
            at=now,
        )
        if record is None:
            raise OrderNotPackedError(
                f"expected order {order_id} packed (a closed shipment session), found none"
            )
        _log.info(
            "order %s reopened for packing by %s %s (released %s)",
            order_id,
            record.by_role,
            by,
            record.released_session_ids,
        )
        return record

    def reopens(self, order_id: str, *, merchant_id: str | None = None) -> list[ReopenRecord]:
        """The order's reopen log, oldest first (``merchant_id``: only that merchant's order).

        Raises:
            NotFoundError: ``order_unknown`` (absent, or another merchant's).
        """
        order = self.ledger.get_order(order_id)
        if order is None or (merchant_id is not None and order.merchant_id != merchant_id):
            raise NotFoundError(f"order {order_id} is not registered", code="order_unknown")
        return self.ledger.merchants.reopens(order_id)

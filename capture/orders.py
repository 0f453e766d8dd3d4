"""Orders: register an order for capture, look one up, reopen a packed one.

The platform registers every order before it is packed; the sessions and the upload
pipeline only ever act on a registered order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from capture.errors import OrderNotPackedError
from infra.errors import NotFoundError
from infra.ledger.models import Order
from infra.ledger.repository import Ledger

__all__ = ["OrderItem", "OrderService", "ReopenedOrder"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderItem:
    """One order line."""

    sku: str
    quantity: int
    serials: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReopenedOrder:
    """The platform released an order's closed shipment sessions so it can be packed again."""

    order_id: str
    reopened_by: str
    reopened_at: datetime
    released_session_ids: tuple[str, ...]


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
    ) -> Order:
        """Register an order for capture; the id must be new.

        Raises:
            ConflictError: the order id is already registered.

        Returns:
            The recorded order.
        """
        order = Order(
            order_id=order_id,
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
        )
        self.ledger.add_order(order)
        return order

    def order(self, order_id: str) -> Order:
        """A registered order.

        Raises:
            NotFoundError: ``order_unknown``.
        """
        order = self.ledger.get_order(order_id)
        if order is None:
            raise NotFoundError(f"order {order_id} is not registered", code="order_unknown")
        return order

    def buyer_order(self, order_id: str, *, buyer_id: str) -> Order | None:
        """The order if it is registered and belongs to ``buyer_id``, else None."""
        order = self.ledger.get_order(order_id)
        if order is None or order.buyer_id != buyer_id:
            return None
        return order

    def reopen_order(self, order_id: str, *, by: str, now: datetime) -> ReopenedOrder:
        """Release the order's closed shipment sessions so a station can pack it again.

        The released sessions keep their evidence and the labels already printed; they are
        marked with who reopened the order and when.

        Args:
            order_id: the packed order.
            by: the platform caller (API key subject), recorded on each released session.
            now: the reopening time.

        Raises:
            NotFoundError: ``order_unknown``.
            OrderNotPackedError: no closed shipment session is left to release.

        Returns:
            The released session ids with who and when.
        """
        self.order(order_id)
        released = self.ledger.release_shipment_sessions(order_id, by=by, at=now)
        if not released:
            raise OrderNotPackedError(
                f"expected order {order_id} packed (a closed shipment session), found none"
            )
        _log.info("order %s reopened for packing by %s (released %s)", order_id, by, released)
        return ReopenedOrder(order_id, by, now, tuple(released))

"""Order routes (platform): register an order before it is packed, reopen a packed one."""

from __future__ import annotations

from fastapi import APIRouter

from capture.orders import OrderItem
from capture.routes.deps import Clock, Orders
from capture.schemas import OrderIn, OrderOut, OrderReopenOut
from infra.auth import PlatformPrincipal

__all__ = ["router"]

router = APIRouter(prefix="/v1")


@router.post("/orders", status_code=201, tags=["platform"])
def register_order(
    body: OrderIn, principal: PlatformPrincipal, orders: Orders, clock: Clock
) -> OrderOut:
    """Register an order before it is packed."""
    order = orders.register_order(
        order_id=body.order_id,
        buyer_id=body.buyer_id,
        items=[OrderItem(i.sku, i.quantity, tuple(i.serials)) for i in body.items],
        declared_value=body.declared_value,
        currency=body.currency,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
        expected_delivery=body.expected_delivery,
        now=clock(),
    )
    return OrderOut(
        order_id=order.order_id,
        buyer_id=order.buyer_id,
        declared_value=order.declared_value,
        currency=order.currency,
        created_at=order.created_at,
    )


@router.post("/orders/{order_id}/reopen", tags=["platform"])
def reopen_order(
    order_id: str, principal: PlatformPrincipal, orders: Orders, clock: Clock
) -> OrderReopenOut:
    """Reopen a packed order so a station can open a new shipment session for it.

    Without this, ``POST /v1/shipment-sessions`` on a packed order answers
    ``409 order_already_packed``. The released sessions record who reopened and when.
    """
    reopened = orders.reopen_order(order_id, by=principal.subject, now=clock())
    return OrderReopenOut(
        order_id=reopened.order_id,
        reopened_by=reopened.reopened_by,
        reopened_at=reopened.reopened_at,
        released_session_ids=list(reopened.released_session_ids),
    )

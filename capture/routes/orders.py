"""Order routes (platform): register, read, update, cancel and reopen an order; its evidence.

An order names its merchant (``merchant_id``; left out, ``default``): only that merchant's
stations can pack it. Every reopen is logged (who, when, why): ``GET .../reopens``.

``POST /v1/orders`` takes an ``Idempotency-Key`` (infra.idempotency): a retry with the same
key and body answers the first answer (``Idempotent-Replayed: true``). Without a key, the same
order registered again answers ``200`` with the order, and other content ``409 order_exists``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from capture.orders import OrderChanges, OrderItem, ReopenedOrder
from capture.routes.deps import Clock, Idempotent, Orders
from capture.schemas import (
    OrderEvidenceListOut,
    OrderEvidenceOut,
    OrderIn,
    OrderItemOut,
    OrderOut,
    OrderPatchIn,
    OrderReopenIn,
    OrderReopenOut,
    OrderReopensOut,
)
from infra.auth import PlatformPrincipal
from infra.idempotency import IDEMPOTENCY_KEY_MAX_CHARS
from infra.json_body import bounded_json_route
from infra.ledger.models import Order

__all__ = ["order_out", "reopen_out", "router"]

#: An order lists up to 1000 items with their serials: its body may be larger than most.
router = APIRouter(prefix="/v1", route_class=bounded_json_route(2 * 1024 * 1024))

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=IDEMPOTENCY_KEY_MAX_CHARS,
        description="Retry-safe creation: the same key and body answer the first answer (24 h)",
    ),
]


def order_out(order: Order) -> OrderOut:
    """The API view of a ledger order."""
    return OrderOut(
        order_id=order.order_id,
        buyer_id=order.buyer_id,
        items=[
            OrderItemOut(sku=i["sku"], quantity=i["quantity"], serials=list(i.get("serials") or []))
            for i in order.items
        ],
        declared_value=order.declared_value,
        currency=order.currency,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        expected_delivery=order.expected_delivery,
        status=order.status,
        merchant_id=order.merchant_id,
        created_at=order.created_at,
        updated_at=order.updated_at,
        cancelled_at=order.cancelled_at,
    )


@router.post("/orders", status_code=201, tags=["platform"])
def register_order(
    body: OrderIn,
    principal: PlatformPrincipal,
    response: Response,
    orders: Orders,
    idempotency: Idempotent,
    clock: Clock,
    idempotency_key: IdempotencyKeyHeader = None,
) -> OrderOut:
    """Register an order before it is packed (201; 200 when the same order was registered)."""
    now = clock()

    def register() -> tuple[int, OrderOut]:
        registered = orders.register_order(
            order_id=body.order_id,
            buyer_id=body.buyer_id,
            items=[OrderItem(i.sku, i.quantity, tuple(i.serials)) for i in body.items],
            declared_value=body.declared_value,
            currency=body.currency,
            carrier=body.carrier,
            tracking_number=body.tracking_number,
            expected_delivery=body.expected_delivery,
            now=now,
            merchant_id=body.merchant_id,
        )
        return (201 if registered.created else 200), order_out(registered.order)

    outcome = idempotency.run(
        idempotency_key,
        scope=principal.subject,
        route="POST /v1/orders",
        # Without a merchant the body hashes as before merchants existed, so a retry that
        # spans the upgrade still matches its first request.
        request=body.model_dump(
            mode="json", exclude={"merchant_id"} if body.merchant_id is None else None
        ),
        now=now,
        model=OrderOut,
        action=register,
    )
    response.status_code = outcome.status_code
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return outcome.body


@router.get("/orders/{order_id}", tags=["platform"])
def get_order(order_id: str, principal: PlatformPrincipal, orders: Orders) -> OrderOut:
    """The order as registered, with its status (``open`` or ``cancelled``)."""
    return order_out(orders.order(order_id))


@router.patch("/orders/{order_id}", tags=["platform"])
def update_order(
    order_id: str, body: OrderPatchIn, principal: PlatformPrincipal, orders: Orders, clock: Clock
) -> OrderOut:
    """Change the expected delivery date, carrier or tracking number of an open order.

    Everything else is what the evidence was sealed against and never changes.
    A cancelled order answers ``409 order_cancelled``.
    """
    changes = OrderChanges(
        expected_delivery=body.expected_delivery,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
    )
    return order_out(orders.update_order(order_id, changes, now=clock()))


@router.post("/orders/{order_id}/cancel", tags=["platform"])
def cancel_order(
    order_id: str, principal: PlatformPrincipal, orders: Orders, clock: Clock
) -> OrderOut:
    """Cancel the order: new capture sessions and buyer tokens for it are refused.

    Sealed evidence and disputes are kept. Cancelling again answers the order unchanged.
    """
    return order_out(orders.cancel_order(order_id, now=clock()))


@router.get("/orders/{order_id}/evidence", tags=["platform"])
def order_evidence(
    order_id: str, principal: PlatformPrincipal, orders: Orders
) -> OrderEvidenceListOut:
    """The order's sealed evidence, oldest first (attach by id: ``POST .../sealed``)."""
    return OrderEvidenceListOut(
        order_id=order_id,
        evidence=[
            OrderEvidenceOut(
                evidence_id=e.evidence_id,
                stage=e.stage,
                media_type=e.media_type,
                title=e.title,
                sealed_at=e.sealed_at,
                sealed_sha256=e.sealed_sha256,
                size=e.sealed_size,
            )
            for e in orders.sealed_evidence(order_id)
        ],
    )


def reopen_out(reopened: ReopenedOrder) -> OrderReopenOut:
    """The API view of one reopening."""
    return OrderReopenOut(
        order_id=reopened.order_id,
        reopened_by=reopened.by_subject,
        reopened_by_role=reopened.by_role,
        reopened_at=reopened.reopened_at,
        reason=reopened.reason,
        released_session_ids=list(reopened.released_session_ids),
    )


@router.post("/orders/{order_id}/reopen", tags=["platform"])
def reopen_order(
    order_id: str,
    principal: PlatformPrincipal,
    orders: Orders,
    clock: Clock,
    body: OrderReopenIn | None = None,
) -> OrderReopenOut:
    """Reopen a packed order so a station can open a new shipment session for it.

    Without this, ``POST /v1/shipment-sessions`` on a packed order answers
    ``409 order_already_packed``. The released sessions record who reopened and when, and the
    order's reopen log (``GET .../reopens``) who, when and why: send ``{"reason": ...}``
    (optional here for callers of earlier versions; the merchant's route requires it).
    """
    reopened = orders.reopen_order(
        order_id, by=principal.subject, now=clock(), reason=body.reason if body else None
    )
    return reopen_out(reopened)


@router.get("/orders/{order_id}/reopens", tags=["platform"])
def order_reopens(order_id: str, principal: PlatformPrincipal, orders: Orders) -> OrderReopensOut:
    """Every reopening of the order (platform and merchant admins), oldest first."""
    return OrderReopensOut(
        order_id=order_id, reopens=[reopen_out(r) for r in orders.reopens(order_id)]
    )

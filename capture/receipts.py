"""The buyer's view of a receipt session: what was sealed, when, and the chain to shipment.

Also opens a receipt session from the order number printed under the QR, for a buyer whose
camera cannot read the code: only for the buyer's own order with a closed shipment session.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from capture.manifest import Stage
from capture.schemas import SessionOut
from infra.auth import BuyerPrincipal
from infra.errors import NotFoundError, OrderSealError
from infra.ledger.models import Evidence
from infra.ratelimit import enforce
from infra.services import Services

__all__ = ["ReceiptByOrderIn", "ReceiptOut", "SealedItemOut", "router"]

router = APIRouter(prefix="/v1")


class ReceiptByOrderIn(BaseModel):
    """The order number as the buyer typed it from the label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class SealedItemOut(BaseModel):
    """One sealed capture, as the buyer may see it."""

    evidence_id: str
    title: str
    media_type: str
    captured_at: datetime
    sealed_at: datetime
    sealed_sha256: str
    original_sha256: str
    manifest_id: str


class ReceiptOut(BaseModel):
    """A receipt session's sealed captures and the shipment evidence they chain back to."""

    order_id: str
    session_id: str
    opened_at: datetime
    closed_at: datetime | None
    sealed: list[SealedItemOut]
    shipment_session_id: str | None
    shipped_at: datetime | None
    shipment: list[SealedItemOut]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _item(row: Evidence) -> SealedItemOut:
    return SealedItemOut(
        evidence_id=row.evidence_id,
        title=row.title,
        media_type=row.media_type,
        captured_at=row.captured_at,
        sealed_at=row.sealed_at,
        sealed_sha256=row.sealed_sha256,
        original_sha256=row.original_sha256,
        manifest_id=row.manifest_id,
    )


@router.get("/receipt-sessions/{session_id}/receipt", tags=["buyer"])
def receipt_summary(session_id: str, principal: BuyerPrincipal, request: Request) -> ReceiptOut:
    """The buyer's own receipt session with its sealed captures and the shipment chain."""
    ledger = _services(request).ledger
    session = ledger.get_session(session_id)
    if session is None or session.buyer_id != principal.subject:
        raise NotFoundError("no such session for this caller", code="session_not_found")
    receipt = [
        row
        for row in ledger.evidence_for_order(session.order_id, Stage.RECEIPT.value)
        if row.session_id == session_id
    ]
    shipped = ledger.latest_shipment_session(session.order_id)
    return ReceiptOut(
        order_id=session.order_id,
        session_id=session_id,
        opened_at=session.opened_at,
        closed_at=session.closed_at,
        sealed=[_item(row) for row in receipt],
        shipment_session_id=shipped.session_id if shipped else None,
        shipped_at=shipped.closed_at if shipped else None,
        shipment=[
            _item(row) for row in ledger.evidence_for_order(session.order_id, Stage.SHIPMENT.value)
        ],
    )


@router.post("/receipt-sessions/by-order", status_code=201, tags=["buyer"])
def open_receipt_by_order(
    body: ReceiptByOrderIn, principal: BuyerPrincipal, request: Request
) -> SessionOut:
    """Open a receipt session from the order number typed off the label (camera fallback)."""
    enforce(request, "sessions", principal)
    services = _services(request)
    now = services.clock()
    order = services.ledger.get_order(body.order_id)
    if order is None or order.buyer_id != principal.subject:
        # One answer for "unknown" and "someone else's": order numbers cannot be probed.
        raise OrderSealError(
            "this is not one of your orders", code="not_your_order", http_status=403
        )
    token = services.capture.label_token_for(order.order_id, now=now)
    row = services.capture.open_receipt_session(principal.subject, token, now=now)
    return SessionOut(
        session_id=row.session_id, order_id=row.order_id, stage=row.stage, expires_at=row.expires_at
    )

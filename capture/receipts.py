"""The buyer's view of a receipt session: what was sealed, when, and the chain to shipment.

There is no way to open a receipt session from the order number alone (the former
``POST /v1/receipt-sessions/by-order``, removed in issue 14, item 18): only the signed label
token proves the buyer holds the parcel, and a receipt seal must not claim that otherwise.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from capture.context import CaptureContext
from evidence.manifest import Stage
from infra.auth import BuyerPrincipal
from infra.errors import NotFoundError
from infra.ledger.models import Evidence

__all__ = ["ReceiptOut", "SealedItemOut", "router"]

router = APIRouter(prefix="/v1")


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


def _services(request: Request) -> CaptureContext:
    services: CaptureContext = request.app.state.services
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

"""Receipt session routes (buyer): open one from the parcel label, see it, finish it; QR check.

There is no way to open a receipt session from the order number alone (the former
``POST /v1/receipt-sessions/by-order``, removed in issue 14, item 18): only the signed label
token proves the buyer holds the parcel, and a receipt seal must not claim that otherwise.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from capture.label_check import LabelState
from capture.routes.deps import Clock, Sessions
from capture.schemas import (
    QRCheckIn,
    QRCheckOut,
    QRItemOut,
    ReceiptOut,
    ReceiptSessionIn,
    SealedItemOut,
    SessionOut,
)
from evidence.label_entry import recorded_entry
from infra.auth import BuyerPrincipal
from infra.json_body import BoundedJSONRoute
from infra.ledger.models import Evidence
from infra.ratelimit import enforce

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)

_NOT_OFFICIAL = (
    "This is not an official OrderSeal label for one of your orders. "
    "Do not contact anyone or pay through it."
)
# The page shows its own words in the buyer's language; these are for API clients.
_MESSAGES = {
    LabelState.OFFICIAL: "Official OrderSeal label for your order.",
    LabelState.EXPIRED: "Your own order's label, past its expiry: it no longer opens a capture.",
    LabelState.OTHER_ACCOUNT: "A genuine OrderSeal label, for an order of another account.",
    LabelState.REVOKED: "Signed with a withdrawn key: ask the seller through the platform.",
    LabelState.NOT_OFFICIAL: _NOT_OFFICIAL,
    LabelState.NOT_YET_SYNCED: "The seller printed this label offline; it opens once the "
    "seller's station is back online. Try again later.",
    LabelState.PROVISIONAL_REFUSED: "A label printed offline: ask the seller for the official "
    "label.",
}


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


@router.post("/receipt-sessions", status_code=201, tags=["buyer"])
def open_receipt_session(
    body: ReceiptSessionIn,
    principal: BuyerPrincipal,
    request: Request,
    sessions: Sessions,
    clock: Clock,
) -> SessionOut:
    """The buyer scanned the parcel label: open a short capture session for that order."""
    enforce(request, "sessions", principal)
    row = sessions.open_receipt_session(
        principal.subject, body.token, now=clock(), entry=body.entry
    )
    return SessionOut(
        session_id=row.session_id,
        order_id=row.order_id,
        stage=row.stage,
        expires_at=row.expires_at,
        label_entry=recorded_entry(row.label_entry),
    )


@router.get("/receipt-sessions/{session_id}/receipt", tags=["buyer"])
def receipt_summary(session_id: str, principal: BuyerPrincipal, sessions: Sessions) -> ReceiptOut:
    """The buyer's own receipt session with its sealed captures and the shipment chain."""
    receipt = sessions.receipt(session_id, buyer_id=principal.subject)
    shipped = receipt.shipment_session
    return ReceiptOut(
        order_id=receipt.session.order_id,
        session_id=session_id,
        opened_at=receipt.session.opened_at,
        closed_at=receipt.session.closed_at,
        sealed=[_item(row) for row in receipt.sealed],
        shipment_session_id=shipped.session_id if shipped else None,
        shipped_at=shipped.closed_at if shipped else None,
        shipment=[_item(row) for row in receipt.shipment],
        label_entry=recorded_entry(receipt.session.label_entry),
    )


@router.post("/receipt-sessions/{session_id}/finish", status_code=204, tags=["buyer"])
def finish_receipt_session(
    session_id: str, principal: BuyerPrincipal, sessions: Sessions, clock: Clock
) -> None:
    """The buyer is done: the session closes."""
    sessions.finish_session(session_id, station_id=None, buyer_id=principal.subject, now=clock())


@router.post("/qr/check", tags=["buyer"])
def check_qr(
    body: QRCheckIn, principal: BuyerPrincipal, sessions: Sessions, clock: Clock
) -> QRCheckOut:
    """Is a scanned QR an official OrderSeal label for one of this buyer's orders?"""
    checked = sessions.check_label(body.payload, buyer_id=principal.subject, now=clock())
    limits = sessions.buyer_page
    order = checked.order
    return QRCheckOut(
        official=checked.state is LabelState.OFFICIAL,
        state=checked.state.value,
        order_id=order.order_id if order else None,
        message=_MESSAGES[checked.state],
        items=[QRItemOut(sku=i["sku"], quantity=i["quantity"]) for i in order.items]
        if order
        else [],
        help_url=limits.help_url or None,
        max_video_seconds=limits.video_seconds,
        max_video_bytes=limits.video_bytes,
    )

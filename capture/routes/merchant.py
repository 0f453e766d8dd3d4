"""Merchant routes on the capture side: reopen its packed orders, read their reopen log, and its
own orders' sealed evidence files and thumbnails.

A ``merchant`` key reaches only its merchant's orders: another merchant's order or evidence is
answered exactly like one that does not exist (``404 order_unknown``, ``404
evidence_not_found``), so a merchant cannot learn what ids other merchants hold. Adversary: a
seller's admin (or a leaked seller key) reopening a competitor's packed order to take its label
over, or downloading a competitor's packing video; both get the answer for a missing id.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from capture.routes.deps import Clock, Files, Orders
from capture.routes.orders import reopen_out
from capture.schemas import OrderReopenIn, OrderReopenOut, OrderReopensOut
from evidence.media import SUPPORTED_MEDIA_TYPES
from infra.auth import AuthError, MerchantPrincipal, Principal
from infra.json_body import TOO_LARGE, BoundedJSONRoute
from infra.openapi import file_responses

__all__ = ["merchant_of", "router"]

#: Bodies read with a size limit before parsing (a reason is short).
router = APIRouter(prefix="/v1/merchant", route_class=BoundedJSONRoute)
_SEALED_FILE = file_responses(*sorted(SUPPORTED_MEDIA_TYPES), description="The sealed file")


def merchant_of(principal: Principal) -> str:
    """The merchant a ``merchant`` key acts for.

    Raises:
        AuthError: ``credentials_invalid`` for a merchant key without one (never issued).
    """
    if principal.merchant_id is None:
        raise AuthError("expected a merchant key naming its merchant", code="credentials_invalid")
    return principal.merchant_id


@router.post("/orders/{order_id}/reopen", tags=["merchant"], responses=TOO_LARGE)
def merchant_reopen_order(
    order_id: str,
    body: OrderReopenIn,
    principal: MerchantPrincipal,
    orders: Orders,
    clock: Clock,
) -> OrderReopenOut:
    """Reopen one of the merchant's packed orders so its station can pack it again.

    The reason is required and kept in the order's reopen log with who and when. Another
    merchant's order answers ``404 order_unknown``, as an order that does not exist.
    """
    reopened = orders.reopen_order(
        order_id,
        by=principal.subject,
        now=clock(),
        reason=body.reason,
        merchant_id=merchant_of(principal),
    )
    return reopen_out(reopened)


@router.get("/orders/{order_id}/reopens", tags=["merchant"])
def merchant_order_reopens(
    order_id: str, principal: MerchantPrincipal, orders: Orders
) -> OrderReopensOut:
    """Every reopening of one of the merchant's orders (by the platform or its admins)."""
    records = orders.reopens(order_id, merchant_id=merchant_of(principal))
    return OrderReopensOut(order_id=order_id, reopens=[reopen_out(r) for r in records])


@router.get(
    "/evidence/{evidence_id}/file",
    tags=["merchant"],
    response_class=StreamingResponse,
    responses=_SEALED_FILE,
)
def merchant_evidence_file(
    evidence_id: str, principal: MerchantPrincipal, files: Files
) -> StreamingResponse:
    """The merchant's own sealed packing evidence (shipment stage; streams, never loaded whole).

    A buyer's receipt capture, another merchant's evidence and a missing id all answer
    ``404 evidence_not_found``.
    """
    row = files.merchant_evidence(evidence_id, merchant_id=merchant_of(principal))
    return StreamingResponse(
        files.chunks(row),
        media_type=row.media_type,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )


@router.get(
    "/evidence/{evidence_id}/thumbnail.jpg",
    tags=["merchant"],
    response_class=Response,
    responses=file_responses("image/jpeg", description="The thumbnail (JPEG)"),
)
def merchant_evidence_thumbnail(
    evidence_id: str, principal: MerchantPrincipal, files: Files
) -> Response:
    """A thumbnail (photo) or poster frame (video) of one of the merchant's sealed files."""
    row = files.merchant_evidence(evidence_id, merchant_id=merchant_of(principal))
    return Response(
        content=files.thumbnail_of(row),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )

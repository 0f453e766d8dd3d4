"""Shipment session routes (station): open a packing session, close it, print its label."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from capture.errors import CaptureError
from capture.qr import LABEL_DPIS, render_label_pdf, render_label_png
from capture.routes.deps import Clock, Sessions
from capture.schemas import LabelOut, SessionOut, ShipmentSessionIn
from infra.auth import StationPrincipal
from infra.json_body import BoundedJSONRoute
from infra.openapi import file_responses
from infra.ratelimit import enforce

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)


@router.post("/shipment-sessions", status_code=201, tags=["station"])
def open_shipment_session(
    body: ShipmentSessionIn,
    principal: StationPrincipal,
    request: Request,
    sessions: Sessions,
    clock: Clock,
) -> SessionOut:
    """A station scanned an order: open its packing session (``409 order_already_packed``
    once a session of the order has closed, until the platform reopens the order)."""
    enforce(request, "sessions", principal)
    row = sessions.open_shipment_session(principal.subject, body.order_id, now=clock())
    return SessionOut(
        session_id=row.session_id, order_id=row.order_id, stage=row.stage, expires_at=row.expires_at
    )


@router.post("/shipment-sessions/{session_id}/close", tags=["station"])
def close_shipment_session(
    session_id: str, principal: StationPrincipal, sessions: Sessions, clock: Clock
) -> LabelOut:
    """Finish packing: returns the parcel label's signed token."""
    label = sessions.close_shipment_session(principal.subject, session_id, now=clock())
    return LabelOut(order_id=label.order_id, token=label.token, label_png_url=label.label_png_url)


def _label_token(order_id: str, station_id: str, sessions: Sessions, clock: Clock, dpi: int) -> str:
    """The label token of an order this station packed, once the resolution is a printer's."""
    if dpi not in LABEL_DPIS:
        raise CaptureError("expected dpi 203 or 300", code="invalid_request")
    return sessions.label_token_for(order_id, now=clock(), station_id=station_id)


@router.get(
    "/orders/{order_id}/label.png",
    tags=["station"],
    response_class=Response,
    responses=file_responses("image/png", description="The parcel label (PNG)"),
)
def label_png(
    order_id: str, principal: StationPrincipal, sessions: Sessions, clock: Clock, dpi: int = 203
) -> Response:
    """The 4x6 inch parcel label (203 or 300 dpi)."""
    token = _label_token(order_id, principal.subject, sessions, clock, dpi)
    png = render_label_png(token, order_id=order_id, dpi=dpi, base_url=sessions.base_url)
    return Response(content=png, media_type="image/png")


@router.get(
    "/orders/{order_id}/label.pdf",
    tags=["station"],
    response_class=Response,
    responses=file_responses("application/pdf", description="The parcel label (PDF)"),
)
def label_pdf(
    order_id: str, principal: StationPrincipal, sessions: Sessions, clock: Clock, dpi: int = 203
) -> Response:
    """The same 4x6 inch parcel label as a one-page PDF (203 or 300 dpi)."""
    token = _label_token(order_id, principal.subject, sessions, clock, dpi)
    pdf = render_label_pdf(token, order_id=order_id, dpi=dpi, base_url=sessions.base_url)
    return Response(content=pdf, media_type="application/pdf")

"""Review session routes (buyer, issue 19 §3): after the receipt, photos for a product review.

A review session is opened by order id: the order must be the buyer's (``404 order_unknown``
otherwise, as for an absent one) and the buyer's own receipt of it sealed and closed (``409
receipt_not_closed``). Its photos go to ``PUT /v1/review-sessions/{session_id}/evidence``
(``capture.routes.uploads``) and are sealed at stage ``review``, chained to that receipt.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from capture.review_schemas import ReviewSessionIn
from capture.routes.deps import Clock, Sessions
from capture.schemas import SessionOut
from evidence.manifest import Stage
from infra.auth import BuyerPrincipal
from infra.json_body import BoundedJSONRoute
from infra.ratelimit import enforce

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)


@router.post("/review-sessions", status_code=201, tags=["buyer"])
def open_review_session(
    body: ReviewSessionIn,
    principal: BuyerPrincipal,
    request: Request,
    sessions: Sessions,
    clock: Clock,
) -> SessionOut:
    """Open a short session for review photos of one of the buyer's received orders."""
    enforce(request, "sessions", principal)
    row = sessions.open_review_session(principal.subject, body.order_id, now=clock())
    return SessionOut(
        session_id=row.session_id, order_id=row.order_id, stage=row.stage, expires_at=row.expires_at
    )


@router.post("/review-sessions/{session_id}/finish", status_code=204, tags=["buyer"])
def finish_review_session(
    session_id: str, principal: BuyerPrincipal, sessions: Sessions, clock: Clock
) -> None:
    """The buyer is done with the review photos: the session closes."""
    sessions.finish_session(
        session_id, station_id=None, buyer_id=principal.subject, now=clock(), stage=Stage.REVIEW
    )

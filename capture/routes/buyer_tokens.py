"""Buyer token route (platform): the short-lived token a buyer's app presents to capture.

A token is issued only for the buyer the named order names: an unknown order is
``404 order_unknown``, another buyer ``403 buyer_not_on_order``, a cancelled order
``409 order_cancelled``.
"""

from __future__ import annotations

from fastapi import APIRouter

from capture.routes.deps import BuyerTokens, Clock, Orders
from capture.schemas import BuyerTokenIn, BuyerTokenOut
from infra.auth import PlatformPrincipal
from infra.json_body import BoundedJSONRoute

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)


@router.post("/buyer-tokens", status_code=201, tags=["platform"])
def buyer_token(
    body: BuyerTokenIn,
    principal: PlatformPrincipal,
    orders: Orders,
    tokens: BuyerTokens,
    clock: Clock,
) -> BuyerTokenOut:
    """Issue a short-lived token the buyer's app presents to the capture service."""
    orders.order_for_buyer_token(body.order_id, buyer_id=body.buyer_id)
    token = tokens.issue(body.buyer_id, now=clock())
    return BuyerTokenOut(token=token, expires_in_seconds=int(tokens.ttl.total_seconds()))

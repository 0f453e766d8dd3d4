"""Buyer token route (platform): the short-lived token a buyer's app presents to capture."""

from __future__ import annotations

from fastapi import APIRouter

from capture.routes.deps import BuyerTokens, Clock
from capture.schemas import BuyerTokenIn, BuyerTokenOut
from infra.auth import PlatformPrincipal

__all__ = ["router"]

router = APIRouter(prefix="/v1")


@router.post("/buyer-tokens", status_code=201, tags=["platform"])
def buyer_token(
    body: BuyerTokenIn, principal: PlatformPrincipal, tokens: BuyerTokens, clock: Clock
) -> BuyerTokenOut:
    """Issue a short-lived token the buyer's app presents to the capture service."""
    token = tokens.issue(body.buyer_id, now=clock())
    return BuyerTokenOut(token=token, expires_in_seconds=int(tokens.ttl.total_seconds()))

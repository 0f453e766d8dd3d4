"""Capture routes, one module per resource; :data:`router` includes them all.

Each module receives the one service it needs through an ``Annotated`` dependency from
:mod:`capture.routes.deps`; handlers translate HTTP to that service and back.
"""

from __future__ import annotations

from fastapi import APIRouter

from capture.routes import (
    buyer_tokens,
    devices,
    evidence,
    merchant,
    offline,
    orders,
    receipt_sessions,
    review_sessions,
    shipment_sessions,
    trust,
    uploads,
)

__all__ = ["router"]

router = APIRouter()
for _module in (
    orders,
    buyer_tokens,
    devices,
    shipment_sessions,
    offline,
    uploads,
    receipt_sessions,
    review_sessions,
    evidence,
    merchant,
    trust,
):
    router.include_router(_module.router)

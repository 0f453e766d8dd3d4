"""Offline packing routes (station, issue 18 §1): the assignment list, and the sync of a
packing session made offline (open its official session, then replace its label)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from capture.offline import OfflineService
from capture.offline_schemas import (
    AssignmentOut,
    ProvisionalCloseOut,
    ProvisionalSessionIn,
    ProvisionalSessionOut,
)
from capture.routes.deps import Clock
from infra.auth import StationPrincipal
from infra.json_body import BoundedJSONRoute, bounded_json_route
from infra.ratelimit import enforce

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)
#: A sync carries the assignment list (up to ``ORDERSEAL_OFFLINE_MAX_ASSIGNED_ORDERS`` ids).
_sync = APIRouter(route_class=bounded_json_route(300 * 1024))


async def _offline(request: Request) -> OfflineService:
    service: OfflineService = request.app.state.services.capture.offline
    return service


Offline = Annotated[OfflineService, Depends(_offline)]


@router.get("/stations/me/assignments", tags=["station"])
def station_assignments(
    principal: StationPrincipal, request: Request, offline: Offline, clock: Clock
) -> AssignmentOut:
    """The signed list of this station's merchant's orders it may pack offline (open, not
    packed yet, newest first, bounded), and until when."""
    # Each answer costs a signature by the label key (an HSM or KMS call): rate-limited.
    enforce(request, "sessions", principal)
    signed = offline.assignment(principal.subject, now=clock())
    listed = signed.assignment
    return AssignmentOut(
        token=signed.token,
        station_id=listed.station_id,
        merchant_id=listed.merchant_id,
        order_ids=list(listed.order_ids),
        issued_at=listed.issued_at,
        expires_at=listed.expires_at,
        certificate_chain_pem=signed.certificate_chain_pem,
        label_base_url=signed.label_base_url,
    )


@_sync.post("/provisional-sessions", tags=["station"])
def sync_provisional_session(
    body: ProvisionalSessionIn,
    principal: StationPrincipal,
    request: Request,
    offline: Offline,
    clock: Clock,
) -> ProvisionalSessionOut:
    """Sync a packing session made offline: its official session opens once (a replay of the
    same provisional label answers the same session, ``replayed``)."""
    enforce(request, "sessions", principal)
    accepted = offline.accept(
        principal.subject,
        token=body.provisional_token,
        assignment_token=body.assignment_token,
        station_clock=body.station_clock,
        now=clock(),
    )
    row = accepted.row
    session = offline.sessions.own_session(
        row.session_id, station_id=principal.subject, buyer_id=None
    )
    return ProvisionalSessionOut(
        local_session_id=row.local_session_id,
        session_id=row.session_id,
        order_id=row.order_id,
        expires_at=session.expires_at,
        clock_gap_seconds=row.clock_gap_seconds,
        replayed=accepted.replayed,
    )


@router.post("/provisional-sessions/{local_session_id}/close", tags=["station"])
def close_provisional_session(
    local_session_id: str, principal: StationPrincipal, offline: Offline, clock: Clock
) -> ProvisionalCloseOut:
    """Close the synced session and replace the provisional label by the official token (the
    same token to every replay: one parcel, one label)."""
    replaced = offline.replace(principal.subject, local_session_id, now=clock())
    return ProvisionalCloseOut(
        local_session_id=local_session_id,
        session_id=replaced.session_id,
        order_id=replaced.order_id,
        token=replaced.token,
        label_png_url=f"{offline.base_url}/v1/orders/{replaced.order_id}/label.png",
        replayed=replaced.replayed,
    )


router.include_router(_sync)

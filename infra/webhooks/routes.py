"""Webhook routes: the platform registers endpoints and reads their deliveries; admins
redeliver; anyone reads the ed25519 keys that sign ``v1a``. Handlers call ``WebhookService``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from infra.auth import AdminPrincipal, PlatformPrincipal, PublicCaller
from infra.json_body import BoundedJSONRoute
from infra.ledger.webhook_models import WebhookDelivery, WebhookEndpoint
from infra.webhooks.events import EventType
from infra.webhooks.service import WebhookService

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)


async def _service(request: Request) -> WebhookService:
    service: WebhookService = request.app.state.services.webhooks
    return service


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.services.clock()
    return now


Webhooks = Annotated[WebhookService, Depends(_service)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EndpointIn(_Frozen):
    """A receiver: an https URL and the event types it wants (all when omitted)."""

    url: str = Field(max_length=2048)
    events: tuple[EventType, ...] | None = Field(default=None, min_length=1)


class EndpointOut(_Frozen):
    """An endpoint without its secret."""

    endpoint_id: str
    url: str
    events: tuple[EventType, ...] | None
    created_at: datetime
    previous_secret_expires_at: datetime | None

    @classmethod
    def from_row(cls, row: WebhookEndpoint) -> EndpointOut:
        """The public view of a row."""
        return cls(
            endpoint_id=row.endpoint_id,
            url=row.url,
            events=tuple(EventType(e) for e in row.event_types) if row.event_types else None,
            created_at=row.created_at,
            previous_secret_expires_at=row.previous_expires_at,
        )


class EndpointSecretOut(EndpointOut):
    """An endpoint with its ``whsec_`` secret: answered once, at creation or rotation."""

    secret: str


class EndpointListOut(_Frozen):
    """The caller's endpoints."""

    items: tuple[EndpointOut, ...]


class AttemptOut(_Frozen):
    """One attempt of the delivery log."""

    attempt: int
    started_at: datetime
    status_code: int | None
    error: str | None
    latency_ms: int


class DeliveryOut(_Frozen):
    """One event to one endpoint, with its attempts."""

    delivery_id: str
    webhook_id: str
    event_type: str
    status: Literal["pending", "delivered", "dead", "cancelled"]
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    log: tuple[AttemptOut, ...] = ()

    @classmethod
    def from_row(
        cls, row: WebhookDelivery, event_type: str, log: tuple[AttemptOut, ...] = ()
    ) -> DeliveryOut:
        """The view of a delivery row."""
        return cls.model_validate(
            {
                "delivery_id": row.delivery_id,
                "webhook_id": row.event_id,
                "event_type": event_type,
                "status": row.status,
                "attempts": row.attempts,
                "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
                "delivered_at": row.delivered_at,
                "log": log,
            }
        )


class DeliveryListOut(_Frozen):
    """An endpoint's deliveries, newest first."""

    items: tuple[DeliveryOut, ...]


class WebhookKeyOut(_Frozen):
    """An ed25519 key that signs ``v1a`` webhook signatures (``whpk_`` + base64)."""

    key_id: str
    algorithm: Literal["ed25519"]
    public_key: str


class WebhookKeysOut(_Frozen):
    """Every key a receiver should accept ``v1a`` signatures from."""

    keys: tuple[WebhookKeyOut, ...]


@router.post("/webhook-endpoints", status_code=201, tags=["platform"])
def create_endpoint(
    body: EndpointIn, principal: PlatformPrincipal, request: Request, webhooks: Webhooks
) -> EndpointSecretOut:
    """Register a receiver; the answer carries its ``whsec_`` secret, shown only this once."""
    issued = webhooks.create(
        owner=principal.subject, url=body.url, events=body.events, now=_now(request)
    )
    return EndpointSecretOut(
        **EndpointOut.from_row(issued.endpoint).model_dump(), secret=issued.secret
    )


@router.get("/webhook-endpoints", tags=["platform"])
def list_endpoints(principal: PlatformPrincipal, webhooks: Webhooks) -> EndpointListOut:
    """The caller's endpoints (no secrets)."""
    return EndpointListOut(
        items=tuple(EndpointOut.from_row(r) for r in webhooks.endpoints(principal.subject))
    )


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204, tags=["platform"])
def delete_endpoint(
    endpoint_id: str, principal: PlatformPrincipal, request: Request, webhooks: Webhooks
) -> Response:
    """Stop an endpoint; its pending deliveries are cancelled, its log kept."""
    webhooks.delete(endpoint_id, principal.subject, now=_now(request))
    return Response(status_code=204)


@router.post("/webhook-endpoints/{endpoint_id}/rotate-secret", tags=["platform"])
def rotate_secret(
    endpoint_id: str, principal: PlatformPrincipal, request: Request, webhooks: Webhooks
) -> EndpointSecretOut:
    """A new secret (shown once); the old one keeps signing until ``previous_secret_expires_at``."""
    issued = webhooks.rotate_secret(endpoint_id, principal.subject, now=_now(request))
    return EndpointSecretOut(
        **EndpointOut.from_row(issued.endpoint).model_dump(), secret=issued.secret
    )


@router.get("/webhook-endpoints/{endpoint_id}/deliveries", tags=["platform"])
def list_deliveries(
    endpoint_id: str,
    principal: PlatformPrincipal,
    webhooks: Webhooks,
    limit: int = Query(default=50, ge=1, le=500),
) -> DeliveryListOut:
    """The endpoint's delivery log, newest first: status, attempts, codes and latency."""
    rows = webhooks.deliveries(endpoint_id, principal.subject, limit=limit)
    return DeliveryListOut(
        items=tuple(
            DeliveryOut.from_row(
                delivery,
                kind,
                tuple(
                    AttemptOut(
                        attempt=a.attempt,
                        started_at=a.started_at,
                        status_code=a.status_code,
                        error=a.error,
                        latency_ms=a.latency_ms,
                    )
                    for a in attempts
                ),
            )
            for delivery, kind, attempts in rows
        )
    )


@router.post("/webhook-deliveries/{delivery_id}/redeliver", tags=["admin"])
def redeliver(
    delivery_id: str, principal: AdminPrincipal, request: Request, webhooks: Webhooks
) -> DeliveryOut:
    """Admin: send a delivery again now (dead letters too), with the same ``webhook-id``."""
    row, event_type = webhooks.redeliver(delivery_id, now=_now(request))
    return DeliveryOut.from_row(row, event_type)


@router.get("/trust/webhook-keys", tags=["public"])
def webhook_keys(caller: PublicCaller, webhooks: Webhooks) -> WebhookKeysOut:
    """Public: the ed25519 keys (``whpk_``) that sign ``v1a`` webhook signatures."""
    return WebhookKeysOut(
        keys=tuple(
            WebhookKeyOut(key_id=k.key_id, algorithm="ed25519", public_key=k.public_key)
            for k in webhooks.published_keys()
        )
    )

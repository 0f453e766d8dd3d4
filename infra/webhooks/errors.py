"""Webhook errors: endpoint URLs refused, endpoints and deliveries not found."""

from __future__ import annotations

from infra.errors import ConflictError, InputError, NotFoundError

__all__ = [
    "DeliveryNotFoundError",
    "EndpointLimitError",
    "EndpointNotFoundError",
    "WebhookURLError",
]


class WebhookURLError(InputError):
    """An endpoint URL that is not https, or points at a private, loopback or link-local host."""

    code = "webhook_url_invalid"
    http_status = 422


class EndpointNotFoundError(NotFoundError):
    """No live endpoint of this caller has this id (another platform's looks the same)."""

    code = "webhook_endpoint_not_found"
    http_status = 404


class EndpointLimitError(ConflictError):
    """The caller already has the most live endpoints; another would multiply every event."""

    code = "webhook_endpoint_limit_reached"
    http_status = 409


class DeliveryNotFoundError(NotFoundError):
    """No delivery has this id."""

    code = "webhook_delivery_not_found"
    http_status = 404

"""Webhook endpoints as the platform manages them, and delivery logs and redelivery.

Endpoints belong to the platform key's subject that registered them: another subject's
endpoint, and its delivery log, look absent (``webhook_endpoint_not_found``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from infra.ledger.webhook_models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from infra.ledger.webhooks import MAX_ENDPOINTS_PER_OWNER, WebhookRepository
from infra.secret_box import SecretBox
from infra.webhooks.errors import (
    DeliveryNotFoundError,
    EndpointLimitError,
    EndpointNotFoundError,
)
from infra.webhooks.events import EventType
from infra.webhooks.targets import check_target
from wire.webhooks import encode_public_key, new_secret

__all__ = ["IssuedEndpoint", "PublishedKey", "WebhookService"]


@dataclass(frozen=True)
class PublishedKey:
    """A webhook signing public key as published in the trust material."""

    key_id: str
    algorithm: str
    public_key: str


@dataclass(frozen=True)
class IssuedEndpoint:
    """An endpoint with its new ``whsec_`` secret in the clear: answered once, never stored so."""

    endpoint: WebhookEndpoint
    #: Kept out of ``repr``: a log line or an assertion message never shows the secret.
    secret: str = field(repr=False)

    @property
    def endpoint_id(self) -> str:
        """The endpoint's id."""
        return self.endpoint.endpoint_id


@dataclass
class WebhookService:
    """Register, list, delete and rotate endpoints; read their deliveries; redeliver."""

    repository: WebhookRepository
    public_key_raw: bytes
    key_id: str
    allow_private: bool
    secret_overlap: timedelta
    #: Seals each ``whsec_`` secret before the ledger stores it (``infra.secret_box``).
    secret_box: SecretBox
    #: Called after a redelivery so an in-process worker sends it at once.
    wake: Callable[[], None] = lambda: None
    #: (key id, raw public key) of the live signing keys, current first, read on every call
    #: (both during a rotation's overlap); None: the one key above.
    live_keys: Callable[[], Sequence[tuple[str, bytes]]] | None = None

    def published_keys(self) -> list[PublishedKey]:
        """The ed25519 keys receivers verify ``v1a`` signatures with."""
        live = self.live_keys() if self.live_keys else [(self.key_id, self.public_key_raw)]
        return [PublishedKey(key_id, "ed25519", encode_public_key(raw)) for key_id, raw in live]

    def create(
        self, *, owner: str, url: str, events: Sequence[EventType] | None, now: datetime
    ) -> IssuedEndpoint:
        """Register an endpoint with a fresh ``whsec_`` secret (shown to the caller once).

        Raises:
            WebhookURLError: ``webhook_url_invalid`` (not https, private or unresolvable host).
            EndpointLimitError: ``webhook_endpoint_limit_reached`` (20 live endpoints already).
        """
        check_target(url, allow_private=self.allow_private)
        endpoint_id = f"we_{secrets.token_hex(10)}"
        secret = new_secret(secrets.token_bytes(32))
        row = WebhookEndpoint(
            endpoint_id=endpoint_id,
            owner=owner,
            url=url,
            event_types=sorted({e.value for e in events}) if events else None,
            secret=self.secret_box.seal(secret, context=endpoint_id),
            previous_secret=None,
            previous_expires_at=None,
            created_at=now,
            deleted_at=None,
        )
        if not self.repository.add_endpoint(row, max_live=MAX_ENDPOINTS_PER_OWNER):
            raise EndpointLimitError(
                f"expected at most {MAX_ENDPOINTS_PER_OWNER} live webhook endpoints per "
                "platform subject: delete one first"
            )
        return IssuedEndpoint(row, secret)

    def endpoints(self, owner: str) -> list[WebhookEndpoint]:
        """The owner's live endpoints."""
        return self.repository.endpoints(owner)

    def endpoint(self, endpoint_id: str, owner: str) -> WebhookEndpoint:
        """One of the owner's endpoints.

        Raises:
            EndpointNotFoundError: ``webhook_endpoint_not_found``.
        """
        row = self.repository.get_endpoint(endpoint_id, owner)
        if row is None:
            raise EndpointNotFoundError("no such webhook endpoint")
        return row

    def delete(self, endpoint_id: str, owner: str, *, now: datetime) -> None:
        """Stop delivering to an endpoint (pending deliveries are cancelled).

        Raises:
            EndpointNotFoundError: ``webhook_endpoint_not_found``.
        """
        if not self.repository.delete_endpoint(endpoint_id, owner, at=now):
            raise EndpointNotFoundError("no such webhook endpoint")

    def rotate_secret(self, endpoint_id: str, owner: str, *, now: datetime) -> IssuedEndpoint:
        """A new secret; the old one signs alongside it for the overlap window.

        Raises:
            EndpointNotFoundError: ``webhook_endpoint_not_found``.
        """
        secret = new_secret(secrets.token_bytes(32))
        row = self.repository.rotate_secret(
            endpoint_id,
            owner,
            secret=self.secret_box.seal(secret, context=endpoint_id),
            previous_until=now + self.secret_overlap,
        )
        if row is None:
            raise EndpointNotFoundError("no such webhook endpoint")
        return IssuedEndpoint(row, secret)

    def deliveries(
        self, endpoint_id: str, owner: str, *, limit: int
    ) -> list[tuple[WebhookDelivery, str, list[WebhookAttempt]]]:
        """The endpoint's delivery log, newest first.

        Raises:
            EndpointNotFoundError: ``webhook_endpoint_not_found``.
        """
        self.endpoint(endpoint_id, owner)
        return self.repository.deliveries(endpoint_id, limit=limit)

    def redeliver(self, delivery_id: str, *, now: datetime) -> tuple[WebhookDelivery, str]:
        """Queue a delivery again at once, same ``webhook-id`` (admins; dead letters too).

        Raises:
            DeliveryNotFoundError: ``webhook_delivery_not_found``.
        """
        found = self.repository.redeliver(delivery_id, now=now)
        if found is None:
            raise DeliveryNotFoundError("no such webhook delivery")
        self.wake()
        return found

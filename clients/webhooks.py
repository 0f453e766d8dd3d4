"""``verify_webhook``: what a platform's receiver calls on every OrderSeal webhook.

Pass the raw body exactly as received and either OrderSeal's published ed25519 key (``whpk_``,
from ``GET /v1/trust/webhook-keys``: no shared secret) or the endpoint's ``whsec_`` secret.
A stale timestamp (a replayed delivery) or a signature that does not verify is refused.

Delivery is at least once: the same event may arrive more than once (a retry after a timeout,
a worker restarted mid-delivery, an admin redelivery), always with the same ``webhook-id``.
Record the ids you have processed (a unique column is enough) and skip one you have seen.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wire.webhooks import DEFAULT_TOLERANCE, WebhookVerificationError, verify_signature_header

__all__ = ["VerifiedWebhook", "WebhookVerificationError", "verify_webhook"]


@dataclass(frozen=True)
class VerifiedWebhook:
    """A webhook whose signature and timestamp checked out."""

    #: Deduplicate on this: it is the same on every attempt of one event.
    webhook_id: str
    timestamp: datetime
    #: ``dispute.decided``, ``dispute.decision_changed`` or ``evidence.sealed``.
    type: str
    data: dict[str, Any]


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    key: str | Iterable[str] | None = None,
    secret: str | Iterable[str] | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    now: datetime | None = None,
) -> VerifiedWebhook:
    """Verify an OrderSeal webhook and parse its body.

    Args:
        headers: the request headers (``webhook-id``, ``webhook-timestamp``,
            ``webhook-signature``; any case).
        body: the raw body bytes, before any JSON parsing.
        key: OrderSeal's ``whpk_`` public key(s) (checks the ``v1a`` signature).
        secret: the endpoint's ``whsec_`` secret(s) (checks a ``v1`` signature).
        tolerance: the largest accepted difference between the timestamp and ``now``.
        now: the receiver's clock; the wall clock when omitted.

    Raises:
        WebhookVerificationError: ``webhook_invalid`` (missing headers, no valid signature,
            a body that is not an event), ``webhook_timestamp_stale``, ``webhook_key_invalid``
            or ``webhook_secret_invalid``.

    Returns:
        The event: its ``webhook_id``, timestamp, type and data.
    """
    keys = [key] if isinstance(key, str) else list(key or ())
    secrets = [secret] if isinstance(secret, str) else list(secret or ())
    message = verify_signature_header(
        headers, body, secrets=secrets, public_keys=keys, tolerance=tolerance, now=now
    )
    try:
        payload = json.loads(body)
        kind, data = payload["type"], payload["data"]
    except (ValueError, TypeError, KeyError) as exc:
        raise WebhookVerificationError("expected a JSON event with type and data") from exc
    if not isinstance(kind, str) or not isinstance(data, dict):
        raise WebhookVerificationError("expected a JSON event with type and data")
    return VerifiedWebhook(message.webhook_id, message.timestamp, kind, data)

"""A freshly issued webhook secret never shows in a ``repr`` (a log line, a failed assertion).

Adversary: anyone reading logs or CI output, where an object logged whole would hand over the
``whsec_`` secret that forges ``v1`` signatures for the endpoint.
"""

from __future__ import annotations

from datetime import UTC, datetime

from infra.ledger.webhook_models import WebhookEndpoint
from infra.webhooks.service import IssuedEndpoint
from wire.webhooks import new_secret


def test_an_issued_endpoint_does_not_show_its_secret() -> None:
    secret = new_secret(b"\x07" * 32)
    row = WebhookEndpoint(
        endpoint_id="we_repr",
        owner="platform",
        url="https://example.com/hook",
        event_types=None,
        secret="sealed",
        previous_secret=None,
        previous_expires_at=None,
        created_at=datetime(2026, 12, 2, tzinfo=UTC),
        deleted_at=None,
    )
    issued = IssuedEndpoint(row, secret)
    assert issued.secret == secret
    assert secret not in repr(issued)
    assert secret not in str(issued)

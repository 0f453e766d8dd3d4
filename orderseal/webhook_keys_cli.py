"""``orderseal keys webhook rotate``: a new ed25519 webhook signing key, with an overlap.

During the overlap every delivery carries a ``v1a`` signature under the new key and one under
the old, and ``GET /v1/trust/webhook-keys`` (and ``export-trust``) publish both, so receivers
that still hold only the old public key keep verifying while they fetch the new one. Running
servers and workers read the keys on every delivery: no restart. A leaked key is rotated with
``--overlap-hours 0``: it stops signing and is no longer published at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console

from infra.settings import Settings
from keys.webhooks import rotate_webhook_key

__all__ = ["webhook_keys_app"]

webhook_keys_app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="The ed25519 key that signs webhooks"
)
_console = Console(highlight=False)


@webhook_keys_app.command("rotate")
def rotate(
    overlap_hours: Annotated[
        float,
        typer.Option(
            "--overlap-hours",
            min=0,
            max=24 * 30,
            help="how long the old key keeps signing and stays published (0: drop it now)",
        ),
    ] = 72.0,
) -> None:
    """Make a new webhook signing key; the old one signs beside it for the overlap."""
    settings = Settings()
    now = datetime.now(UTC)
    ring = rotate_webhook_key(
        settings.resolved_home / "keys", now=now, overlap=timedelta(hours=overlap_hours)
    )
    _console.print(f"webhook signing key {ring.current.key_id}: {ring.current.public_key}")
    previous = ring.previous
    if previous is not None and ring.previous_until is not None and ring.previous_until > now:
        _console.print(
            f"previous key {previous.key_id} signs and stays published until "
            f"{ring.previous_until.isoformat()}"
        )
    elif previous is not None:
        _console.print(f"previous key {previous.key_id} no longer signs nor is published")

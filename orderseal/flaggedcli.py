"""``orderseal flagged``: housekeeping of receipt uploads refused by intake screening."""

from __future__ import annotations

import typer

from infra.settings import Settings
from orderseal.services import build_services, utc_now

__all__ = ["flagged_app"]

flagged_app = typer.Typer(no_args_is_help=True, help="Refused (flagged) receipt uploads")


@flagged_app.command("prune")
def prune() -> None:
    """Delete refused uploads older than ORDERSEAL_FLAGGED_RETENTION_DAYS (run it daily).

    Each new refusal also prunes up to 100 expired ones, so this only catches up after quiet
    periods. Evidence is never touched.
    """
    settings = Settings()
    services = build_services(settings)
    pruned = services.capture.uploads.prune_flagged_uploads(now=utc_now())
    typer.echo(
        f"pruned {pruned} flagged upload(s) older than {settings.flagged_retention_days} days"
    )

"""``orderseal db``: schema migrations of the ledger."""

from __future__ import annotations

import typer

from infra.db import create_ledger_engine, redacted_url
from infra.migrate import current_revision, head_revision, upgrade_schema
from infra.settings import Settings

__all__ = ["db_app"]

db_app = typer.Typer(no_args_is_help=True, help="Ledger schema migrations")


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Migrate the ledger named by ORDERSEAL_DATABASE_URL (or the home SQLite file)."""
    engine = create_ledger_engine(Settings().resolved_database_url)
    upgrade_schema(engine, revision)
    typer.echo(f"ledger at revision {current_revision(engine)}")
    engine.dispose()


@db_app.command("current")
def current() -> None:
    """Print the database (password hidden), its revision and the newest one this ships."""
    url = Settings().resolved_database_url
    engine = create_ledger_engine(url)
    # Name the database looked at: a misconfigured URL shows here, not as "none".
    typer.echo(f"database: {redacted_url(url)}")
    typer.echo(f"current: {current_revision(engine) or 'none'}  head: {head_revision()}")
    engine.dispose()


@db_app.command("backfill-fingerprints")
def backfill_fingerprints_command(
    batch: int = typer.Option(100, min=1, max=1_000, help="files read per ledger query"),
    max_files: int = typer.Option(10_000, min=1, help="files looked at in this run"),
) -> None:
    """Index the perceptual hashes of evidence sealed before the fingerprint index (0013).

    Reads each sealed file through the evidence store; safe to stop and run again (it picks
    up what is still unindexed) and to repeat (indexed files are skipped).
    """
    from capture.fingerprint_backfill import backfill_fingerprints
    from orderseal.services import build_services

    services = build_services(Settings())
    report = backfill_fingerprints(
        services.ledger.fingerprints, services.store, batch=batch, max_files=max_files
    )
    typer.echo(
        f"indexed {report.indexed}, undecodable {report.undecodable}, "
        f"unreadable {report.unreadable}" + ("; run again for the rest" if report.more else "")
    )

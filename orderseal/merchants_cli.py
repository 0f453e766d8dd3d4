"""``orderseal merchants``: add and list the seller tenants (issue 17).

A merchant owns stations (``orderseal keys enroll --kind station --merchant ID`` or
``POST /v1/devices`` with ``merchant_id``) and orders (``POST /v1/orders`` with
``merchant_id``); its admins hold ``merchant`` API keys
(``orderseal keys api add --role merchant --merchant ID``). The ``default`` merchant exists from
the migration on and owns everything stored before tenants.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.ledger.merchants import Merchants
from infra.settings import Settings

__all__ = ["merchants_app"]

merchants_app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Merchants (sellers): add, list"
)
_notice = Console(stderr=True, highlight=False)


def _merchants() -> Merchants:
    from infra.db import create_ledger_engine, create_schema, session_factory
    from infra.ledger.repository import Ledger

    engine = create_ledger_engine(Settings().resolved_database_url)
    create_schema(engine)
    return Ledger(session_factory(engine)).merchants


@merchants_app.command()
def add(
    merchant_id: Annotated[str, typer.Argument(help="the merchant's id (letters, digits, . _ -)")],
    name: Annotated[str, typer.Option("--name", help="its display name")],
) -> None:
    """Register a merchant (``409 merchant_exists`` for an id already taken)."""
    info = _merchants().add(merchant_id, name=name, now=datetime.now(UTC))
    _notice.print(f"added merchant {info.merchant_id} ({info.name})")


@merchants_app.command("list")
def list_merchants(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Show every merchant: id, name, created."""
    merchants = _merchants().list_merchants()
    if as_json:
        rows = [
            {"merchant_id": m.merchant_id, "name": m.name, "created_at": m.created_at.isoformat()}
            for m in merchants
        ]
        print(json.dumps(rows, indent=2))
        return
    table = Table("id", "name", "created")
    for m in merchants:
        table.add_row(m.merchant_id, m.name, m.created_at.isoformat(timespec="seconds"))
    Console(width=None if sys.stdout.isatty() else 160, highlight=False).print(table)

"""``orderseal keys api``: list, add, rotate and revoke the operators' API keys.

Keys are named by their public id (``kid_...``). A new secret is printed once, alone on
stdout, so it can be piped into a secret manager; the notice goes to stderr. Nothing else
ever shows a secret or its hash, and no secret is written to a file.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.errors import InputError
from infra.ledger.api_keys import DEFAULT_OVERLAP, APIKeyInfo, APIKeys, IssuedAPIKey
from infra.settings import Settings

__all__ = ["MAX_OVERLAP", "api_keys_app", "parse_overlap"]

api_keys_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Operator API keys (platform, agent, admin, merchant): list, add, rotate, revoke",
)
#: A longer overlap would leave a rotated-out key working for as long as a forgotten one.
MAX_OVERLAP = timedelta(days=30)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_OVERLAP = re.compile(r"(\d{1,7})([smhd]?)")
_notice = Console(stderr=True, highlight=False)


class APIRole(StrEnum):
    """The roles an API key may carry."""

    PLATFORM = "platform"
    AGENT = "agent"
    ADMIN = "admin"
    MERCHANT = "merchant"


def _now() -> datetime:
    return datetime.now(UTC)


def _api_keys() -> APIKeys:
    from infra.db import create_ledger_engine, create_schema, session_factory
    from infra.ledger.repository import Ledger

    engine = create_ledger_engine(Settings().resolved_database_url)
    create_schema(engine)
    return Ledger(session_factory(engine)).api_keys


def parse_overlap(text: str) -> timedelta:
    """``24h``, ``30m``, ``2d``, ``90s`` or ``0`` (a bare number is seconds).

    Raises:
        InputError: another shape, or longer than ``MAX_OVERLAP``.
    """
    match = _OVERLAP.fullmatch(text.strip())
    if match is None:
        raise InputError(f"expected --overlap like 24h, 30m, 2d or 0, found {text[:20]!r}")
    overlap = timedelta(seconds=int(match[1]) * _UNITS[match[2] or "s"])
    if overlap > MAX_OVERLAP:
        raise InputError(f"expected --overlap of at most {MAX_OVERLAP.days}d, found {text!r}")
    return overlap


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds")


def _show_secret(issued: IssuedAPIKey, *, what: str) -> None:
    info = issued.info
    _notice.print(
        f"{what} {info.key_id} (role {info.role}, subject {info.subject}). Its secret is on "
        "stdout and is shown only this once: store it now (OrderSeal keeps only its hash)."
    )
    # Alone on stdout, so `... | secret-tool store` or a redirect to a 0600 file takes it whole.
    print(issued.secret)


@api_keys_app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Show every key: id, role, subject, label, state, created, expires, revoked, last used."""
    now = _now()
    keys = _api_keys().list_keys()
    if as_json:
        rows = [_as_json(info, now) for info in keys]
        print(json.dumps(rows, indent=2))
        return
    table = Table(
        *("id", "role", "subject", "label", "state", "created", "expires", "revoked"),
        *("last used", "replaced by"),
    )
    for info in keys:
        table.add_row(
            info.key_id,
            info.role,
            info.subject,
            info.label or "-",
            info.state(now),
            _when(info.created_at),
            _when(info.expires_at),
            _when(info.revoked_at),
            _when(info.last_used_at),
            info.replaced_by or "-",
        )
    Console(width=None if sys.stdout.isatty() else 220, highlight=False).print(table)


def _as_json(info: APIKeyInfo, now: datetime) -> dict[str, object]:
    fields: dict[str, object] = {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in dataclasses.asdict(info).items()
    }
    fields["state"] = info.state(now)
    return fields


@api_keys_app.command()
def add(
    role: Annotated[APIRole, typer.Option("--role", help="the one role the key acts in")],
    subject: Annotated[str, typer.Option("--subject", help="who the key stands for")],
    label: Annotated[str | None, typer.Option("--label", help="a note: where it is used")] = None,
    merchant: Annotated[
        str | None,
        typer.Option("--merchant", help="the merchant a merchant key acts for (that role only)"),
    ] = None,
) -> None:
    """Issue a new key; its secret is printed once on stdout."""
    issued = _api_keys().issue(
        role=role.value, subject=subject, label=label, now=_now(), merchant_id=merchant
    )
    _show_secret(issued, what="added")


@api_keys_app.command()
def rotate(
    key_id: Annotated[str, typer.Argument(help="the key to replace (kid_...)")],
    overlap: Annotated[
        str, typer.Option("--overlap", help="how long the old key keeps working: 24h, 30m, 0")
    ] = f"{int(DEFAULT_OVERLAP.total_seconds() // 3600)}h",
    label: Annotated[str | None, typer.Option("--label", help="the new key's label")] = None,
) -> None:
    """Issue a replacement (same role and subject); the old key stops after the overlap."""
    window = parse_overlap(overlap)
    now = _now()
    issued = _api_keys().rotate(key_id, now=now, overlap=window, label=label)
    _notice.print(
        f"{key_id} is refused from {_when(now + window)}; switch its callers to "
        f"{issued.info.key_id} before then"
    )
    _show_secret(issued, what="replacement")


@api_keys_app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="the key to refuse from now on (kid_...)")],
) -> None:
    """Refuse a key at once (every server: keys are checked in the ledger per request)."""
    info = _api_keys().revoke(key_id, now=_now())
    _notice.print(
        f"revoked {info.key_id} (role {info.role}, subject {info.subject}) "
        f"since {_when(info.revoked_at)}"
    )

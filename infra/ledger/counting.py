"""A per-scope lock for "count the caller's rows, then insert one" inside one transaction.

Without it two concurrent requests both count 19 and both insert the 20th, and a limit of
20 report links or webhook endpoints becomes "20 plus the caller's concurrency". PostgreSQL
takes a transaction-scoped advisory lock on the scope's name; SQLite has one writer at a time,
so a write at the start of the transaction makes it the writer before it counts (the driver
starts a transaction only at the first write, so a count read before it is not protected).
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from infra.ledger.models import UsedNonce

__all__ = ["hold_counting_lock"]


def hold_counting_lock(session: Session, scope: str) -> None:
    """Serialise, until this transaction ends, every writer that names the same ``scope``."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(scope, 0))))
        return
    # Any write statement takes SQLite's one write lock, even one that matches no row.
    session.execute(
        update(UsedNonce)
        .where(UsedNonce.nonce == "")
        .values(nonce="")
        .execution_options(synchronize_session=False)
    )

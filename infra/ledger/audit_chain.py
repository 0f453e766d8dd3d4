"""Appending one entry to the signed audit chain inside the caller's transaction.

Every verdict row that the chain covers (an automatic verdict, an agent's decision) is appended
here, so the chain has one writer rule: the entry names the current tip as ``prev_hash``, which
is unique, so two writers that read the same tip cannot both extend it; the loser's transaction
fails with ``IntegrityError`` and its caller retries on the new tip.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infra.ledger.models import AuditEntry

__all__ = ["GENESIS_HASH", "AuditSealer", "append_audit_entry"]

GENESIS_HASH = "0" * 64
#: ``audit(prev_hash, verdict_id, body)`` -> (entry_hash, signature, certificate PEM).
AuditSealer = Callable[[str, int, dict[str, Any]], tuple[str, str, str]]


def append_audit_entry(
    session: Session,
    *,
    verdict_id: int,
    dispute_id: str,
    body: dict[str, Any],
    at: datetime,
    audit: AuditSealer,
) -> None:
    """Hash and sign ``body`` (the verdict row ``verdict_id``, already flushed) onto the tip."""
    tip = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1))
    prev = tip or GENESIS_HASH
    entry_hash, signature, certificate = audit(prev, verdict_id, body)
    session.add(
        AuditEntry(
            verdict_id=verdict_id,
            dispute_id=dispute_id,
            prev_hash=prev,
            entry_hash=entry_hash,
            signature=signature,
            signer_certificate_pem=certificate,
            created_at=at,
        )
    )

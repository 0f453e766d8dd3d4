"""Idempotency records: the first answer to a request sent with an ``Idempotency-Key``.

One row per (scope, route, key). The first request claims the row (``status_code`` None), runs,
and completes it with its answer; a retry reads the row. Each method is one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from infra.ledger.models import IdempotencyKey
from infra.ledger.sessions import GuardedSessions

__all__ = ["IdempotencyRecords"]


class IdempotencyRecords:
    """Repository of idempotency rows.

    Every method raises ``UnavailableError`` (``ledger_unavailable``, 503) when the database
    is down or drops the connection.
    """

    def __init__(self, sessions: GuardedSessions) -> None:
        self._sessions = sessions

    def claim(
        self,
        *,
        scope: str,
        route: str,
        key: str,
        request_sha256: str,
        now: datetime,
        expires_at: datetime,
        stale_before: datetime,
    ) -> IdempotencyKey | None:
        """Claim the key for a first request, or return the row that holds it.

        A row past its ``expires_at``, and a claim never completed since ``stale_before`` (its
        request died with its process), are replaced by this claim.

        Returns:
            None when this caller now holds the claim; else the existing row.
        """
        ident = (scope, route, key)
        with self._sessions.begin() as session:
            session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.scope == scope,
                    IdempotencyKey.route == route,
                    IdempotencyKey.key == key,
                    (IdempotencyKey.expires_at <= now)
                    | (
                        IdempotencyKey.status_code.is_(None)
                        & (IdempotencyKey.created_at < stale_before)
                    ),
                )
            )
        try:
            with self._sessions.begin() as session:
                session.add(
                    IdempotencyKey(
                        scope=scope,
                        route=route,
                        key=key,
                        request_sha256=request_sha256,
                        created_at=now,
                        expires_at=expires_at,
                    )
                )
        except IntegrityError:
            with self._sessions() as session:
                existing: IdempotencyKey | None = session.get(IdempotencyKey, ident)
            if existing is None:  # deleted between the two transactions: claim again
                return self.claim(
                    scope=scope,
                    route=route,
                    key=key,
                    request_sha256=request_sha256,
                    now=now,
                    expires_at=expires_at,
                    stale_before=stale_before,
                )
            return existing
        return None

    def complete(
        self, *, scope: str, route: str, key: str, status_code: int, response: dict[str, Any]
    ) -> None:
        """Record the first request's answer on its claim."""
        with self._sessions.begin() as session:
            session.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.scope == scope,
                    IdempotencyKey.route == route,
                    IdempotencyKey.key == key,
                )
                .values(status_code=status_code, response=response)
            )

    def release(self, *, scope: str, route: str, key: str) -> None:
        """Drop an uncompleted claim (its request failed: the key may be tried again)."""
        with self._sessions.begin() as session:
            session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.scope == scope,
                    IdempotencyKey.route == route,
                    IdempotencyKey.key == key,
                    IdempotencyKey.status_code.is_(None),
                )
            )

    def prune(self, *, before: datetime, limit: int = 1000) -> int:
        """Delete up to ``limit`` rows that expired before ``before``; the number deleted."""
        with self._sessions.begin() as session:
            keys = session.execute(
                select(IdempotencyKey.scope, IdempotencyKey.route, IdempotencyKey.key)
                .where(IdempotencyKey.expires_at < before)
                .limit(limit)
            ).all()
            for scope, route, key in keys:
                session.execute(
                    delete(IdempotencyKey).where(
                        IdempotencyKey.scope == scope,
                        IdempotencyKey.route == route,
                        IdempotencyKey.key == key,
                        IdempotencyKey.expires_at < before,
                    )
                )
            return len(keys)

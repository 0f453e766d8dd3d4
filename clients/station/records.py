"""What this station sealed and closed: its own memory, checked before a capture is queued.

The service keeps the evidence; the station keeps a small SQLite file (``records.sqlite``)
of the content SHA-256 it sealed for which order and session, and of the sessions it closed.
That lets it warn while offline, before anything is sent: the same bytes already sealed for
another order, an order this station already shipped, a session closed with no new capture.
The service refuses the first for good (``409 capture_sealed_elsewhere``); the record is the
early, offline warning. Forced overrides are recorded with the capture.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["SealedElsewhere", "StationRecords"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sealed (content_sha256 TEXT NOT NULL, order_id TEXT NOT NULL,"
    " session_id TEXT NOT NULL, evidence_id TEXT NOT NULL, sealed_at TEXT NOT NULL,"
    " forced TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX IF NOT EXISTS sealed_sha ON sealed (content_sha256)",
    "CREATE INDEX IF NOT EXISTS sealed_session ON sealed (session_id)",
    "CREATE TABLE IF NOT EXISTS closed (order_id TEXT NOT NULL, session_id TEXT NOT NULL,"
    " closed_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS closed_order ON closed (order_id)",
)


@dataclass(frozen=True)
class SealedElsewhere:
    """Bytes this station already sealed (or queued) for another order."""

    order_id: str
    evidence_id: str


class StationRecords:
    """The station's record of sealed content and closed sessions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._db() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path)) as db, db:
            yield db

    def record_sealed(
        self,
        *,
        content_sha256: str,
        order_id: str,
        session_id: str,
        evidence_id: str,
        forced: tuple[str, ...] = (),
    ) -> None:
        """Remember one sealed capture (and which station checks were forced for it)."""
        with self._db() as db:
            db.execute(
                "INSERT INTO sealed VALUES (?, ?, ?, ?, ?, ?)",
                (
                    content_sha256,
                    order_id,
                    session_id,
                    evidence_id,
                    datetime.now(UTC).isoformat(),
                    ",".join(forced),
                ),
            )

    def record_closed(self, *, order_id: str, session_id: str) -> None:
        """Remember that this station closed a session (printed the order's label)."""
        with self._db() as db:
            db.execute(
                "INSERT INTO closed VALUES (?, ?, ?)",
                (order_id, session_id, datetime.now(UTC).isoformat()),
            )

    def sealed_elsewhere(self, content_sha256: str, *, order_id: str) -> SealedElsewhere | None:
        """The first other order these bytes were sealed for, if any."""
        with self._db() as db:
            row = db.execute(
                "SELECT order_id, evidence_id FROM sealed WHERE content_sha256 = ?"
                " AND order_id != ? ORDER BY sealed_at LIMIT 1",
                (content_sha256, order_id),
            ).fetchone()
        return SealedElsewhere(str(row[0]), str(row[1])) if row else None

    def sealed_in_session(self, session_id: str) -> int:
        """How many captures this station sealed in the session."""
        with self._db() as db:
            row = db.execute(
                "SELECT count(*) FROM sealed WHERE session_id = ?", (session_id,)
            ).fetchone()
        return int(row[0])

    def closed_before(self, order_id: str) -> str | None:
        """When this station last closed a session of the order (its label is out), if ever."""
        with self._db() as db:
            row = db.execute(
                "SELECT max(closed_at) FROM closed WHERE order_id = ?", (order_id,)
            ).fetchone()
        return str(row[0]) if row and row[0] else None

"""Ledger tables and repository of offline packing (issue 18 §1): provisional labels.

- ``provisional_labels``: one row per station-local packing session the service accepted at
  sync, keyed by (station, local session id), so a replayed sync finds its first answer and
  never opens a second session or prints a second label. It maps the station's provisional
  token (by SHA-256) to the official shipment session, and keeps the station clock, the
  service clock and their gap as measured at sync.
- ``provisional_receipts``: receipt sessions a buyer opened by scanning a provisional label
  (the marker sealed into their receipts).

The tables share ``infra.ledger.models.Base`` so one migration chain and the drift test
cover them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from infra.ledger.models import Base, CaptureSession, Order
from infra.ledger.sessions import GuardedSessions

__all__ = ["ProvisionalLabelRow", "ProvisionalLabels", "ProvisionalReceipt"]


class ProvisionalLabelRow(Base):
    """A provisional label the service accepted, and the official session that replaced it."""

    __tablename__ = "provisional_labels"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    local_session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), index=True)
    #: SHA-256 (hex) of the provisional token text as printed; a scan must match it exactly.
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("capture_sessions.session_id"), unique=True)
    #: When the station closed the session offline, by its own clock (signed in the token).
    station_closed_at: Mapped[datetime]
    #: The station clock sent with the sync, and the service clock that received it.
    station_clock: Mapped[datetime]
    service_clock: Mapped[datetime]
    #: service_clock - station_clock, seconds (positive: the station clock is behind).
    clock_gap_seconds: Mapped[float] = mapped_column(Float)
    #: The official label token that replaced the provisional one, once closed at sync.
    official_token: Mapped[str | None] = mapped_column(Text, default=None)
    replaced_at: Mapped[datetime | None] = mapped_column(default=None)


class ProvisionalReceipt(Base):
    """A receipt session opened from a provisional label (which one)."""

    __tablename__ = "provisional_receipts"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("capture_sessions.session_id"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(String(64))
    local_session_id: Mapped[str] = mapped_column(String(128))


class ProvisionalLabels:
    """Reads and writes of the offline packing tables."""

    def __init__(self, sessions: GuardedSessions) -> None:
        self._sessions = sessions

    def get(self, device_id: str, local_session_id: str) -> ProvisionalLabelRow | None:
        """The accepted provisional session of a station, or None."""
        with self._sessions() as session:
            return session.get(ProvisionalLabelRow, (device_id, local_session_id))

    def for_session(self, session_id: str) -> ProvisionalLabelRow | None:
        """The provisional label an official shipment session replaced, or None."""
        with self._sessions() as session:
            return session.scalars(
                select(ProvisionalLabelRow).where(ProvisionalLabelRow.session_id == session_id)
            ).first()

    def add(self, row: ProvisionalLabelRow) -> bool:
        """Record an accepted provisional session; False when (station, local id) or the
        token exists already (a concurrent replay won: read it back)."""
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    def replace(self, device_id: str, local_session_id: str, token: str, *, at: datetime) -> str:
        """Store the official token once; returns the stored one (the first writer's)."""
        with self._sessions.begin() as session:
            session.execute(
                update(ProvisionalLabelRow)
                .where(
                    ProvisionalLabelRow.device_id == device_id,
                    ProvisionalLabelRow.local_session_id == local_session_id,
                    ProvisionalLabelRow.official_token.is_(None),
                )
                .values(official_token=token, replaced_at=at)
            )
        row = self.get(device_id, local_session_id)
        if row is None or row.official_token is None:
            raise LookupError("expected the provisional label just replaced")
        return row.official_token

    def packable_orders(self, merchant_id: str, *, limit: int) -> list[str]:
        """The merchant's open orders with no packed shipment session, newest first."""
        packed = select(CaptureSession.order_id).where(
            CaptureSession.stage == "shipment",
            CaptureSession.closed_at.is_not(None),
            CaptureSession.released_at.is_(None),
        )
        query = (
            select(Order.order_id)
            .where(
                Order.merchant_id == merchant_id,
                Order.status == "open",
                Order.order_id.not_in(packed),
            )
            .order_by(Order.created_at.desc(), Order.order_id)
            .limit(limit)
        )
        with self._sessions() as session:
            return list(session.scalars(query))

    def mark_receipt(self, session_id: str, *, device_id: str, local_session_id: str) -> None:
        """Record that a receipt session was opened from this provisional label."""
        with self._sessions.begin() as session:
            session.add(
                ProvisionalReceipt(
                    session_id=session_id, device_id=device_id, local_session_id=local_session_id
                )
            )

    def receipt(self, session_id: str) -> ProvisionalReceipt | None:
        """The provisional label a receipt session was opened from, or None."""
        with self._sessions() as session:
            return session.get(ProvisionalReceipt, session_id)

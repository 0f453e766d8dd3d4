"""offline packing (issue 18 §1): provisional labels and the sessions that replaced them

- ``provisional_labels``: a station-local packing session the service accepted at sync, keyed
  by (device_id, local_session_id) so a replayed sync answers its first result; the SHA-256 of
  the provisional token, the official shipment session, the station and service clocks and
  their gap, and the official token once it replaced the provisional one.
- ``provisional_receipts``: receipt sessions opened by scanning a provisional label.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 12:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.ledger.models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_UTC = infra.ledger.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "provisional_labels",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("local_session_id", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("station_closed_at", _UTC(), nullable=False),
        sa.Column("station_clock", _UTC(), nullable=False),
        sa.Column("service_clock", _UTC(), nullable=False),
        sa.Column("clock_gap_seconds", sa.Float(), nullable=False),
        sa.Column("official_token", sa.Text(), nullable=True),
        sa.Column("replaced_at", _UTC(), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"]),
        sa.ForeignKeyConstraint(["session_id"], ["capture_sessions.session_id"]),
        sa.PrimaryKeyConstraint("device_id", "local_session_id"),
        sa.UniqueConstraint("token_sha256"),
        sa.UniqueConstraint("session_id"),
    )
    op.create_index("ix_provisional_labels_order_id", "provisional_labels", ["order_id"])
    op.create_table(
        "provisional_receipts",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("local_session_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["capture_sessions.session_id"]),
        sa.PrimaryKeyConstraint("session_id"),
    )


def downgrade() -> None:
    op.drop_table("provisional_receipts")
    op.drop_index("ix_provisional_labels_order_id", table_name="provisional_labels")
    op.drop_table("provisional_labels")

"""released shipment sessions (the platform reopened a packed order)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.ledger.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("capture_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("released_at", infra.ledger.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("released_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("capture_sessions", schema=None) as batch_op:
        batch_op.drop_column("released_by")
        batch_op.drop_column("released_at")

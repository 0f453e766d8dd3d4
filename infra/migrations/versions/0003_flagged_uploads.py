"""flagged uploads (receipt intake screening)

Revision ID: 0003_flagged
Revises: 0002
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.ledger.models

revision = "0003_flagged"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flagged_uploads",
        sa.Column("flagged_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=True),
        sa.Column("media_type", sa.String(length=64), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("received_at", infra.ledger.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"]),
        sa.ForeignKeyConstraint(["session_id"], ["capture_sessions.session_id"]),
        sa.PrimaryKeyConstraint("flagged_id"),
        sa.UniqueConstraint("session_id", "content_sha256", name="uq_flagged_session_content"),
    )
    with op.batch_alter_table("flagged_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flagged_uploads_content_sha256"), ["content_sha256"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_flagged_uploads_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flagged_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flagged_uploads_order_id"))
        batch_op.drop_index(batch_op.f("ix_flagged_uploads_content_sha256"))
    op.drop_table("flagged_uploads")

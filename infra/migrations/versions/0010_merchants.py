"""merchant tenants (issue 17 §2)

- ``merchants``: the seller tenants; a ``default`` merchant owns everything stored before.
- ``orders.merchant_id`` (``default`` for existing rows and for orders registered without one),
  ``devices.merchant_id`` (existing stations join ``default``), ``api_keys.merchant_id`` (the
  merchant a ``merchant`` key acts for), ``disputes.attribution`` (whose side the verdict
  points to).
- ``order_reopens``: who reopened a packed order, when and why.
- ``merchant_responses``: a merchant's statements on disputes of its orders.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:10:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import infra.ledger.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_UTC = infra.ledger.models.UTCDateTime
# The tables as this migration sees them, not as the models may say later.
_merchants = sa.table(
    "merchants",
    sa.column("merchant_id", sa.String),
    sa.column("name", sa.String),
    sa.column("created_at", _UTC(timezone=True)),
)
_devices = sa.table("devices", sa.column("kind", sa.String), sa.column("merchant_id", sa.String))


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id"),
    )
    op.bulk_insert(
        _merchants,
        [{"merchant_id": "default", "name": "Default merchant", "created_at": datetime.now(UTC)}],
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("merchant_id", sa.String(length=64), nullable=False, server_default="default")
        )
        batch_op.create_index("ix_orders_merchant_id", ["merchant_id"])
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merchant_id", sa.String(length=64), nullable=True))
    op.execute(_devices.update().where(_devices.c.kind == "station").values(merchant_id="default"))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merchant_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attribution", sa.String(length=16), nullable=True))
    op.create_table(
        "order_reopens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("by_role", sa.String(length=16), nullable=False),
        sa.Column("by_subject", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("released_session_ids", sa.JSON(), nullable=False),
        sa.Column("reopened_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_order_reopens_order_id", "order_reopens", ["order_id"])
    op.create_table(
        "merchant_responses",
        sa.Column("response_id", sa.String(length=40), nullable=False),
        sa.Column("dispute_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("evidence_ids", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("response_id"),
    )
    op.create_index("ix_merchant_responses_dispute_id", "merchant_responses", ["dispute_id"])


def downgrade() -> None:
    op.drop_index("ix_merchant_responses_dispute_id", table_name="merchant_responses")
    op.drop_table("merchant_responses")
    op.drop_index("ix_order_reopens_order_id", table_name="order_reopens")
    op.drop_table("order_reopens")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_column("attribution")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("merchant_id")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("merchant_id")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_merchant_id")
        batch_op.drop_column("merchant_id")
    op.drop_table("merchants")

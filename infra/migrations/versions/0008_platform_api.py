"""platform API (issue 16 §2-3): idempotency keys, order status, dispute listing columns

- ``idempotency_keys``: one row per (caller, route, Idempotency-Key) with the SHA-256 of the
  request body and the first answer, kept until ``expires_at`` (infra.idempotency).
- ``orders.status`` (``open`` or ``cancelled``), ``cancelled_at`` and ``updated_at``.
- ``disputes.updated_at`` (filing, attaching, detaching or deciding moves it; backfilled with
  the decision or filing time) and ``disputes.reason_codes`` (the latest verdict's reason codes
  as ``,a,b,`` so the platform listing filters by reason in SQL, before its limit; backfilled
  from each dispute's latest verdict), indexed with the id for the listing's keyset cursor.
- ``verdicts.change_reason``: why a re-decision was made (``evidence_added``,
  ``evidence_changed`` or ``re_evaluated``); None on a dispute's first verdict.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:45:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import infra.ledger.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The tables as this migration sees them, not as the models may say later.
_disputes = sa.table(
    "disputes",
    sa.column("dispute_id", sa.String),
    sa.column("created_at", infra.ledger.models.UTCDateTime(timezone=True)),
    sa.column("decided_at", infra.ledger.models.UTCDateTime(timezone=True)),
    sa.column("updated_at", infra.ledger.models.UTCDateTime(timezone=True)),
    sa.column("reason_codes", sa.Text),
)
_verdicts = sa.table(
    "verdicts",
    sa.column("id", sa.Integer),
    sa.column("dispute_id", sa.String),
    sa.column("body", sa.JSON),
)


def _codes(body: Any) -> str:
    reasons = body.get("reasons", []) if isinstance(body, dict) else []
    codes = sorted({str(r.get("code")) for r in reasons if isinstance(r, dict)})
    return "," + ",".join(codes) + "," if codes else ","


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", infra.ledger.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", infra.ledger.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "route", "key"),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="open")
        )
        batch_op.add_column(
            sa.Column("cancelled_at", infra.ledger.models.UTCDateTime(timezone=True))
        )
        batch_op.add_column(sa.Column("updated_at", infra.ledger.models.UTCDateTime(timezone=True)))
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", infra.ledger.models.UTCDateTime(timezone=True)))
        batch_op.add_column(sa.Column("reason_codes", sa.Text()))
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("change_reason", sa.String(length=32)))
    connection = op.get_bind()
    latest: dict[str, Any] = {}
    for dispute_id, body in connection.execute(
        sa.select(_verdicts.c.dispute_id, _verdicts.c.body).order_by(_verdicts.c.id)
    ):
        latest[dispute_id] = body
    rows = connection.execute(
        sa.select(_disputes.c.dispute_id, _disputes.c.created_at, _disputes.c.decided_at)
    ).all()
    for dispute_id, created_at, decided_at in rows:
        connection.execute(
            _disputes.update()
            .where(_disputes.c.dispute_id == dispute_id)
            .values(
                updated_at=decided_at or created_at,
                reason_codes=_codes(latest[dispute_id]) if dispute_id in latest else None,
            )
        )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.alter_column(
            "updated_at",
            existing_type=infra.ledger.models.UTCDateTime(timezone=True),
            nullable=False,
        )
        batch_op.create_index("ix_disputes_updated", ["updated_at", "dispute_id"])


def downgrade() -> None:
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        batch_op.drop_column("change_reason")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index("ix_disputes_updated")
        batch_op.drop_column("reason_codes")
        batch_op.drop_column("updated_at")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("status")
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")

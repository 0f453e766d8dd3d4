"""background jobs (issue 16 §5): the ``jobs`` queue table

- ``jobs``: heavy work handed off by a request once its durable part is committed (the
  verification of a large attached dispute file, a sealed evidence thumbnail). Written in the
  same transaction as its cause; claimed by workers under a lease like webhook deliveries;
  ``(kind, subject)`` unique, so the same work is queued once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.ledger.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_UTC = infra.ledger.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("dispute_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _UTC(timezone=True), nullable=False),
        sa.Column("lease_expires_at", _UTC(timezone=True), nullable=True),
        sa.Column("leased_by", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.Column("finished_at", _UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id"),
        sa.UniqueConstraint("kind", "subject", name="uq_jobs_kind_subject"),
    )
    op.create_index("ix_jobs_due", "jobs", ["status", "next_attempt_at"])
    op.create_index("ix_jobs_dispute", "jobs", ["dispute_id", "status"])
    op.create_index("ix_jobs_owner", "jobs", ["owner", "status"])


def downgrade() -> None:
    op.drop_index("ix_jobs_owner", table_name="jobs")
    op.drop_index("ix_jobs_dispute", table_name="jobs")
    op.drop_index("ix_jobs_due", table_name="jobs")
    op.drop_table("jobs")

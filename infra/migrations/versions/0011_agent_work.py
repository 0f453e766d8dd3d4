"""agent workspace (issue 17 §1): the queue, agent decisions and signed report links

- ``dispute_work``: a dispute's assignment (agent subject, when, by whom) and the agents'
  status (``awaiting_evidence`` after a request for more, ``agent_decided`` after an approve or
  deny); no row means unassigned and untouched by agents.
- ``agent_decisions``: one row per agent decision, naming the verdict row (and so the signed
  audit entry) that records it, the agent (API key subject and key id) and the note.
- ``report_links``: read-only report links; only the SHA-256 of the token is kept, with the
  dispute, the creating platform subject, the expiry and the revocation time.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.ledger.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_UTC = infra.ledger.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "dispute_work",
        sa.Column("dispute_id", sa.String(length=64), nullable=False),
        sa.Column("assigned_to", sa.String(length=64), nullable=True),
        sa.Column("assigned_at", _UTC(timezone=True), nullable=True),
        sa.Column("assigned_by", sa.String(length=64), nullable=True),
        sa.Column("agent_status", sa.String(length=24), nullable=True),
        sa.Column("updated_at", _UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.dispute_id"]),
        sa.PrimaryKeyConstraint("dispute_id"),
    )
    op.create_index("ix_dispute_work_assigned", "dispute_work", ["assigned_to"])
    op.create_table(
        "agent_decisions",
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("dispute_id", sa.String(length=64), nullable=False),
        sa.Column("verdict_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("agent_subject", sa.String(length=64), nullable=False),
        sa.Column("agent_key_id", sa.String(length=32), nullable=False),
        sa.Column("previous_decision", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_at", _UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.dispute_id"]),
        sa.ForeignKeyConstraint(["verdict_id"], ["verdicts.id"]),
        sa.PrimaryKeyConstraint("decision_id"),
        sa.UniqueConstraint("verdict_id"),
    )
    op.create_index("ix_agent_decisions_dispute_id", "agent_decisions", ["dispute_id"])
    op.create_table(
        "report_links",
        sa.Column("link_id", sa.String(length=40), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("dispute_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.Column("expires_at", _UTC(timezone=True), nullable=False),
        sa.Column("revoked_at", _UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.dispute_id"]),
        sa.PrimaryKeyConstraint("link_id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index("ix_report_links_dispute_id", "report_links", ["dispute_id"])
    op.create_index("ix_report_links_created_by", "report_links", ["created_by"])


def downgrade() -> None:
    op.drop_index("ix_report_links_created_by", table_name="report_links")
    op.drop_index("ix_report_links_dispute_id", table_name="report_links")
    op.drop_table("report_links")
    op.drop_index("ix_agent_decisions_dispute_id", table_name="agent_decisions")
    op.drop_table("agent_decisions")
    op.drop_index("ix_dispute_work_assigned", table_name="dispute_work")
    op.drop_table("dispute_work")

"""how a receipt session's label token was entered (issue 18 §4): its own column

Sessions opened between the marker's introduction and this migration recorded it in their id
prefix (``rs_`` scanned, ``rl_`` label link, ``rt_`` typed); those are copied into the column.
Older receipt sessions (``rs_``) read as ``scanned``, as the page showed them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_PREFIXES = {"rs_": "scanned", "rl_": "link", "rt_": "typed"}


def upgrade() -> None:
    with op.batch_alter_table("capture_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label_entry", sa.String(length=8), nullable=True))
    sessions = sa.table(
        "capture_sessions",
        sa.column("session_id", sa.String),
        sa.column("stage", sa.String),
        sa.column("label_entry", sa.String),
    )
    for prefix, entry in _PREFIXES.items():
        op.execute(
            sessions.update()
            .where(sessions.c.stage == "receipt", sessions.c.session_id.like(f"{prefix}%"))
            .values(label_entry=entry)
        )


def downgrade() -> None:
    with op.batch_alter_table("capture_sessions", schema=None) as batch_op:
        batch_op.drop_column("label_entry")

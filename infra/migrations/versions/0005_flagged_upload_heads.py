"""flagged uploads keep their first bytes, not the file, and expire (issue 14.4)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flagged_uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("head", sa.LargeBinary(), nullable=True))
        batch_op.alter_column("storage_key", existing_type=sa.String(length=255), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_flagged_uploads_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("flagged_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flagged_uploads_received_at"))
        batch_op.alter_column("storage_key", existing_type=sa.String(length=255), nullable=False)
        batch_op.drop_column("head")

"""api keys get a public key id, label, expiry, replacement and last use (issue 16.8)

Existing keys (the ones ``orderseal init`` wrote) get a random ``kid_`` id each, so
``orderseal keys api list`` can name them; their secrets and hashes are unchanged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:12:47.647494
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

import infra.ledger.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The table as this migration sees it, not as the models may say later.
_api_keys = sa.table("api_keys", sa.column("key_hash", sa.String), sa.column("key_id", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("label", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("expires_at", infra.ledger.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("replaced_by", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("last_used_at", infra.ledger.models.UTCDateTime(timezone=True), nullable=True)
        )
    connection = op.get_bind()
    for (key_hash,) in connection.execute(sa.select(_api_keys.c.key_hash)).all():
        connection.execute(
            _api_keys.update()
            .where(_api_keys.c.key_hash == key_hash)
            .values(key_id=f"kid_{secrets.token_hex(8)}")
        )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("key_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint("uq_api_keys_key_id", ["key_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint("uq_api_keys_key_id", type_="unique")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("replaced_by")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("label")
        batch_op.drop_column("key_id")

"""perceptual index (issue 19 §1): the ``fingerprints`` table of sealed evidence

- ``fingerprints``: one row per 64-bit perceptual hash of a sealed file (a photo has one, a
  video one per sampled frame), written in the evidence row's transaction; the hash as a
  signed BIGINT and its four 16-bit bands as integer columns, each indexed with the value, so a Hamming-radius
  lookup probes the band indexes and never scans (``infra.ledger.fingerprint_index``).
  Evidence sealed before this revision has no rows: its stripped copies are not recovered.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_BANDS = ("band0", "band1", "band2", "band3")


def upgrade() -> None:
    op.create_table(
        "fingerprints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("evidence_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        *(sa.Column(band, sa.Integer(), nullable=False) for band in _BANDS),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fingerprints_evidence_id", "fingerprints", ["evidence_id"])
    for band in _BANDS:
        # (band, value) covers a probe: it never reads the table.
        op.create_index(f"ix_fingerprints_{band}_value", "fingerprints", [band, "value"])


def downgrade() -> None:
    for band in _BANDS:
        op.drop_index(f"ix_fingerprints_{band}_value", table_name="fingerprints")
    op.drop_index("ix_fingerprints_evidence_id", table_name="fingerprints")
    op.drop_table("fingerprints")

"""Ledger table of perceptual fingerprints of sealed evidence, indexed for Hamming lookups.

One row per 64-bit hash (a photo has one, a video one per sampled frame). The hash is also
split into four 16-bit bands, each an indexed integer column: multi-index hashing
(``infra.ledger.fingerprint_index`` explains the lookup). The table shares
``infra.ledger.models.Base`` so one migration chain and the drift test cover it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from infra.ledger.models import Base

__all__ = ["BANDS", "BAND_BITS", "Fingerprint"]

BANDS = 4
BAND_BITS = 16


class Fingerprint(Base):
    """A perceptual hash of sealed evidence; ``value`` is the hash as a signed 64-bit integer
    (both databases' BIGINT), ``band0``..``band3`` its 16-bit bands from the high end."""

    __tablename__ = "fingerprints"
    # (band, value): a probe reads the index alone, never the table (a covering index).
    __table_args__ = tuple(
        Index(f"ix_fingerprints_band{i}_value", f"band{i}", "value") for i in range(BANDS)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: Written in the evidence row's transaction (no foreign key, so the index can be bulk
    #: loaded and rebuilt on its own).
    evidence_id: Mapped[str] = mapped_column(String(64), index=True)
    order_id: Mapped[str] = mapped_column(String(64))
    #: Which hash of the file: 0 for a photo, the sampled frame's index for a video.
    position: Mapped[int] = mapped_column(Integer)
    value: Mapped[int] = mapped_column(BigInteger)
    band0: Mapped[int] = mapped_column(Integer)
    band1: Mapped[int] = mapped_column(Integer)
    band2: Mapped[int] = mapped_column(Integer)
    band3: Mapped[int] = mapped_column(Integer)

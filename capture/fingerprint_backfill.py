"""Backfill of the fingerprint index: evidence sealed before it existed (migration 0013).

Such evidence has no rows in ``fingerprints``, so its stripped copies are not recovered. This
reads each sealed file through the evidence store, computes the same hashes a seal computes
(``evidence.fingerprints.fingerprint``; the embedded manifest does not change the pixels) and
indexes them. Bounded (``batch`` files per step, ``max_files`` per run), resumable (a run
asks the ledger for what is still unindexed, so a stopped run loses nothing) and idempotent
(a file with rows is skipped, by the query and again at the write).
"""

from __future__ import annotations

from dataclasses import dataclass

from evidence.fingerprints import fingerprint, to_int
from infra.errors import OrderSealError
from infra.ledger.fingerprint_index import FingerprintIndex
from infra.storage.base import EvidenceStore

__all__ = ["BackfillReport", "backfill_fingerprints"]


@dataclass(frozen=True)
class BackfillReport:
    """What one run did: files indexed, files without a decodable picture, unreadable files,
    and whether unindexed evidence may remain (the run stopped at ``max_files``)."""

    indexed: int
    undecodable: int
    unreadable: int
    more: bool


def backfill_fingerprints(
    index: FingerprintIndex, store: EvidenceStore, *, batch: int = 100, max_files: int = 10_000
) -> BackfillReport:
    """Index up to ``max_files`` sealed files that have no fingerprint rows.

    Raises:
        ValueError: a batch or bound below 1.
    """
    if batch < 1 or max_files < 1:
        raise ValueError(f"expected a batch and bound of 1 or more, found {batch}, {max_files}")
    indexed = undecodable = unreadable = seen = 0
    after = ""
    while seen < max_files:
        rows = index.unindexed(after=after, limit=min(batch, max_files - seen))
        if not rows:
            return BackfillReport(indexed, undecodable, unreadable, more=False)
        for row in rows:
            seen += 1
            after = row.evidence_id
            try:
                with store.open_local(row.storage_key) as path:
                    hashes = fingerprint(path, row.media_type)
            except (OSError, OrderSealError):
                unreadable += 1  # a store outage or a missing object: the next run retries
                continue
            if not hashes:
                undecodable += 1
                continue
            if index.add_if_unindexed(row.evidence_id, row.order_id, [to_int(h) for h in hashes]):
                indexed += 1
    return BackfillReport(indexed, undecodable, unreadable, more=True)

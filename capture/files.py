"""Sealed evidence files: download by an agent, by the buyer who sealed it, by the merchant of
its order, and thumbnails.

Files stream from the store in chunks; a video is never loaded whole.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from capture.sessions import SessionService
from capture.thumbnail_jobs import ThumbnailJobs
from evidence.thumbnails import make_thumbnail
from infra.errors import NotFoundError, UnavailableError
from infra.ledger.models import Evidence
from infra.ledger.repository import Ledger
from infra.storage.base import EvidenceStore

__all__ = ["INLINE_THUMBNAIL_RENDERS", "EvidenceFiles", "ThumbnailBusyError"]

#: Thumbnails rendered inline at once per process, when the thumbnail job has not run yet.
#: A video's poster frame decodes the file: without a bound, an agent or merchant client asking
#: for many fresh files' thumbnails at once would hold every request thread decoding.
INLINE_THUMBNAIL_RENDERS = 2
_RETRY_AFTER_SECONDS = 2


class ThumbnailBusyError(UnavailableError):
    """Every inline thumbnail render slot of this process is taken; the job will make it."""

    code = "thumbnail_busy"
    http_status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.details = {"retry_after_seconds": _RETRY_AFTER_SECONDS}
        self.headers = {"Retry-After": str(_RETRY_AFTER_SECONDS)}


class EvidenceFiles:
    """Reads sealed evidence and its thumbnails for the agent and the buyer."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        store: EvidenceStore,
        sessions: SessionService,
        thumbnail_dir: Path,
        thumbnails: ThumbnailJobs | None = None,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.sessions = sessions
        self.thumbnail_dir = thumbnail_dir
        self.thumbnails = thumbnails
        self._inline_renders = threading.BoundedSemaphore(INLINE_THUMBNAIL_RENDERS)

    def evidence(self, evidence_id: str) -> Evidence:
        """Any sealed evidence by id (agents see every order's).

        Raises:
            NotFoundError: ``evidence_not_found``.
        """
        row = self.ledger.get_evidence(evidence_id)
        if row is None:
            raise NotFoundError("no such evidence", code="evidence_not_found")
        return row

    def merchant_evidence(self, evidence_id: str, *, merchant_id: str) -> Evidence:
        """The merchant's own sealed packing evidence (shipment stage, one of its orders).

        Raises:
            NotFoundError: ``evidence_not_found``, for another merchant's evidence, a buyer's
                receipt capture and a missing id alike.
        """
        row = self.ledger.merchants.evidence(merchant_id, evidence_id)
        if row is None:
            raise NotFoundError("no such evidence", code="evidence_not_found")
        return row

    def buyer_evidence(self, session_id: str, evidence_id: str, *, buyer_id: str) -> Evidence:
        """A buyer's own sealed capture from one of their receipt sessions.

        Raises:
            NotFoundError: ``session_not_found`` or ``evidence_not_found``.
        """
        return self.sessions.buyer_evidence(session_id, evidence_id, buyer_id=buyer_id)

    def chunks(self, row: Evidence) -> Iterator[bytes]:
        """The sealed file's bytes, in chunks."""
        return self.store.iter_bytes(row.storage_key)

    def thumbnail(self, evidence_id: str) -> bytes:
        """A JPEG thumbnail (photo) or poster frame (video), cached by sealed SHA-256.

        Raises:
            NotFoundError: ``evidence_not_found`` or ``thumbnail_unavailable``.
        """
        return self.thumbnail_of(self.evidence(evidence_id))

    def thumbnail_of(self, row: Evidence) -> bytes:
        """The thumbnail of evidence the caller may see (see :meth:`thumbnail`).

        Raises:
            NotFoundError: ``thumbnail_unavailable``.
            ThumbnailBusyError: ``thumbnail_busy`` (503, Retry-After): the job has not made it
                yet and this process already renders :data:`INLINE_THUMBNAIL_RENDERS` inline.
        """
        stored = self.thumbnails.stored(row.evidence_id) if self.thumbnails else None
        if stored is not None:  # made by the thumbnail job at sealing time
            if stored.data is None:
                raise NotFoundError("no thumbnail for this evidence", code="thumbnail_unavailable")
            return stored.data
        # Not made yet (the job is pending, dead, or the evidence predates it): inline.
        cache = self.thumbnail_dir / f"{row.sealed_sha256}.jpg"
        if cache.is_file():  # rendered inline before: no slot needed
            return cache.read_bytes()
        if not self._inline_renders.acquire(blocking=False):
            raise ThumbnailBusyError("every inline thumbnail render is busy; retry shortly")
        try:
            with self.store.open_local(row.storage_key) as path:
                data = make_thumbnail(path, row.media_type, cache)
        finally:
            self._inline_renders.release()
        if data is None:
            raise NotFoundError("no thumbnail for this evidence", code="thumbnail_unavailable")
        return data

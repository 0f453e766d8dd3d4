"""The ``thumbnail`` job: the agent thumbnail of sealed evidence, made once and kept in the store.

Sealing writes the job with the evidence row (``Ledger.add_evidence(..., jobs=)``); a worker
renders the JPEG (a photo scaled down, a video's first frame) and stores it in the evidence
store under its own SHA-256, where every server finds it. Until the job has run, the thumbnail
route makes it inline as before (``EvidenceFiles.thumbnail_of``), so an agent never waits on
the queue. Idempotent: the same evidence gives the same bytes, stored under the same key.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.thumbnails import render_thumbnail
from infra.ledger.jobs import ClaimedJob, JobRepository, NewJob
from infra.ledger.models import Evidence
from infra.ledger.repository import Ledger
from infra.storage.base import EvidenceStore

__all__ = ["THUMBNAIL_KIND", "StoredThumbnail", "ThumbnailJobs", "thumbnail_job"]

THUMBNAIL_KIND = "thumbnail"


def _subject(evidence_id: str) -> str:
    return f"evidence:{evidence_id}"


def thumbnail_job(row: Evidence, *, max_attempts: int) -> NewJob:
    """The job that makes ``row``'s thumbnail, to write with the row."""
    return NewJob(
        kind=THUMBNAIL_KIND,
        subject=_subject(row.evidence_id),
        payload={"evidence_id": row.evidence_id},
        created_at=row.sealed_at,
        max_attempts=max_attempts,
    )


@dataclass(frozen=True)
class StoredThumbnail:
    """What the job made: the JPEG, or None when the file has no picture to show."""

    data: bytes | None


@dataclass(frozen=True)
class ThumbnailJobs:
    """Runs thumbnail jobs and finds their results."""

    ledger: Ledger
    store: EvidenceStore
    jobs: JobRepository
    work_dir: Path

    def run(self, job: ClaimedJob) -> dict[str, Any]:
        """Render and store one thumbnail; the job's result names the stored object."""
        row = self.ledger.get_evidence(str(job.payload["evidence_id"]))
        if row is None:
            return {"outcome": "gone"}
        with self.store.open_local(row.storage_key) as path:
            data = render_thumbnail(path, row.media_type)
        if data is None:
            return {"outcome": "unavailable"}
        sha256 = hashlib.sha256(data).hexdigest()
        part = self.work_dir / f"thumbnail-{secrets.token_hex(8)}.jpg"
        try:
            part.write_bytes(data)
            key = self.store.put_file(part, sha256)
        finally:
            part.unlink(missing_ok=True)
        return {"outcome": "stored", "storage_key": key, "sha256": sha256, "size": len(data)}

    def stored(self, evidence_id: str) -> StoredThumbnail | None:
        """The job's thumbnail of ``evidence_id``, or None when it has not been made yet."""
        job = self.jobs.get(THUMBNAIL_KIND, _subject(evidence_id))
        if job is None or job.status != "done" or job.result is None:
            return None
        if job.result.get("outcome") == "unavailable":
            return StoredThumbnail(None)
        key = job.result.get("storage_key")
        if not isinstance(key, str):
            return None
        data = b"".join(self.store.iter_bytes(key))
        if hashlib.sha256(data).hexdigest() != job.result.get("sha256"):
            return None  # never serve a stored thumbnail that is not what the job made
        return StoredThumbnail(data)

"""The ``verify_dispute_file`` job: what attaching does inline for a small file, for a large one.

The attach request stored the file and wrote this job with the attached row; the job reads the
manifest id and the perceptual hashes from the stored bytes, records them, and, when the
dispute was decided before the file came, decides again (``change_reason`` ``evidence_added``,
the usual ``dispute.decision_changed`` webhook).

Idempotent: the recorded values depend on the bytes only, and the re-decision is skipped once
the latest verdict already covers every file, so a worker killed mid-job and the one that takes
over give one result. With several large files pending, the job of the last one decides.

A job whose attempts are spent (the file crashes or kills the verifier) leaves the file
attached as ``failed``: it counts as ``check_crashed`` (``review``), and a decided dispute is
decided again with it, so nothing stays pending forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evidence.media import sniff_media_type
from infra.ledger.dispute_files import VERIFY_KIND, DisputeFiles, FileState
from infra.ledger.jobs import ClaimedJob
from infra.ledger.repository import StaleVerdictError
from verifier.disputes import DisputeService
from verifier.errors import VerificationPendingError
from verifier.perceptual import fingerprint
from verifier.schemas import VerdictOut

__all__ = ["VERIFY_KIND", "FileVerification"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileVerification:
    """The job kind's two hooks over the dispute service."""

    disputes: DisputeService
    files: DisputeFiles
    clock: Callable[[], datetime]

    def run(self, job: ClaimedJob) -> dict[str, Any]:
        """Verify the attached file, record it, re-decide a decided dispute; the job result."""
        attachment_id = int(job.payload["attachment_id"])
        attachment = self.files.get(attachment_id)
        if attachment is None:
            return {"outcome": "detached"}
        with self.disputes.store.open_local(attachment.storage_key) as path:
            media_type = sniff_media_type(path)
            manifest_id = self.disputes.facts.manifest_id_of(path)
            hashes = fingerprint(path, media_type)
        if not self.files.record_facts(
            attachment_id,
            media_type=media_type,
            manifest_id=manifest_id,
            perceptual_hashes=hashes or None,
        ):
            return {"outcome": "detached"}
        redecided = self._redecide(attachment.dispute_id, {attachment_id: "verified"})
        return {
            "outcome": "verified",
            "media_type": media_type,
            "manifest_id": manifest_id,
            "redecided": redecided,
        }

    def dead(self, job: ClaimedJob, error: str) -> None:
        """The attempts are spent: a decided dispute is decided again with the file failed."""
        attachment_id = int(job.payload["attachment_id"])
        attachment = self.files.get(attachment_id)
        if attachment is None:
            return
        _log.warning("dispute %s: file %s failed (%s)", attachment.dispute_id, attachment_id, error)
        self._redecide(attachment.dispute_id, {attachment_id: "failed"})

    def after(self, job: ClaimedJob) -> None:
        """Once the job is done: decide again if no file is left pending and nobody did.

        Covers two jobs of one dispute finishing at once, each seeing the other pending.
        """
        self._redecide(str(job.payload["dispute_id"]), {})

    def _redecide(self, dispute_id: str, settled: dict[int, FileState]) -> bool:
        """Decide a decided dispute again once all its files are settled; True if it did.

        With several large files the job of the last one to settle decides, once, with all.
        """
        # Read first: the write is refused if anything changed after this (another job's or
        # the platform's verdict, a file attached), so two jobs never both append.
        basis = self.disputes.ledger.verdict_basis(dispute_id)
        dispute = self.disputes.dispute(dispute_id)
        if dispute.decision is None:
            return False  # the platform decides when it asks; decide no longer waits for us
        attachments = self.disputes.ledger.attachments(dispute_id)
        states = {**self.disputes.file_states(attachments), **settled}
        if any(states[a.id] == "pending" for a in attachments):
            return False  # the job of the last pending file decides, with every file
        history = self.disputes.ledger.verdicts(dispute_id)
        covered = (
            {e.content_sha256 for e in VerdictOut.from_body(history[-1].body).evidence}
            if history
            else set()
        )
        if {a.content_sha256 for a in attachments} <= covered:
            return False  # an earlier run (or the platform) already decided with these files
        try:
            self.disputes.decide(dispute_id, now=self.clock(), settled=settled, basis=basis)
        except VerificationPendingError:
            return False  # a file attached meanwhile: its job decides
        except StaleVerdictError:
            return False  # decided meanwhile, or a file came: that writer or its job covers it
        return True

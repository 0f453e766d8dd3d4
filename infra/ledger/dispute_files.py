"""Dispute files verified by a job: attach with the job, read their state, store the result.

A large attached file is one ``dispute_evidence`` row plus one ``verify_dispute_file`` job,
written together (``attach_with_job``). Its state is its job's: ``pending`` while the job is,
``failed`` once it is dead, ``verified`` otherwise (files verified at attach time have no job).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infra.ledger.job_models import Job
from infra.ledger.jobs import NewJob, QueueBounds, QueueFullError, add_job, attachment_subject
from infra.ledger.models import Dispute, DisputeEvidence
from infra.ledger.sessions import GuardedSessions

__all__ = ["VERIFY_KIND", "DisputeFiles", "FileState"]

#: The job kind that verifies one attached dispute file.
VERIFY_KIND = "verify_dispute_file"

FileState = Literal["verified", "pending", "failed"]


def _pending(session: Session, *conditions: Any) -> int:
    query = select(func.count()).select_from(Job).where(Job.status == "pending", *conditions)
    return int(session.scalar(query) or 0)


class DisputeFiles:
    """The queued side of dispute attachments, over the ledger's guarded sessions."""

    def __init__(self, sessions: GuardedSessions) -> None:
        self._sessions = sessions
        #: Called after a commit that queued a job (wakes an in-process job worker).
        self.listener: Callable[[], None] | None = None

    def room(self, dispute_id: str, owner: str | None, bounds: QueueBounds) -> None:
        """Refuse early (before a body is received) when the bound is already reached.

        Raises:
            QueueFullError: ``verification_queue_full``.
        """
        with self._sessions() as session:
            _check_room(session, dispute_id, owner, bounds)

    def attach_with_job(
        self,
        attachment: DisputeEvidence,
        *,
        max_attempts: int,
        owner: str | None,
        bounds: QueueBounds,
    ) -> bool:
        """Attach a file and queue its verification in one transaction; False if attached.

        The dispute row is locked first, so the per-dispute bound holds under concurrent
        attaches (the per-owner bound may be passed by at most the caller's concurrency).

        Raises:
            QueueFullError: ``verification_queue_full``: the dispute or the caller has its
                share of files waiting; nothing was attached.
        """
        try:
            with self._sessions.begin() as session:
                dispute = session.get(Dispute, attachment.dispute_id, with_for_update=True)
                _check_room(session, attachment.dispute_id, owner, bounds)
                session.add(attachment)
                session.flush()
                add_job(
                    session,
                    NewJob(
                        kind=VERIFY_KIND,
                        subject=attachment_subject(attachment.id),
                        payload={
                            "dispute_id": attachment.dispute_id,
                            "attachment_id": attachment.id,
                            "content_sha256": attachment.content_sha256,
                        },
                        created_at=attachment.attached_at,
                        max_attempts=max_attempts,
                        owner=owner,
                        dispute_id=attachment.dispute_id,
                    ),
                )
                if dispute is not None:
                    dispute.updated_at = attachment.attached_at
        except IntegrityError:
            return False
        if self.listener is not None:
            self.listener()
        return True

    def get(self, attachment_id: int) -> DisputeEvidence | None:
        """One attached-file row, or None (detached)."""
        with self._sessions() as session:
            return session.get(DisputeEvidence, attachment_id)

    def states(self, attachments: Sequence[DisputeEvidence]) -> dict[int, FileState]:
        """The verification state of each attachment (one query)."""
        subjects = {attachment_subject(a.id): a.id for a in attachments}
        states: dict[int, FileState] = {a.id: "verified" for a in attachments}
        if not subjects:
            return states
        with self._sessions() as session:
            rows = session.execute(
                select(Job.subject, Job.status).where(
                    Job.kind == VERIFY_KIND, Job.subject.in_(sorted(subjects))
                )
            )
            for subject, status in rows:
                if status == "pending":
                    states[subjects[subject]] = "pending"
                elif status == "dead":
                    states[subjects[subject]] = "failed"
        return states

    def cancel_job(self, attachment_id: int, *, now: datetime) -> bool:
        """Cancel the pending verification of a detached file; False if it had finished."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(Job)
                .where(
                    Job.kind == VERIFY_KIND,
                    Job.subject == attachment_subject(attachment_id),
                    Job.status == "pending",
                )
                .values(
                    status="cancelled",
                    result={"outcome": "cancelled"},
                    finished_at=now,
                    lease_expires_at=None,
                    leased_by=None,
                )
                .execution_options(synchronize_session=False)
            )
            return getattr(result, "rowcount", 0) == 1

    def record_facts(
        self,
        attachment_id: int,
        *,
        media_type: str | None,
        manifest_id: str | None,
        perceptual_hashes: list[str] | None,
    ) -> bool:
        """Store what the job read from the file; False when the file was detached meanwhile.

        The same values are written by every run of the job (they depend on the bytes only).
        """
        with self._sessions.begin() as session:
            result = session.execute(
                update(DisputeEvidence)
                .where(DisputeEvidence.id == attachment_id)
                .values(
                    media_type=media_type,
                    manifest_id=manifest_id,
                    perceptual_hashes=perceptual_hashes,
                )
                .execution_options(synchronize_session=False)
            )
            return getattr(result, "rowcount", 0) == 1


def _check_room(session: Session, dispute_id: str, owner: str | None, bounds: QueueBounds) -> None:
    here = _pending(session, Job.kind == VERIFY_KIND, Job.dispute_id == dispute_id)
    if bounds.per_dispute and here >= bounds.per_dispute:
        raise QueueFullError(
            f"expected fewer than {bounds.per_dispute} files waiting for verification on "
            f"this dispute, found {here}; retry later"
        )
    if owner is not None and bounds.per_owner:
        mine = _pending(session, Job.kind == VERIFY_KIND, Job.owner == owner)
        if mine >= bounds.per_owner:
            raise QueueFullError(
                f"expected fewer than {bounds.per_owner} files of this API key waiting for "
                f"verification, found {mine}; retry later"
            )

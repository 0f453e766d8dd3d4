"""Job queries: enqueue with the record a job is about, claim under a lease, finish, bound.

``add_job(session, job)`` runs inside the caller's transaction, so a job exists exactly when its
cause does (``infra.ledger.dispute_files.DisputeFiles.attach_with_job`` is one such caller).
Claiming is the webhook queue's (``infra.ledger.leases.claim_due``): ``FOR UPDATE SKIP
LOCKED`` plus a compare-and-set on the lease. A claim counts an attempt, so a job whose
input kills the worker is dead-lettered after ``max_attempts`` claims, never looping forever.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infra.errors import OrderSealError
from infra.ledger.job_models import Job
from infra.ledger.leases import LeaseColumns, claim_due
from infra.ledger.sessions import GuardedSessions

__all__ = [
    "ClaimedJob",
    "JobRepository",
    "NewJob",
    "QueueBounds",
    "QueueFullError",
    "add_job",
    "attachment_subject",
]

_JOB_LEASES = LeaseColumns(
    table=Job,
    key=Job.job_id,
    status=Job.status,
    next_attempt_at=Job.next_attempt_at,
    lease_expires_at=Job.lease_expires_at,
    leased_by=Job.leased_by,
)


class QueueFullError(OrderSealError):
    """The caller (or the dispute) already has its share of queued work; retry later."""

    code = "verification_queue_full"
    http_status = 429

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.details = {"retry_after_seconds": 30}
        self.headers = {"Retry-After": "30"}


def attachment_subject(attachment_id: int) -> str:
    """The subject of the verification job of one attached-file row."""
    return f"dispute_evidence:{attachment_id}"


@dataclass(frozen=True)
class NewJob:
    """A job to write with its cause; ``subject`` names what it is about (unique per kind)."""

    kind: str
    subject: str
    payload: dict[str, Any]
    created_at: datetime
    max_attempts: int
    owner: str | None = None
    dispute_id: str | None = None


@dataclass(frozen=True)
class QueueBounds:
    """How much unfinished work one dispute and one caller may have queued (0: unbounded)."""

    per_dispute: int = 0
    per_owner: int = 0


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds the lease of."""

    job_id: str
    kind: str
    subject: str
    payload: dict[str, Any]
    #: Claims so far, this one included.
    attempts: int
    max_attempts: int
    dispute_id: str | None


def add_job(session: Session, job: NewJob) -> Job:
    """Write ``job`` as pending in the caller's transaction (its commit makes it durable)."""
    row = Job(
        job_id=f"job_{secrets.token_hex(12)}",
        kind=job.kind,
        subject=job.subject,
        payload=job.payload,
        owner=job.owner,
        dispute_id=job.dispute_id,
        status="pending",
        attempts=0,
        max_attempts=job.max_attempts,
        next_attempt_at=job.created_at,
        lease_expires_at=None,
        leased_by=None,
        last_error=None,
        result=None,
        created_at=job.created_at,
        finished_at=None,
    )
    session.add(row)
    return row


class JobRepository:
    """Jobs over the ledger's guarded sessions."""

    def __init__(self, sessions: GuardedSessions) -> None:
        self._sessions = sessions
        #: Called after a commit that wrote a job (wakes an in-process worker).
        self.listener: Callable[[], None] | None = None

    def _written(self) -> None:
        if self.listener is not None:
            self.listener()

    # Enqueue -------------------------------------------------------------------
    def enqueue(self, job: NewJob) -> bool:
        """Queue ``job`` on its own; False when the same kind and subject is queued already."""
        try:
            with self._sessions.begin() as session:
                add_job(session, job)
        except IntegrityError:
            return False
        self._written()
        return True

    # Work ----------------------------------------------------------------------
    def claim(
        self, worker: str, *, now: datetime, lease: timedelta, limit: int
    ) -> list[ClaimedJob]:
        """Lease up to ``limit`` due jobs, counting an attempt on each."""
        with self._sessions.begin() as session:
            taken = claim_due(
                session,
                _JOB_LEASES,
                worker=worker,
                now=now,
                lease=lease,
                limit=limit,
                values={"attempts": Job.attempts + 1},
            )
            if not taken:
                return []
            rows = session.scalars(
                select(Job).where(Job.job_id.in_(taken)).order_by(Job.next_attempt_at)
            ).all()
            return [
                ClaimedJob(
                    job_id=row.job_id,
                    kind=row.kind,
                    subject=row.subject,
                    payload=dict(row.payload),
                    attempts=row.attempts,
                    max_attempts=row.max_attempts,
                    dispute_id=row.dispute_id,
                )
                for row in rows
            ]

    def finish(
        self,
        job_id: str,
        *,
        status: str,
        result: dict[str, Any] | None,
        error: str | None,
        now: datetime,
    ) -> bool:
        """Move a pending job to ``done``, ``dead`` or ``cancelled``; False if it had moved.

        Any worker may finish a job (the work is idempotent): a worker whose lease ran out
        and the one that took over give one result, whichever commits first.
        """
        with self._sessions.begin() as session:
            moved = session.execute(
                update(Job)
                .where(Job.job_id == job_id, Job.status == "pending")
                .values(
                    status=status,
                    result=result,
                    last_error=(error or None) and error[:255],
                    finished_at=now,
                    lease_expires_at=None,
                    leased_by=None,
                )
                .execution_options(synchronize_session=False)
            )
            return getattr(moved, "rowcount", 0) == 1

    def extend_lease(self, job_id: str, worker: str, *, now: datetime, lease: timedelta) -> bool:
        """Keep a running job's lease (only while this worker still holds it); False if lost."""
        with self._sessions.begin() as session:
            kept = session.execute(
                update(Job)
                .where(Job.job_id == job_id, Job.status == "pending", Job.leased_by == worker)
                .values(lease_expires_at=now + lease)
                .execution_options(synchronize_session=False)
            )
            return getattr(kept, "rowcount", 0) == 1

    def retry(self, job_id: str, worker: str, *, error: str, at: datetime) -> None:
        """Release a failed attempt for another try at ``at`` (only while this worker holds it)."""
        with self._sessions.begin() as session:
            session.execute(
                update(Job)
                .where(Job.job_id == job_id, Job.status == "pending", Job.leased_by == worker)
                .values(
                    next_attempt_at=at,
                    last_error=error[:255],
                    lease_expires_at=None,
                    leased_by=None,
                )
                .execution_options(synchronize_session=False)
            )

    # Read ----------------------------------------------------------------------
    def get(self, kind: str, subject: str) -> Job | None:
        """The job of ``kind`` about ``subject``, or None."""
        with self._sessions() as session:
            return session.scalar(select(Job).where(Job.kind == kind, Job.subject == subject))

    def by_subject(self, kind: str, subjects: Iterable[str]) -> dict[str, Job]:
        """The jobs of ``kind`` about each of ``subjects`` (absent ones left out)."""
        wanted = sorted(set(subjects))
        if not wanted:
            return {}
        with self._sessions() as session:
            rows = session.scalars(select(Job).where(Job.kind == kind, Job.subject.in_(wanted)))
            return {row.subject: row for row in rows}

    def cancel(self, kind: str, subject: str, *, now: datetime) -> bool:
        """Cancel a pending job (its cause is gone); False if it had finished."""
        job = self.get(kind, subject)
        if job is None:
            return False
        return self.finish(
            job.job_id, status="cancelled", result={"outcome": "cancelled"}, error=None, now=now
        )

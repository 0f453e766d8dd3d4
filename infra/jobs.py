"""Background job workers: claim a due job, run its kind's handler, retry with backoff, dead-letter.

The loop is the webhook queue's (``infra.worker.drain``): ``orderseal serve`` runs it in a
thread (embedded, ``ORDERSEAL_JOBS_MODE=embedded``) and ``orderseal worker`` runs it beside
webhook delivery. Kinds are registered by the composition root (``orderseal.services``), so
this module knows no domain.

Handlers must be idempotent: a worker killed after its work but before ``finish`` leaves the
lease to expire, and another worker runs the job again. A claim counts an attempt; once
``max_attempts`` claims are used (a handler that raises each time, or an input that kills the
worker outright), the kind's ``dead`` hook settles what the job was about and the job is
``dead``, so nothing waits for it forever.

A running job keeps its lease by heartbeat (every third of the lease), so a verification
longer than the lease is not run a second time beside itself. The heartbeat stops at
``max_run``: a handler that hangs then loses its lease, and the job is claimed again and in
the end dead-lettered, instead of holding its row for ever.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.errors import OrderSealError
from infra.ledger.jobs import ClaimedJob, JobRepository
from infra.settings import Settings
from infra.worker import backoff, drain, worker_id

__all__ = ["JobKind", "JobRunner"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobKind:
    """What a kind of job does: ``run`` returns the stored result or raises to retry.

    ``dead(job, error)`` runs once the attempts are spent, before the job is marked dead; it
    must be idempotent too (a worker may die between the two). ``after(job)`` runs once the
    job is recorded done (best effort: what must happen belongs in ``run``).
    """

    name: str
    run: Callable[[ClaimedJob], dict[str, Any]]
    dead: Callable[[ClaimedJob, str], None] | None = None
    after: Callable[[ClaimedJob], None] | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class JobRunner:
    """Claims jobs one at a time (each may be a long verification) and runs them."""

    repository: JobRepository
    kinds: Mapping[str, JobKind]
    lease: timedelta = timedelta(minutes=5)
    #: The longest a job's lease is kept by heartbeat (a hung handler loses it after this).
    max_run: timedelta = timedelta(minutes=30)
    retry_base: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(minutes=5)
    poll_seconds: float = 1.0
    clock: Callable[[], datetime] = _utc_now
    worker_id: str = field(default_factory=worker_id)
    random: Callable[[], float] = random.random
    #: Called (from the heartbeat thread) when a job passes ``max_run``: its thread cannot be
    #: stopped from outside, so ``orderseal worker`` exits here and its supervisor restarts it
    #: (the job is claimed again elsewhere). None: the thread is left to finish or hang.
    on_run_limit: Callable[[ClaimedJob], None] | None = None
    _wake: threading.Event = field(default_factory=threading.Event, repr=False)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        repository: JobRepository,
        kinds: Mapping[str, JobKind],
        clock: Callable[[], datetime] = _utc_now,
    ) -> JobRunner:
        """A runner configured by ``ORDERSEAL_JOBS_*``."""
        return cls(
            repository=repository,
            kinds=kinds,
            lease=timedelta(seconds=settings.jobs_lease_seconds),
            max_run=timedelta(seconds=settings.jobs_max_run_seconds),
            retry_base=timedelta(seconds=settings.jobs_retry_base_seconds),
            retry_max=timedelta(seconds=settings.jobs_retry_max_seconds),
            poll_seconds=settings.jobs_poll_seconds,
            clock=clock,
        )

    def wake(self) -> None:
        """Look for due jobs now instead of at the next poll."""
        self._wake.set()

    def work(self, job: ClaimedJob) -> str:
        """Run one claimed job to its next state: ``done``, ``retry`` or ``dead``."""
        kind = self.kinds.get(job.kind)
        if kind is None:
            self._bury(job, None, "unknown_kind")
            return "dead"
        if job.attempts > job.max_attempts:
            # The previous claims never finished (the worker died on this input): no more.
            self._bury(job, kind, "attempts_exhausted")
            return "dead"
        try:
            with self._heartbeat(job):
                result = kind.run(job)
        except OrderSealError as exc:
            error = exc.code
        except Exception as exc:  # noqa: BLE001 - like the check runner: a job that crashes
            # on its input is retried, then dead-lettered; it must not stop the queue.
            _log.exception("job %s (%s) crashed", job.job_id, job.kind)
            error = f"crashed: {type(exc).__name__}"
        else:
            finished = self.repository.finish(
                job.job_id, status="done", result=result, error=None, now=self.clock()
            )
            if finished and kind.after is not None:
                kind.after(job)
            return "done"
        if job.attempts >= job.max_attempts:
            self._bury(job, kind, error)
            return "dead"
        delay = backoff(self.retry_base, self.retry_max, job.attempts, jitter=self.random())
        self.repository.retry(job.job_id, self.worker_id, error=error, at=self.clock() + delay)
        return "retry"

    @contextmanager
    def _heartbeat(self, job: ClaimedJob) -> Iterator[None]:
        """Extend ``job``'s lease while the block runs, up to ``max_run``."""
        done = threading.Event()
        interval = self.lease.total_seconds() / 3
        deadline = self.clock() + self.max_run

        def beat() -> None:
            while not done.wait(interval):
                now = self.clock()
                if now >= deadline:
                    _log.warning("job %s (%s) passed its run limit", job.job_id, job.kind)
                    if self.on_run_limit is not None:
                        self.on_run_limit(job)
                    return
                try:
                    if not self.repository.extend_lease(
                        job.job_id, self.worker_id, now=now, lease=self.lease
                    ):
                        return  # finished, cancelled or taken over: nothing left to keep
                except OrderSealError:
                    # A ledger outage: try again at the next beat (the lease has margin).
                    _log.warning("job %s lease heartbeat failed", job.job_id)

        beater = threading.Thread(target=beat, name=f"job-lease-{job.job_id}", daemon=True)
        beater.start()
        try:
            yield
        finally:
            done.set()
            beater.join()

    def _bury(self, job: ClaimedJob, kind: JobKind | None, error: str) -> None:
        if kind is not None and kind.dead is not None:
            kind.dead(job, error)
        if self.repository.finish(
            job.job_id, status="dead", result={"outcome": "dead"}, error=error, now=self.clock()
        ):
            _log.warning("job %s (%s) dead-lettered: %s", job.job_id, job.kind, error)

    def run_once(self) -> int:
        """Claim and run one due job; returns how many ran (0 or 1)."""
        claimed = self.repository.claim(self.worker_id, now=self.clock(), lease=self.lease, limit=1)
        for job in claimed:
            self.work(job)
        return len(claimed)

    def run(self, stop: threading.Event) -> None:
        """Run jobs until ``stop`` is set; a ledger outage pauses the loop, never ends it."""
        drain(self.run_once, stop, self._wake, poll_seconds=self.poll_seconds, name="job")

"""A running job keeps its lease by heartbeat, up to its run limit (SQLite ledger, real runner).

The adversary here is time, not a person: a verification of a long video outlasting the lease
must not be run a second time beside itself by another worker, and a handler that hangs must
not hold its job for ever.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.db import create_ledger_engine, create_schema, session_factory
from infra.jobs import JobKind, JobRunner
from infra.ledger.jobs import ClaimedJob, JobRepository, NewJob
from infra.ledger.sessions import GuardedSessions

LEASE = timedelta(seconds=0.3)


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[JobRepository]:
    engine = create_ledger_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    create_schema(engine)
    yield JobRepository(GuardedSessions(session_factory(engine)))
    engine.dispose()


def _enqueue(jobs: JobRepository) -> None:
    queued = jobs.enqueue(
        NewJob(
            kind="slow",
            subject="video:1",
            payload={},
            created_at=datetime.now(UTC),
            max_attempts=3,
        )
    )
    assert queued


def _runner(
    jobs: JobRepository, run: Any, *, max_run: timedelta = timedelta(minutes=5)
) -> JobRunner:
    return JobRunner(
        repository=jobs,
        kinds={"slow": JobKind(name="slow", run=run)},
        lease=LEASE,
        max_run=max_run,
    )


def test_a_job_longer_than_its_lease_is_not_claimed_by_another_worker(jobs: JobRepository) -> None:
    _enqueue(jobs)
    started, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow(job: ClaimedJob) -> dict[str, Any]:
        runs.append(job.job_id)
        started.set()
        release.wait(10)
        return {"outcome": "verified"}

    first = _runner(jobs, slow)
    worker = threading.Thread(target=first.run_once)
    worker.start()
    assert started.wait(10)
    other = _runner(jobs, slow)
    # Three leases long, another worker keeps finding nothing due.
    deadline = threading.Event()
    for _ in range(9):
        assert other.run_once() == 0
        deadline.wait(LEASE.total_seconds() / 3)
    release.set()
    worker.join(10)
    assert len(runs) == 1
    job = jobs.get("slow", "video:1")
    assert job is not None
    assert job.status == "done"
    assert job.attempts == 1


def test_a_hung_job_loses_its_lease_after_the_run_limit(jobs: JobRepository) -> None:
    _enqueue(jobs)
    hung, release = threading.Event(), threading.Event()

    def hangs(job: ClaimedJob) -> dict[str, Any]:
        hung.set()
        release.wait(10)
        return {"outcome": "late"}

    first = _runner(jobs, hangs, max_run=LEASE)
    limit_passed: list[str] = []
    first.on_run_limit = lambda job: limit_passed.append(job.job_id)
    worker = threading.Thread(target=first.run_once)
    worker.start()
    assert hung.wait(10)
    taken_over: list[int] = []

    def quick(job: ClaimedJob) -> dict[str, Any]:
        taken_over.append(job.attempts)
        return {"outcome": "verified"}

    other = _runner(jobs, quick)
    for _ in range(50):
        if other.run_once():
            break
        threading.Event().wait(0.1)
    release.set()
    worker.join(10)
    # The second worker ran it as the second attempt; the hung one's late finish changed nothing.
    assert taken_over == [2]
    # The hung runner was told once (orderseal worker exits there, to be restarted).
    assert len(limit_passed) == 1
    job = jobs.get("slow", "video:1")
    assert job is not None
    assert job.status == "done"
    assert job.result == {"outcome": "verified"}

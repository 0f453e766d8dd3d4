"""Background jobs on the real engine: ``orderseal worker`` processes and an embedded server.

- A worker SIGKILLed in the middle of verifying a large video: after its lease another worker
  runs the job again, and there is exactly one result (one re-decision, one verdict more).
- A file that kills every worker that takes it (each claim SIGKILLed): after its attempts the
  job is dead-lettered by the next worker without touching the file, which counts as
  ``check_crashed``; nothing stays pending.
- Embedded mode: ``orderseal serve`` alone (no worker) drains the queue in-process; a large
  file answers 202 and its verification arrives.

PostgreSQL (``FOR UPDATE SKIP LOCKED``) with ``ORDERSEAL_TEST_DATABASE=postgres``, else SQLite.
"""

from __future__ import annotations

import shutil
import time
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from bench.inputs import make_mp4
from infra.ledger.dispute_files import VERIFY_KIND
from infra.ledger.job_models import Job
from infra.ledger.jobs import attachment_subject
from infra.media import ReceivedFile, sha256_file
from infra.settings import Settings
from keys.store import DevelopmentCAWarning
from orderseal.bootstrap import initialize_home, load_credentials
from orderseal.services import Services, build_services
from orderseal.worker import EXIT_JOB_HUNG
from tests.conftest import free_port, make_settings
from tests.support.databases import fresh_database_url
from tests.support.servers import start_server
from tests.support.workers import start_worker, stop_worker


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """A fresh home where every file above 1 KiB is a job, run by workers only."""
    with fresh_database_url() as url:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DevelopmentCAWarning)
            initialize_home(Settings(home=tmp_path, database_url=url))
        yield make_settings(
            tmp_path,
            database_url=url,
            inline_verify_max_bytes=1024,
            jobs_mode="worker",
            webhook_delivery="worker",
            jobs_lease_seconds=2.0,
            jobs_poll_seconds=0.05,
            jobs_max_attempts=2,
            webhook_poll_seconds=0.2,
        )


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 150 MB H.264 MP4: its verification takes long enough to be killed in."""
    return make_mp4(tmp_path_factory.mktemp("video") / "unboxing.mp4", size_bytes=150 * 2**20)


def _attach(services: Services, dispute_id: str, video: Path, work: Path) -> Job:
    copy = work / f"upload-{dispute_id}.mp4"
    shutil.copyfile(video, copy)
    received = ReceivedFile(copy, copy.stat().st_size, sha256_file(copy))
    assert services.verifier.attach_queued(
        dispute_id, received, "unboxing.mp4", owner="platform-operator", now=services.clock()
    )
    (attachment,) = services.ledger.attachments(dispute_id)
    job = services.jobs.repository.get(VERIFY_KIND, attachment_subject(attachment.id))
    assert job is not None
    return job


def _job(services: Services, job: Job) -> Job:
    row = services.jobs.repository.get(job.kind, job.subject)
    assert row is not None
    return row


def _kill_once_claimed(services: Services, settings: Settings, job: Job, attempts: int) -> None:
    """Start a worker, SIGKILL it as soon as it holds ``job`` for the ``attempts``-th time."""
    worker = start_worker(settings)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = _job(services, job)
            if row.leased_by is not None and row.attempts == attempts:
                break
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            time.sleep(0.005)
        else:
            raise AssertionError("the worker never claimed the job")
    finally:
        worker.kill()
        worker.wait()
    row = _job(services, job)
    assert row.status == "pending", "the worker finished before it was killed"


def _wait_finished(services: Services, job: Job, *, timeout: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = _job(services, job)
        if row.status != "pending":
            return row
        time.sleep(0.05)
    raise AssertionError(f"job still pending: {_job(services, job).attempts} attempts")


def _dispute(services: Services, tag: str) -> str:
    dispute = services.verifier.file_dispute(
        order_id=f"ord-{tag}",
        buyer_id="buyer-1",
        claim_type="damaged",
        amount=Decimal("40.00"),
        currency="USD",
        now=services.clock(),
    )
    return dispute.dispute_id


_HANG_VERIFICATION = """
import threading
from verifier.file_jobs import FileVerification
FileVerification.run = lambda self, job: threading.Event().wait()
"""


def test_a_worker_whose_job_hangs_past_the_run_limit_exits_to_be_restarted(
    settings: Settings, video: Path, tmp_path: Path
) -> None:
    """A handler that outlives ``ORDERSEAL_JOBS_MAX_RUN_SECONDS`` cannot be stopped from
    outside: the worker exits with status 70 for its supervisor to restart, and the job stays
    pending for the next worker. The worker's verification handler is made to block for ever
    (a real video's verification can finish inside any short limit on a fast host)."""
    hung = settings.model_copy(update={"jobs_max_run_seconds": 0.5, "jobs_lease_seconds": 1.5})
    services = build_services(hung)
    job = _attach(services, _dispute(services, "hung"), video, tmp_path)
    worker = start_worker(hung, prologue=_HANG_VERIFICATION)
    try:
        status = worker.wait(timeout=120)
    finally:
        stop_worker(worker)
    assert status == EXIT_JOB_HUNG, worker.stderr.read() if worker.stderr else ""
    row = _job(services, job)
    assert (row.status, row.attempts) == ("pending", 1)


def test_a_worker_killed_mid_verification_is_replaced_and_one_result_stands(
    settings: Settings, video: Path, tmp_path: Path
) -> None:
    services = build_services(settings)
    dispute_id = _dispute(services, "killed")
    services.verifier.decide(dispute_id, now=services.clock())  # decided before the video
    job = _attach(services, dispute_id, video, tmp_path)

    _kill_once_claimed(services, settings, job, attempts=1)
    second = start_worker(settings)
    try:
        done = _wait_finished(services, job)
    finally:
        stop_worker(second)
    assert (done.status, done.attempts) == ("done", 2)
    assert done.result is not None
    assert (done.result["outcome"], done.result["redecided"]) == ("verified", True)
    (attachment,) = services.ledger.attachments(dispute_id)
    assert attachment.perceptual_hashes  # the sampled frames of the video
    assert attachment.content_sha256 == sha256_file(video)  # the stored bytes are intact
    with services.store.open_local(attachment.storage_key) as stored:
        assert sha256_file(stored) == attachment.content_sha256
    reasons = [v.change_reason for v in services.ledger.verdicts(dispute_id)]
    assert reasons == [None, "evidence_added"]


def test_a_file_that_kills_every_worker_is_dead_lettered_and_reviewed(
    settings: Settings, video: Path, tmp_path: Path
) -> None:
    services = build_services(settings)
    dispute_id = _dispute(services, "poison")
    job = _attach(services, dispute_id, video, tmp_path)
    for attempt in range(1, settings.jobs_max_attempts + 1):
        _kill_once_claimed(services, settings, job, attempts=attempt)
    survivor = start_worker(settings)
    try:
        dead = _wait_finished(services, job)
    finally:
        stop_worker(survivor)
    assert (dead.status, dead.last_error) == ("dead", "attempts_exhausted")
    assert services.verifier.pending_files(dispute_id) == []
    verdict = services.verifier.decide(dispute_id, now=services.clock())
    assert verdict.decision.value == "review"
    assert "check_crashed" in {r.code.value for r in verdict.reasons}


def test_embedded_server_drains_the_queue_in_process(tmp_path: Path, video: Path) -> None:
    with fresh_database_url() as url:
        settings = Settings(home=tmp_path, database_url=url, inline_verify_max_bytes=1024)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DevelopmentCAWarning)
            initialize_home(settings)
        keys = load_credentials(settings)
        server = start_server(settings, tmp_path / "serve.log", port=free_port())
        try:
            with httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {keys['platform']}"},
                timeout=120,
            ) as platform:
                dispute = platform.post(
                    "/v1/disputes",
                    json={
                        "order_id": "ord-embedded-job",
                        "buyer_id": "buyer-1",
                        "claim_type": "damaged",
                        "amount": "3.00",
                        "currency": "USD",
                    },
                ).json()
                files = f"/v1/disputes/{dispute['dispute_id']}/files"
                with video.open("rb") as body:
                    attached = platform.put(
                        files, content=body, headers={"X-OrderSeal-Filename": "unboxing.mp4"}
                    )
                assert attached.status_code == 202, attached.text
                assert attached.json()["verification"] == "pending"
                deadline = time.monotonic() + 60
                view = platform.get(f"/v1/disputes/{dispute['dispute_id']}").json()
                while view["pending_files"] and time.monotonic() < deadline:
                    time.sleep(0.1)
                    view = platform.get(f"/v1/disputes/{dispute['dispute_id']}").json()
                assert view["pending_files"] == []
                decided = platform.post(f"/v1/disputes/{dispute['dispute_id']}/decide")
                assert decided.status_code == 200, decided.text
                evidence = decided.json()["verdict"]["evidence"]
                assert [e["filename"] for e in evidence] == ["unboxing.mp4"]
        finally:
            server.kill()

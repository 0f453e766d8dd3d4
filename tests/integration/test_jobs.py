"""Large dispute files verified by a job (issue 16 §5), through the real app and ledger.

The honest path: a file above ``ORDERSEAL_INLINE_VERIFY_MAX_BYTES`` answers 202 pending,
``decide`` waits (409 ``verification_pending``), the job verifies it, and a decided dispute is
decided again with ``evidence_added``. Adversaries next to it:

- a platform flooding the queue with large files: bounded per dispute and per API key (429
  ``verification_queue_full``), refused before the body is stored;
- a file that kills its worker on every attempt: the job dead-letters after its attempts, the
  file counts as ``check_crashed`` (``review``), nothing stays pending;
- a worker dying mid-job: the job runs again after the lease, one result;
- detaching a file while its job is pending: the job finds nothing to do.

SQLite by default, PostgreSQL with ``ORDERSEAL_TEST_DATABASE=postgres``; the job runner is
driven one job at a time here (``jobs_mode=worker`` keeps the server's thread out), and
``tests/integration/test_job_workers.py`` runs real ``orderseal worker`` processes.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from capture.files import INLINE_THUMBNAIL_RENDERS
from capture.thumbnail_jobs import THUMBNAIL_KIND
from clients.client import APIError, PlatformClient
from infra.ledger.dispute_files import VERIFY_KIND
from infra.ledger.jobs import attachment_subject
from infra.ledger.webhook_models import WebhookEvent
from infra.settings import Settings
from orderseal.services import Services
from tests.conftest import make_settings
from tests.support import flows

DISPUTES = "/v1/disputes"


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    """Every file above 1 KiB is queued; two waiting per dispute, three per key."""
    return make_settings(
        module_home,
        database_url=database_url,
        inline_verify_max_bytes=1024,
        jobs_mode="worker",
        jobs_max_pending_per_dispute=2,
        jobs_max_pending_per_key=3,
        jobs_lease_seconds=1.0,
        **storage_overrides,
    )


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.fixture(scope="module")
def sealed(
    cast: flows.Actors, services: Services, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    work = tmp_path_factory.mktemp("jobs")
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    files = flows.receive(cast, shipped, work)
    _drain(services)  # their thumbnail jobs
    return files


def _dispute(cast: flows.Actors, order_id: str = "ord-jobs") -> str:
    body = {
        "order_id": order_id,
        "buyer_id": "buyer-1",
        "claim_type": "damaged",
        "amount": "12.00",
        "currency": "USD",
    }
    dispute_id: str = cast.platform.call("POST", DISPUTES, json=body)["dispute_id"]
    return dispute_id


def _attach(platform: PlatformClient, dispute_id: str, path: Path) -> tuple[int, dict[str, Any]]:
    response = platform.http.put(
        f"{DISPUTES}/{dispute_id}/files",
        content=path.read_bytes(),
        headers={"X-OrderSeal-Filename": path.name, "Content-Type": "application/octet-stream"},
    )
    return response.status_code, response.json()


def _view(platform: PlatformClient, dispute_id: str) -> dict[str, Any]:
    view: dict[str, Any] = platform.call("GET", f"{DISPUTES}/{dispute_id}")
    return view


def _code(call: Any) -> tuple[int, str]:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status, caught.value.code


def _drain(services: Services) -> int:
    ran = 0
    while services.jobs.run_once():
        ran += 1
    return ran


def _big(tmp_path: Path, name: str, size: int = 4096) -> Path:
    path = tmp_path / name
    path.write_bytes(name.encode() * (size // len(name) + 1))
    return path


def _job(services: Services, dispute_id: str, index: int = 0) -> Any:
    attachment = services.ledger.attachments(dispute_id)[index]
    return services.jobs.repository.get(VERIFY_KIND, attachment_subject(attachment.id))


def test_large_file_answers_202_then_the_job_verifies_and_decide_waits(
    cast: flows.Actors, services: Services, sealed: list[Path]
) -> None:
    platform = cast.platform
    dispute_id = _dispute(cast)
    status, body = _attach(platform, dispute_id, sealed[0])
    assert status == 202
    assert body["verification"] == "pending"
    assert body["attached"] is True
    assert _view(platform, dispute_id)["pending_files"] == [body["content_sha256"]]
    # The decision waits: a verdict that ignored the file could allow what it would block.
    assert _code(lambda: platform.decide(dispute_id)) == (409, "verification_pending")
    # The durable part is done: the bytes are stored and the row is there before the job.
    (row,) = services.ledger.attachments(dispute_id)
    assert row.manifest_id is None
    assert services.store.exists(row.storage_key)

    assert _drain(services) == 1
    (row,) = services.ledger.attachments(dispute_id)
    assert row.manifest_id is not None  # what attach reads inline for a small file
    job = _job(services, dispute_id)
    assert (job.status, job.result["outcome"], job.result["redecided"]) == (
        "done",
        "verified",
        False,
    )
    assert _view(platform, dispute_id)["pending_files"] == []
    decided = platform.decide(dispute_id)
    assert decided["verdict"] is not None
    assert [e["filename"] for e in decided["verdict"]["evidence"]] == [sealed[0].name]


def test_small_file_keeps_201_and_its_body(
    cast: flows.Actors, services: Services, tmp_path: Path
) -> None:
    dispute_id = _dispute(cast)
    small = tmp_path / "note.txt"
    small.write_bytes(b"a short note")
    status, body = _attach(cast.platform, dispute_id, small)
    assert status == 201
    assert set(body) == {"dispute_id", "attached", "content_sha256"}
    assert _job(services, dispute_id) is None


def test_a_decided_dispute_is_decided_again_by_the_job_once(
    cast: flows.Actors, services: Services, sealed: list[Path], tmp_path: Path
) -> None:
    platform = cast.platform
    dispute_id = _dispute(cast)
    first = platform.decide(dispute_id)
    assert first["verdict"] is not None
    status, _ = _attach(platform, dispute_id, _big(tmp_path, "late.bin"))
    assert status == 202
    # A worker claims the job and dies before finishing (its lease runs out).
    claimed = services.jobs.repository.claim(
        "killed-worker", now=services.clock(), lease=timedelta(seconds=1), limit=1
    )
    assert len(claimed) == 1
    assert services.jobs.run_once() == 0  # leased: nobody else runs it meanwhile
    time.sleep(1.1)
    assert _drain(services) == 1
    job = _job(services, dispute_id)
    assert (job.status, job.attempts, job.result["redecided"]) == ("done", 2, True)
    history = _view(platform, dispute_id)["history"]
    assert [h["change_reason"] for h in history] == [None, "evidence_added"]
    # The usual webhook: the re-decision is announced as a changed decision.
    with services.ledger._sessions() as session:
        kinds = [
            e.event_type
            for e in session.query(WebhookEvent).all()
            if dispute_id in e.body and e.event_type.startswith("dispute.")
        ]
    assert kinds == ["dispute.decided", "dispute.decision_changed"]
    # Running the same job again (a duplicate claim) gives no second verdict.
    services.jobs.work(replace(claimed[0], attempts=3))
    assert len(services.ledger.verdicts(dispute_id)) == 2


def test_an_agent_does_not_decide_over_a_file_still_being_verified(
    cast: flows.Actors,
    services: Services,
    tmp_path: Path,
    live_api: str,
    credentials: dict[str, str],
) -> None:
    """Adversary: a buyer (or a hurried agent) getting a review approved while the file that
    would block it is still being verified; the job's verdict would then only be history
    under the agent's decision."""
    agent = PlatformClient(live_api, credentials["agent"])
    dispute_id = _dispute(cast)
    assert cast.platform.decide(dispute_id)["decision"] == "review"
    assert _attach(cast.platform, dispute_id, _big(tmp_path, "pending.bin"))[0] == 202
    path = f"{DISPUTES}/{dispute_id}/agent-decision"
    approve = {"action": "approve", "note": "Looks fine."}
    assert _code(lambda: agent.call("POST", path, json=approve)) == (409, "verification_pending")
    assert len(services.ledger.verdicts(dispute_id)) == 1
    # Once the job has decided again with the file, the agent decides what is still review.
    assert _drain(services) == 1
    assert _view(cast.platform, dispute_id)["decision"] == "review"
    assert agent.call("POST", path, json=approve)["decision"] == "allow"


def test_two_large_files_on_a_decided_dispute_give_one_redecision_with_both(
    cast: flows.Actors, services: Services, tmp_path: Path
) -> None:
    platform = cast.platform
    _drain(services)
    dispute_id = _dispute(cast)
    platform.decide(dispute_id)
    for name in ("first.bin", "second.bin"):
        assert _attach(platform, dispute_id, _big(tmp_path, name))[0] == 202
    assert _drain(services) == 2
    first, second = (_job(services, dispute_id, index) for index in (0, 1))
    # The first job saw the second file pending and left the decision to its job.
    assert (first.result["redecided"], second.result["redecided"]) == (False, True)
    verdicts = services.ledger.verdicts(dispute_id)
    assert [v.change_reason for v in verdicts] == [None, "evidence_added"]
    latest = verdicts[-1].body["evidence"]
    assert sorted(e["filename"] for e in latest) == ["first.bin", "second.bin"]


def test_two_writers_deciding_at_once_append_one_redecision(
    cast: flows.Actors, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers of one dispute at once (two files' jobs finishing together, each deciding
    with both): while the job evaluates, the other writer's verdict lands. The job's write is
    refused as stale, so the history gets one re-decision with the file, not two."""
    platform = cast.platform
    _drain(services)
    dispute_id = _dispute(cast)
    platform.decide(dispute_id)
    assert _attach(platform, dispute_id, _big(tmp_path, "racing.bin"))[0] == 202
    attachment_id = services.ledger.attachments(dispute_id)[0].id
    evaluate = services.verifier.evaluate_dispute
    other_writer: list[str] = []

    def evaluate_while_another_writer_decides(dispute: str, **kwargs: Any) -> Any:
        verdict = evaluate(dispute, **kwargs)
        if not other_writer:
            other_writer.append("deciding")
            done = services.verifier.decide(
                dispute, now=services.clock(), settled={attachment_id: "verified"}
            )
            other_writer.append(done.decision.value)
        return verdict

    monkeypatch.setattr(
        services.verifier, "evaluate_dispute", evaluate_while_another_writer_decides
    )
    assert _drain(services) == 1
    assert other_writer[0] == "deciding"
    assert _job(services, dispute_id).result["redecided"] is False
    verdicts = services.ledger.verdicts(dispute_id)
    assert [v.change_reason for v in verdicts] == [None, "evidence_added"]
    assert [e["filename"] for e in verdicts[-1].body["evidence"]] == ["racing.bin"]


def test_flooding_the_queue_is_bounded_per_dispute_and_per_key(
    cast: flows.Actors, services: Services, tmp_path: Path
) -> None:
    platform = cast.platform
    _drain(services)
    dispute_id = _dispute(cast)
    for index in range(2):
        assert _attach(platform, dispute_id, _big(tmp_path, f"flood-{index}.bin"))[0] == 202
    status, body = _attach(platform, dispute_id, _big(tmp_path, "flood-2.bin"))
    assert (status, body["error"]["code"]) == (429, "verification_queue_full")
    assert len(services.ledger.attachments(dispute_id)) == 2
    # Another dispute of the same key: one more fits under the per-key bound of 3, then 429.
    other = _dispute(cast)
    assert _attach(platform, other, _big(tmp_path, "flood-3.bin"))[0] == 202
    status, body = _attach(platform, other, _big(tmp_path, "flood-4.bin"))
    assert (status, body["error"]["code"]) == (429, "verification_queue_full")
    # Small files are not queued work: still accepted.
    small = tmp_path / "ok.txt"
    small.write_bytes(b"fine")
    assert _attach(platform, other, small)[0] == 201
    # Once the queue drains, the platform may attach again.
    assert _drain(services) == 3
    assert _attach(platform, dispute_id, _big(tmp_path, "flood-2.bin"))[0] == 202
    _drain(services)


def test_a_file_that_kills_every_worker_dead_letters_and_is_reviewed(
    cast: flows.Actors, services: Services, sealed: list[Path], tmp_path: Path
) -> None:
    platform = cast.platform
    _drain(services)
    dispute_id = _dispute(cast)
    assert _attach(platform, dispute_id, _big(tmp_path, "poison.bin"))[0] == 202
    # Three workers in turn claim it and die on it (a claim counts an attempt).
    for attempt in range(1, 4):
        (claimed,) = services.jobs.repository.claim(
            f"doomed-{attempt}",
            now=services.clock() + timedelta(seconds=2 * attempt),
            lease=timedelta(seconds=1),
            limit=1,
        )
        assert claimed.attempts == attempt
    # The next claim finds its attempts spent: dead letter, without reading the file again.
    (claimed,) = services.jobs.repository.claim(
        "survivor",
        now=services.clock() + timedelta(seconds=10),
        lease=timedelta(seconds=60),
        limit=1,
    )
    assert services.jobs.work(claimed) == "dead"
    job = _job(services, dispute_id)
    assert (job.status, job.last_error) == ("dead", "attempts_exhausted")
    assert _view(platform, dispute_id)["pending_files"] == []
    decided = platform.decide(dispute_id)
    assert decided["decision"] == "review"
    assert "check_crashed" in flows.codes(dict(decided))


def test_detaching_while_the_job_is_pending(
    cast: flows.Actors, services: Services, tmp_path: Path
) -> None:
    platform = cast.platform
    _drain(services)
    dispute_id = _dispute(cast)
    status, body = _attach(platform, dispute_id, _big(tmp_path, "gone.bin"))
    assert status == 202
    job = _job(services, dispute_id)
    platform.call("DELETE", f"{DISPUTES}/{dispute_id}/files/{body['content_sha256']}")
    assert _view(platform, dispute_id)["pending_files"] == []
    assert _drain(services) <= 1
    after = services.jobs.repository.get(VERIFY_KIND, job.subject)
    assert after is not None
    assert after.status in {"done", "cancelled"}
    assert (after.result or {}).get("outcome") in {"detached", "cancelled"}
    assert services.ledger.verdicts(dispute_id) == []
    assert platform.call("POST", f"{DISPUTES}/{dispute_id}/decide")["decision"] is not None


def test_sealing_queues_the_thumbnail_and_the_route_serves_the_stored_one(
    cast: flows.Actors,
    services: Services,
    settings: Settings,
    live_api: str,
    credentials: dict[str, str],
    tmp_path: Path,
) -> None:
    order_id = flows.register_order(cast)
    evidence_id = flows.ship(cast, order_id, tmp_path).evidence[0]["evidence_id"]
    job = services.jobs.repository.get(THUMBNAIL_KIND, f"evidence:{evidence_id}")
    assert job is not None  # written with the evidence row
    assert job.status == "pending"
    path = f"/v1/evidence/{evidence_id}/thumbnail.jpg"
    agent = PlatformClient(live_api, credentials["agent"])
    # Before the job ran, the route makes it inline: an agent never waits on the queue.
    inline = agent.http.get(path)
    assert (inline.status_code, inline.content[:2]) == (200, b"\xff\xd8")
    assert _drain(services) == 1
    job = services.jobs.repository.get(THUMBNAIL_KIND, f"evidence:{evidence_id}")
    assert job is not None
    assert job.result is not None
    assert (job.status, job.result["outcome"]) == ("done", "stored")
    stored = b"".join(services.store.iter_bytes(job.result["storage_key"]))
    # Served from the store: the server's own inline cache is gone and stays gone.
    shutil.rmtree(settings.resolved_home / "thumbnails", ignore_errors=True)
    served = agent.http.get(path)
    assert (served.status_code, served.content) == (200, stored)
    assert not (settings.resolved_home / "thumbnails").exists()


def test_inline_thumbnails_are_bounded_per_process_until_the_job_runs(
    cast: flows.Actors,
    services: Services,
    live_api: str,
    credentials: dict[str, str],
    tmp_path: Path,
) -> None:
    """Adversary: an agent or merchant client asking at once for the thumbnails of many fresh
    files (their jobs not run yet), so that every request thread decodes a video. Past the
    inline render slots the answer is 503 ``thumbnail_busy`` with Retry-After, never a queue
    of decoders; once a slot is free (or the job ran) the thumbnail is served."""
    order_id = flows.register_order(cast)
    evidence_id = flows.ship(cast, order_id, tmp_path).evidence[0]["evidence_id"]
    path = f"/v1/evidence/{evidence_id}/thumbnail.jpg"
    agent = PlatformClient(live_api, credentials["agent"])
    slots = services.capture.files._inline_renders
    for _ in range(INLINE_THUMBNAIL_RENDERS):  # other requests hold every render slot
        assert slots.acquire(blocking=False)
    try:
        busy = agent.http.get(path)
        assert busy.status_code == 503
        assert busy.json()["error"]["code"] == "thumbnail_busy"
        assert busy.headers["Retry-After"].isdigit()
    finally:
        for _ in range(INLINE_THUMBNAIL_RENDERS):
            slots.release()
    served = agent.http.get(path)
    assert (served.status_code, served.content[:2]) == (200, b"\xff\xd8")

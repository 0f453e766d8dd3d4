"""``orderseal worker``: the webhook delivery and background job loops, for production.

They are the loops ``orderseal serve`` runs in threads (``ORDERSEAL_WEBHOOK_DELIVERY`` and
``ORDERSEAL_JOBS_MODE`` ``embedded``); any number of workers on any hosts share the queues
through the ledger (PostgreSQL ``FOR UPDATE SKIP LOCKED``). SIGTERM or SIGINT stops it after
the current attempt and job; a worker killed outright leaves its claims to expire, and
another worker takes them over.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

from infra.ledger.jobs import ClaimedJob
from infra.settings import Settings
from infra.worker import EmbeddedWorker
from orderseal.services import build_services

__all__ = ["EXIT_JOB_HUNG", "exit_on_hung_job", "run_worker"]

_log = logging.getLogger("orderseal.worker")

#: The worker's exit status when a job hung past ``ORDERSEAL_JOBS_MAX_RUN_SECONDS`` (EX_SOFTWARE).
EXIT_JOB_HUNG = 70


def exit_on_hung_job(job: ClaimedJob) -> None:
    """End the process: a hung handler's thread cannot be stopped, and left alone it keeps its
    CPU, memory and files for ever. The supervisor (systemd ``Restart=``, Kubernetes) starts a
    fresh worker; the job's lease has run out, so another worker claims it, counting an attempt,
    and an input that hangs every time is dead-lettered."""
    _log.critical(
        "job %s (%s) hung past its run limit: the worker exits (%d) to be restarted",
        job.job_id,
        job.kind,
        EXIT_JOB_HUNG,
    )
    logging.shutdown()
    os._exit(EXIT_JOB_HUNG)


def run_worker(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Deliver webhooks and run jobs until ``stop`` is set (or SIGTERM/SIGINT in main)."""
    services = build_services(settings)
    services.jobs.on_run_limit = exit_on_hung_job
    done = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def _stop(signum: int, _frame: FrameType | None) -> None:
            _log.info("webhook worker stopping (signal %s)", signum)
            done.set()
            services.dispatcher.wake()
            services.jobs.wake()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    _log.info("worker %s started", services.dispatcher.worker_id)
    # Jobs in a thread beside delivery: a long verification never delays a webhook.
    jobs = EmbeddedWorker(services.jobs, name="background-jobs")
    jobs.start()
    try:
        services.dispatcher.run(done)
    finally:
        jobs.stop(timeout=settings.jobs_lease_seconds)

"""Builds the long-lived service objects from settings (used by the app and the CLI)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from capture.context import CaptureContext
from capture.sealing.seal import Sealer
from capture.services import CaptureServices, build_capture_services
from capture.thumbnail_jobs import THUMBNAIL_KIND, ThumbnailJobs
from evidence.reader import TrustSettings
from infra.db import create_ledger_engine, create_schema, session_factory
from infra.jobs import JobKind, JobRunner
from infra.ledger.dispute_files import VERIFY_KIND, DisputeFiles
from infra.ledger.jobs import JobRepository, QueueBounds
from infra.ledger.repository import Ledger
from infra.ledger.sessions import GuardedSessions
from infra.secret_box import SecretBox
from infra.settings import Settings
from infra.storage.base import EvidenceStore
from infra.storage.local import LocalEvidenceStore
from infra.webhooks.delivery import Dispatcher, WebhookSigner
from infra.webhooks.service import WebhookService
from keys.publish import claim_signing_trust
from keys.store import KeyStore
from keys.webhooks import WEBHOOK_KEY_FILE, WebhookSigningKey, load_webhook_keys
from orderseal.signing import open_service_signer
from verifier.context import VerifierContext
from verifier.disputes import DisputeService, FileQueueing
from verifier.facts import FactGatherer
from verifier.file_jobs import FileVerification
from verifier.policy_file import default_policy, load_policy

__all__ = ["Services", "build_services", "utc_now"]

#: The HKDF purpose of the key that seals webhook endpoint secrets in the ledger.
WEBHOOK_SECRETS_PURPOSE = "webhook endpoint secrets"


def utc_now() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything a request handler or CLI command needs."""

    settings: Settings
    ledger: Ledger
    store: EvidenceStore
    keys: KeyStore
    capture: CaptureServices
    verifier: DisputeService
    token_secret: bytes
    webhooks: WebhookService
    dispatcher: Dispatcher
    #: Background jobs (large dispute files, thumbnails): run embedded or by orderseal worker.
    jobs: JobRunner
    clock: Callable[[], datetime] = field(default=utc_now)

    @property
    def work_dir(self) -> Path:
        """Where request bodies are received before they are sealed or judged."""
        return self.capture.work_dir


def _views(services: Services) -> tuple[CaptureContext, VerifierContext]:
    """Never called: mypy checks here that ``Services`` is each domain's typed view."""
    return services, services


def build_store(settings: Settings) -> EvidenceStore:
    """The configured evidence store."""
    if settings.storage == "s3":
        from infra.storage.s3 import S3EvidenceStore

        store = S3EvidenceStore.from_settings(
            settings.s3_endpoint_url or None,
            settings.s3_bucket,
            settings.s3_access_key or None,
            settings.s3_secret_key.get_secret_value() or None,
            settings.s3_region,
            object_lock_mode=settings.s3_object_lock_mode or None,
            retention_days=settings.s3_retention_days,
            multipart_threshold_bytes=settings.s3_multipart_threshold_bytes,
            tmp_dir=settings.resolved_home / "work",
        )
        store.ensure_bucket()
        return store
    return LocalEvidenceStore(settings.resolved_home / "evidence")


def build_services(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> Services:
    """Open the ledger, store and keys named by ``settings``.

    Raises:
        KeysError: the key folder is not initialised (run ``orderseal init``).
    """
    home = settings.resolved_home
    keys = KeyStore(home / "keys")
    engine = create_ledger_engine(settings.resolved_database_url)
    create_schema(engine)
    sessions = session_factory(engine)
    ledger = Ledger(sessions)
    job_sessions = GuardedSessions(sessions)
    dispute_files = DisputeFiles(job_sessions)
    job_repository = JobRepository(job_sessions)
    work_dir = home / "work"
    work_dir.mkdir(parents=True, exist_ok=True)
    store = build_store(settings)
    thumbnails = ThumbnailJobs(ledger=ledger, store=store, jobs=job_repository, work_dir=work_dir)
    trust = keys.trust_list()
    sealer = Sealer(
        signer=open_service_signer(settings, keys),
        trust_pem=trust.pem,
        tsa_url=settings.tsa_url or None,
    )
    token_secret = keys.token_secret()
    capture = build_capture_services(
        settings,
        ledger=ledger,
        store=store,
        keys=keys,
        sealer=sealer,
        work_dir=work_dir,
        token_secret=token_secret,
        revoked_service_serials=keys.revocations.service_serials,
        thumbnails=thumbnails,
    )
    facts = FactGatherer(
        ledger=ledger,
        # c2pa's own trust state already refuses device-chained claim signers this way; the
        # verifier still checks the signer's certificate itself (docs/security.md).
        trust=TrustSettings(anchors_pem=claim_signing_trust(keys).pem),
        revoked_service_certificates=keys.revocations.service_serials,
        sealing_certificates=keys.service_certificates,
        open_sealed=store.open_local,
    )
    verifier = DisputeService(
        facts=facts,
        store=store,
        audit_signer=sealer.signer,
        policy=load_policy(settings.policy_file) if settings.policy_file else default_policy(),
        queueing=FileQueueing(
            files=dispute_files,
            inline_max_bytes=settings.inline_verify_max_bytes,
            bounds=QueueBounds(
                per_dispute=settings.jobs_max_pending_per_dispute,
                per_owner=settings.jobs_max_pending_per_key,
            ),
            max_attempts=settings.jobs_max_attempts,
        ),
    )
    verification = FileVerification(disputes=verifier, files=dispute_files, clock=clock)
    jobs = JobRunner.from_settings(
        settings,
        repository=job_repository,
        kinds={
            VERIFY_KIND: JobKind(
                VERIFY_KIND, verification.run, verification.dead, verification.after
            ),
            THUMBNAIL_KIND: JobKind(THUMBNAIL_KIND, thumbnails.run),
        },
        clock=clock,
    )
    # A job written by this process wakes its own job thread at once (others poll).
    dispute_files.listener = jobs.wake
    job_repository.listener = jobs.wake
    ledger.job_listener = jobs.wake
    webhook_key = WebhookSigningKey.load_or_create(home / "keys" / WEBHOOK_KEY_FILE)

    def live_webhook_keys() -> tuple[WebhookSigningKey, ...]:
        # Read per use: `orderseal keys webhook rotate` counts at once in every process.
        return load_webhook_keys(home / "keys").live(clock())

    # Webhook secrets are sealed in the ledger under a key only keys/ can give (issue 16).
    webhook_secrets = SecretBox.derive(token_secret, purpose=WEBHOOK_SECRETS_PURPOSE)
    dispatcher = Dispatcher.from_settings(
        settings,
        repository=ledger.webhooks,
        signer=WebhookSigner(sign=webhook_key.sign, key_id=webhook_key.key_id),
        secret_box=webhook_secrets,
        clock=clock,
        signers=lambda: [WebhookSigner(k.sign, k.key_id) for k in live_webhook_keys()],
    )
    # A verdict or seal wakes this process's delivery thread at once (others poll).
    ledger.outbox_listener = dispatcher.wake
    webhooks = WebhookService(
        repository=ledger.webhooks,
        public_key_raw=webhook_key.public_key_raw,
        key_id=webhook_key.key_id,
        allow_private=settings.webhook_allow_private_targets,
        secret_overlap=timedelta(seconds=settings.webhook_secret_overlap_seconds),
        secret_box=webhook_secrets,
        wake=dispatcher.wake,
        live_keys=lambda: [(k.key_id, k.public_key_raw) for k in live_webhook_keys()],
    )
    return Services(
        settings=settings,
        webhooks=webhooks,
        dispatcher=dispatcher,
        jobs=jobs,
        ledger=ledger,
        store=store,
        keys=keys,
        capture=capture,
        verifier=verifier,
        token_secret=token_secret,
        clock=clock,
    )

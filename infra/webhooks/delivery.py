"""Delivery workers: claim due deliveries, sign and POST them, retry with backoff, dead-letter.

One loop (``infra.worker.drain``) serves both modes: ``orderseal serve`` runs it in a
background thread (embedded, SQLite or PostgreSQL) and ``orderseal worker`` runs it alone.
Every attempt signs afresh (new ``webhook-timestamp``) under the same ``webhook-id``;
receivers deduplicate on it.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from infra.errors import OrderSealError
from infra.ledger.webhooks import ClaimedDelivery, DeliveryOutcome, WebhookRepository
from infra.secret_box import SecretBox, SecretUnreadableError
from infra.settings import Settings
from infra.webhooks.targets import pin_target
from infra.worker import EmbeddedWorker, backoff, drain, worker_id
from wire.webhooks import sign_ed25519, sign_hmac, signature_header

__all__ = ["Dispatcher", "EmbeddedWorker", "RetryPolicy", "WebhookSigner"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookSigner:
    """The ed25519 ``v1a`` signer (``keys.webhooks.WebhookSigningKey.sign``) and its key id."""

    sign: Callable[[bytes], bytes]
    key_id: str


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded per delay and by a total window.

    Attempt ``n`` (1 = the first failure) waits ``base * 2**(n-1)``, at most ``max_delay``,
    times a random factor in [0.5, 1.5) so a receiver that comes back is not hit by every
    retry at once. Once the next try would fall past ``window`` from the event, the delivery
    is dead-lettered.
    """

    base: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(hours=6)
    window: timedelta = timedelta(days=3)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy the settings name."""
        return cls(
            base=timedelta(seconds=settings.webhook_retry_base_seconds),
            max_delay=timedelta(seconds=settings.webhook_retry_max_seconds),
            window=timedelta(seconds=settings.webhook_retry_window_seconds),
        )

    def delay(self, failures: int, *, jitter: float) -> timedelta:
        """The wait after ``failures`` failed attempts; ``jitter`` in [0, 1)."""
        return backoff(self.base, self.max_delay, failures, jitter=jitter)

    def next_attempt(
        self, failures: int, *, window_started_at: datetime, now: datetime, jitter: float
    ) -> datetime | None:
        """When to try again, or None: the retry window is spent (dead letter)."""
        at = now + self.delay(failures, jitter=jitter)
        if at > window_started_at + self.window:
            return None
        return at


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _outcome_name(outcome: DeliveryOutcome) -> str:
    if outcome.delivered:
        return "delivered"
    return "retry" if outcome.next_attempt_at is not None else "dead"


@dataclass
class Dispatcher:
    """Claims and sends deliveries; ``run`` loops until stopped, ``run_once`` does one batch."""

    repository: WebhookRepository
    signer: WebhookSigner
    retry: RetryPolicy
    #: Opens the endpoints' sealed ``whsec_`` secrets to sign ``v1`` with.
    secret_box: SecretBox
    timeout_seconds: float = 10.0
    poll_seconds: float = 1.0
    allow_private: bool = False
    batch: int = 10
    #: Trust anchors for the receivers' TLS certificates; None: the system's (production).
    tls_trust: ssl.SSLContext | None = None
    #: The live signing keys, current first, read at every attempt so a key rotation counts
    #: at once (during its overlap there are two); None: ``signer`` alone.
    signers: Callable[[], Sequence[WebhookSigner]] | None = None
    clock: Callable[[], datetime] = _utc_now
    worker_id: str = field(default_factory=worker_id)
    random: Callable[[], float] = random.random
    #: Told each attempt's outcome (``delivered``, ``retry``, ``dead``) and time in seconds:
    #: the app's metrics when delivery runs embedded.
    observer: Callable[[str, float], None] | None = None
    _wake: threading.Event = field(default_factory=threading.Event, repr=False)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        repository: WebhookRepository,
        signer: WebhookSigner,
        secret_box: SecretBox,
        clock: Callable[[], datetime] = _utc_now,
        signers: Callable[[], Sequence[WebhookSigner]] | None = None,
    ) -> Dispatcher:
        """A dispatcher configured by ``ORDERSEAL_WEBHOOK_*``."""
        return cls(
            repository=repository,
            signer=signer,
            retry=RetryPolicy.from_settings(settings),
            secret_box=secret_box,
            timeout_seconds=settings.webhook_timeout_seconds,
            poll_seconds=settings.webhook_poll_seconds,
            allow_private=settings.webhook_allow_private_targets,
            clock=clock,
            signers=signers,
        )

    @property
    def lease(self) -> timedelta:
        """How long a claim holds: a whole attempt plus margin, then another worker retries."""
        return timedelta(seconds=self.timeout_seconds * 2 + 1)

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll."""
        self._wake.set()

    def _open_secrets(self, delivery: ClaimedDelivery) -> list[str]:
        """The endpoint's secrets in the clear; one that does not open is left out.

        A secret edited in, or copied from another endpoint's row, does not open (the endpoint
        id is bound in): the delivery still carries its ``v1a`` signature, and the log says
        which endpoint to rotate (never the value).
        """
        opened: list[str] = []
        for stored in delivery.secrets:
            try:
                opened.append(self.secret_box.open(stored, context=delivery.endpoint_id))
            except SecretUnreadableError:
                _log.error(
                    "webhook endpoint %s has a secret that does not open: rotate it",
                    delivery.endpoint_id,
                    extra={"fields": {"code": SecretUnreadableError.code}},
                )
        return opened

    def headers(self, delivery: ClaimedDelivery, timestamp: int) -> dict[str, str]:
        """The Standard Webhooks headers for one attempt: each ``v1a`` first, then each ``v1``."""
        live = list(self.signers()) if self.signers is not None else [self.signer]
        signatures = [
            sign_ed25519(signer.sign, delivery.event_id, timestamp, delivery.body)
            for signer in live
        ]
        signatures += [
            sign_hmac(secret, delivery.event_id, timestamp, delivery.body)
            for secret in self._open_secrets(delivery)
        ]
        return {
            "content-type": "application/json",
            "user-agent": "OrderSeal-Webhooks/1",
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(signatures),
            "webhook-key-id": live[0].key_id,
        }

    def attempt(self, client: httpx.Client, delivery: ClaimedDelivery) -> DeliveryOutcome:
        """Send one delivery once and say what happened (never raises for the receiver's faults)."""
        started = self.clock()
        begin = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            # Resolved and checked once; the connection goes to exactly that address.
            target = pin_target(delivery.url, allow_private=self.allow_private)
            headers = self.headers(delivery, int(started.timestamp()))
            headers["host"] = target.host_header
            response = client.post(
                target.url,
                content=delivery.body,
                headers=headers,
                extensions={"sni_hostname": target.server_name} if target.server_name else None,
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"receiver answered {status}"
        except OrderSealError as exc:
            error = exc.code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        latency_ms = int((time.monotonic() - begin) * 1000)
        if error is None:
            return DeliveryOutcome(started, latency_ms, status, None, None, delivered=True)
        next_at = self.retry.next_attempt(
            delivery.attempts + 1,
            window_started_at=delivery.window_started_at,
            now=self.clock(),
            jitter=self.random(),
        )
        return DeliveryOutcome(started, latency_ms, status, error, next_at, delivered=False)

    def run_once(self, client: httpx.Client) -> int:
        """Claim one batch of due deliveries and send each; returns how many were sent."""
        claimed = self.repository.claim(
            self.worker_id, now=self.clock(), lease=self.lease, limit=self.batch
        )
        for delivery in claimed:
            outcome = self.attempt(client, delivery)
            self.repository.record(delivery.delivery_id, self.worker_id, outcome)
            if self.observer is not None:
                self.observer(_outcome_name(outcome), outcome.latency_ms / 1000)
            if outcome.delivered:
                _log.info("webhook %s delivered (%s)", delivery.delivery_id, outcome.status_code)
            elif outcome.next_attempt_at is None:
                _log.warning("webhook %s dead-lettered: %s", delivery.delivery_id, outcome.error)
        return len(claimed)

    def client(self) -> httpx.Client:
        """The HTTP client of one worker: no redirects (they could lead anywhere), no proxies."""
        return httpx.Client(
            timeout=self.timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            verify=self.tls_trust if self.tls_trust is not None else True,
        )

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; a ledger outage pauses the loop, never ends it."""
        with self.client() as client:
            drain(
                lambda: self.run_once(client),
                stop,
                self._wake,
                poll_seconds=self.poll_seconds,
                name="webhook",
            )

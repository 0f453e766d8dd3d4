"""Backoff schedule, claiming with leases, the outbox fan-out and dead letters (no HTTP)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.db import create_ledger_engine, create_schema, session_factory
from infra.errors import UnavailableError
from infra.ledger.repository import Ledger
from infra.ledger.webhook_models import WebhookEndpoint
from infra.ledger.webhooks import ClaimedDelivery, DeliveryOutcome
from infra.secret_box import SecretBox
from infra.webhooks.delivery import Dispatcher, RetryPolicy, WebhookSigner
from infra.webhooks.errors import WebhookURLError
from infra.webhooks.events import dispute_event, evidence_sealed_event
from infra.webhooks.targets import check_target
from wire.webhooks import new_secret

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BOX = SecretBox.derive(b"unit-test root secret 0123456789", purpose="webhook endpoint secrets")
POLICY = RetryPolicy(
    base=timedelta(seconds=5), max_delay=timedelta(hours=6), window=timedelta(days=3)
)


@pytest.mark.parametrize(
    ("failures", "nominal"),
    [
        pytest.param(1, timedelta(seconds=5), id="1st"),
        pytest.param(2, timedelta(seconds=10), id="2nd"),
        pytest.param(5, timedelta(seconds=80), id="5th"),
        pytest.param(30, timedelta(hours=6), id="capped"),
    ],
)
def test_delays_double_with_jitter_and_are_capped(failures: int, nominal: timedelta) -> None:
    assert POLICY.delay(failures, jitter=0.5) == nominal
    assert POLICY.delay(failures, jitter=0.0) == nominal / 2
    assert POLICY.delay(failures, jitter=0.999) < nominal * 1.5


def test_retries_stop_one_second_past_three_days() -> None:
    # jitter 0.5 = the nominal delay; the 30th failure waits 6 h.
    inside = T0 + timedelta(days=3) - timedelta(hours=6)
    assert POLICY.next_attempt(30, window_started_at=T0, now=inside, jitter=0.5) == T0 + timedelta(
        days=3
    )
    late = inside + timedelta(seconds=1)
    assert POLICY.next_attempt(30, window_started_at=T0, now=late, jitter=0.5) is None


def test_the_whole_schedule_spans_three_days_then_dead_letters() -> None:
    now, failures = T0, 0
    while True:
        failures += 1
        at = POLICY.next_attempt(failures, window_started_at=T0, now=now, jitter=0.5)
        if at is None:
            break
        now = at
    assert T0 + timedelta(days=2, hours=18) <= now <= T0 + timedelta(days=3)
    assert 15 <= failures <= 30


@pytest.mark.parametrize(
    ("url", "allow_private", "ok"),
    [
        pytest.param("https://93.184.215.14/hook", False, True, id="public-https"),
        pytest.param("http://93.184.215.14/hook", False, False, id="public-http"),
        pytest.param("https://127.0.0.1/hook", False, False, id="loopback"),
        pytest.param("https://10.0.0.8/hook", False, False, id="private"),
        pytest.param("https://[::1]/hook", False, False, id="loopback-v6"),
        pytest.param("http://127.0.0.1:9/hook", True, True, id="loopback-allowed"),
        pytest.param("http://169.254.169.254/latest", True, False, id="metadata-always"),
        pytest.param("http://[::ffff:169.254.169.254]/", True, False, id="mapped-metadata"),
        pytest.param("http://0.0.0.0/", True, False, id="unspecified"),
        # Other spellings of loopback and of the metadata host.
        pytest.param("https://2130706433/", False, False, id="decimal-loopback"),
        pytest.param("https://0x7f.1/", False, False, id="hex-loopback"),
        pytest.param("https://[::ffff:127.0.0.1]/", False, False, id="mapped-loopback"),
        pytest.param("https://[2002:7f00:1::]/", False, False, id="6to4-loopback"),
        pytest.param("http://[2002:a9fe:a9fe::]/", True, False, id="6to4-metadata-always"),
        pytest.param("https://[2002:5db8:d70e::]/", False, True, id="6to4-public"),
        pytest.param("https://user:pw@93.184.215.14/", False, False, id="credentials"),
        pytest.param("ftp://93.184.215.14/", True, False, id="scheme"),
    ],
)
def test_endpoint_urls_refused_against_ssrf(url: str, allow_private: bool, ok: bool) -> None:
    if ok:
        assert check_target(url, allow_private=allow_private) == url
        return
    with pytest.raises(WebhookURLError) as caught:
        check_target(url, allow_private=allow_private)
    assert caught.value.code == "webhook_url_invalid"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    engine = create_ledger_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    create_schema(engine)
    yield Ledger(session_factory(engine))
    engine.dispose()


def _endpoint(ledger: Ledger, endpoint_id: str, events: list[str] | None = None) -> None:
    ledger.webhooks.add_endpoint(
        WebhookEndpoint(
            endpoint_id=endpoint_id,
            owner="platform",
            url="http://127.0.0.1:9/hook",
            event_types=events,
            secret="whsec_" + "A" * 44,
            previous_secret=None,
            previous_expires_at=None,
            created_at=T0,
            deleted_at=None,
        )
    )


def _enqueue(ledger: Ledger) -> str:
    from infra.ledger.webhooks import add_outbox_events

    event = dispute_event(
        dispute_id="dp_1",
        order_id="ord_1",
        decision="allow",
        previous_decision=None,
        reason_codes=(),
        at=T0,
    )
    with ledger._sessions.begin() as session:
        add_outbox_events(session, [event])
    return event.event_id


def test_events_fan_out_to_subscribed_endpoints_only(ledger: Ledger) -> None:
    _endpoint(ledger, "we_all")
    _endpoint(ledger, "we_disputes", ["dispute.decided"])
    _endpoint(ledger, "we_sealed", ["evidence.sealed"])
    event_id = _enqueue(ledger)
    claimed = ledger.webhooks.claim("w1", now=T0, lease=timedelta(seconds=30), limit=10)
    assert sorted(c.url for c in claimed) == ["http://127.0.0.1:9/hook"] * 2
    assert {c.event_id for c in claimed} == {event_id}


def test_a_lease_keeps_others_off_until_one_second_after_it_expires(ledger: Ledger) -> None:
    _endpoint(ledger, "we_all")
    _enqueue(ledger)
    lease = timedelta(seconds=30)
    assert len(ledger.webhooks.claim("w1", now=T0, lease=lease, limit=10)) == 1
    # w1 was SIGKILLed mid-delivery: nobody else takes it while its lease runs...
    assert ledger.webhooks.claim("w2", now=T0 + lease, lease=lease, limit=10) == []
    # ...and w2 takes it one second after.
    again = ledger.webhooks.claim(
        "w2", now=T0 + lease + timedelta(seconds=1), lease=lease, limit=10
    )
    assert len(again) == 1


def test_a_failure_reschedules_and_the_window_end_dead_letters(ledger: Ledger) -> None:
    _endpoint(ledger, "we_all")
    _enqueue(ledger)
    lease = timedelta(seconds=30)
    (first,) = ledger.webhooks.claim("w1", now=T0, lease=lease, limit=10)
    retry_at = T0 + timedelta(seconds=5)
    ledger.webhooks.record(
        first.delivery_id,
        "w1",
        DeliveryOutcome(T0, 12, 503, "receiver answered 503", retry_at, False),
    )
    assert (
        ledger.webhooks.claim("w1", now=retry_at - timedelta(seconds=1), lease=lease, limit=10)
        == []
    )
    (second,) = ledger.webhooks.claim("w1", now=retry_at, lease=lease, limit=10)
    assert second.attempts == 1
    ledger.webhooks.record(
        second.delivery_id, "w1", DeliveryOutcome(retry_at, 3, None, "ConnectError", None, False)
    )
    row = ledger.webhooks.get_delivery(second.delivery_id)
    assert row is not None
    assert row.status == "dead"
    assert row.attempts == 2
    # An admin redelivers the dead letter: the same webhook-id, a fresh window.
    later = T0 + timedelta(days=4)
    found = ledger.webhooks.redeliver(second.delivery_id, now=later)
    assert found is not None
    assert found[1] == "dispute.decided"
    (third,) = ledger.webhooks.claim("w1", now=later, lease=lease, limit=10)
    assert third.event_id == first.event_id
    assert third.window_started_at == later


def test_a_worker_that_lost_its_lease_does_not_move_the_delivery(ledger: Ledger) -> None:
    _endpoint(ledger, "we_all")
    _enqueue(ledger)
    lease = timedelta(seconds=30)
    (mine,) = ledger.webhooks.claim("w1", now=T0, lease=lease, limit=10)
    late = T0 + lease + timedelta(seconds=1)
    ledger.webhooks.claim("w2", now=late, lease=lease, limit=10)
    ledger.webhooks.record(mine.delivery_id, "w1", DeliveryOutcome(T0, 1, 500, "x", late, False))
    row = ledger.webhooks.get_delivery(mine.delivery_id)
    assert row is not None
    assert row.leased_by == "w2"
    assert row.status == "pending"
    ledger.webhooks.record(mine.delivery_id, "w2", DeliveryOutcome(late, 1, 200, None, None, True))
    row = ledger.webhooks.get_delivery(mine.delivery_id)
    assert row is not None
    assert row.status == "delivered"
    log = ledger.webhooks.deliveries("we_all", limit=10)[0][2]
    assert [(a.attempt, a.worker) for a in log] == [(1, "w1"), (2, "w2")]


def test_event_bodies_carry_ids_and_codes_only() -> None:
    event = evidence_sealed_event(
        evidence_id="ev_1",
        order_id="ord_1",
        stage="receipt",
        media_type="image/jpeg",
        sealed_sha256="a" * 64,
        manifest_id="urn:c2pa:1",
        at=T0,
    )
    assert event.event_type == "evidence.sealed"
    assert '"device' not in event.body
    assert '"buyer' not in event.body
    changed = dispute_event(
        dispute_id="dp_1",
        order_id="ord_1",
        decision="block",
        previous_decision="allow",
        reason_codes=("content_tampered",),
        at=T0,
    )
    assert changed.event_type == "dispute.decision_changed"


class _FlakyRepository:
    """Fails the first claim with a bug and the second with an outage, then stops the loop."""

    def __init__(self, stop: threading.Event) -> None:
        self.calls = 0
        self.stop = stop

    def claim(self, worker: str, *, now: datetime, lease: timedelta, limit: int) -> list[object]:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("a bug in one batch")
        if self.calls == 2:
            raise UnavailableError("down", code="ledger_unavailable")
        self.stop.set()
        return []


def test_the_loop_survives_a_failing_batch_and_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    repository = _FlakyRepository(stop)
    dispatcher = Dispatcher(
        repository=repository,  # type: ignore[arg-type]
        signer=WebhookSigner(sign=lambda data: b"", key_id="whk_test"),
        retry=POLICY,
        secret_box=BOX,
        poll_seconds=0.01,
    )
    dispatcher.run(stop)
    assert repository.calls == 3
    assert "webhook worker batch failed" in caplog.text


def test_two_dispatchers_never_share_a_lease_id() -> None:
    signer = WebhookSigner(sign=lambda data: b"", key_id="whk_test")
    ids = {
        Dispatcher(repository=None, signer=signer, retry=POLICY, secret_box=BOX).worker_id  # type: ignore[arg-type]
        for _ in range(50)
    }
    assert len(ids) == 50


def _claimed(endpoint_id: str, *stored: str) -> ClaimedDelivery:
    return ClaimedDelivery(
        delivery_id="dlv_1",
        event_id="msg_1",
        endpoint_id=endpoint_id,
        body=b"{}",
        url="https://93.184.215.14/hook",
        secrets=stored,
        attempts=0,
        window_started_at=datetime(2026, 12, 2, tzinfo=UTC),
    )


def _versions(headers: dict[str, str]) -> list[str]:
    return [part.partition(",")[0] for part in headers["webhook-signature"].split()]


def test_sealed_secrets_sign_v1_and_a_secret_moved_from_another_endpoint_does_not() -> None:
    # A writer of the ledger copies endpoint A's sealed secret onto endpoint B: B's deliveries
    # carry the v1a signature only, so a receiver checking B's v1 secret refuses them.
    dispatcher = Dispatcher(
        repository=None,  # type: ignore[arg-type]
        signer=WebhookSigner(sign=lambda data: b"\0" * 64, key_id="whk_test"),
        retry=POLICY,
        secret_box=BOX,
    )
    own = BOX.seal(new_secret(b"\1" * 32), context="we_b")
    moved = BOX.seal(new_secret(b"\2" * 32), context="we_a")
    assert _versions(dispatcher.headers(_claimed("we_b", own), 1_800_000_000)) == ["v1a", "v1"]
    assert _versions(dispatcher.headers(_claimed("we_b", moved), 1_800_000_000)) == ["v1a"]
    # A secret stored before sealing existed still signs.
    legacy = new_secret(b"\3" * 32)
    assert _versions(dispatcher.headers(_claimed("we_b", legacy), 1_800_000_000)) == ["v1a", "v1"]

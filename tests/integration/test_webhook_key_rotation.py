"""``orderseal keys webhook rotate``: the old key signs beside the new one for the overlap.

Honest path: after a rotation with an overlap, ``GET /v1/trust/webhook-keys`` and the exported
trust bundle publish both keys, and every delivery carries a ``v1a`` under each, so a receiver
that knows only the old public key and one that fetched the new one both verify; the running
server and worker pick the rotation up with no restart. Adversary: someone holding a leaked
old key. A rotation with ``--overlap-hours 0`` stops it signing and publishing at once, so a
receiver that refreshes its keys no longer accepts anything under it.
"""

from __future__ import annotations

import time
import warnings
from decimal import Decimal
from pathlib import Path

import httpx

from infra.settings import Settings
from infra.webhooks.delivery import EmbeddedWorker
from keys.publish import webhook_keys
from keys.store import DevelopmentCAWarning
from orderseal.app import create_app
from orderseal.bootstrap import initialize_home
from orderseal.server import serve_in_thread
from orderseal.services import Services, build_services
from tests.conftest import make_settings
from tests.support.cli import run_main
from tests.support.webhook_receiver import Receiver


def _settings(home: Path) -> Settings:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DevelopmentCAWarning)
        initialize_home(Settings(home=home))
    return make_settings(
        home,
        webhook_allow_private_targets=True,
        webhook_delivery="worker",
        jobs_mode="worker",
        webhook_poll_seconds=0.05,
        webhook_retry_base_seconds=0.05,
    )


def _decide(services: Services, tag: str) -> None:
    dispute = services.verifier.file_dispute(
        order_id=f"ord-{tag}",
        buyer_id="buyer-1",
        claim_type="damaged",
        amount=Decimal("9.00"),
        currency="USD",
        now=services.clock(),
    )
    services.verifier.decide(dispute.dispute_id, now=services.clock())


def _receiver(services: Services, key: str) -> Receiver:
    receiver = Receiver(key=key).start()
    services.webhooks.create(
        owner="platform-operator", url=receiver.url, events=None, now=services.clock()
    )
    return receiver


def _published(base_url: str) -> list[str]:
    body = httpx.get(f"{base_url}/v1/trust/webhook-keys", timeout=10).json()
    return [key["public_key"] for key in body["keys"]]


def _wait_refused(receiver: Receiver) -> None:
    deadline = time.monotonic() + 30
    while not receiver.refused and time.monotonic() < deadline:
        time.sleep(0.05)
    assert receiver.refused, "the receiver was never refused a delivery"


def test_rotation_overlaps_both_keys_then_a_zero_overlap_drops_the_old(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    services = build_services(settings)
    worker = EmbeddedWorker(services.dispatcher)
    receivers: list[Receiver] = []
    with serve_in_thread(
        create_app(settings, services=services), host="127.0.0.1", port=settings.port
    ):
        try:
            (old,) = _published(settings.base_url)
            receivers.append(_receiver(services, old))
            worker.start()

            rotated = run_main(settings, "keys", "webhook", "rotate", "--overlap-hours", "1")
            assert rotated.returncode == 0, rotated.stdout + rotated.stderr
            new, previous = _published(settings.base_url)
            assert previous == old
            assert new != old
            exported = [k["public_key"] for k in webhook_keys(services.keys)["keys"]]
            assert exported == [new, old]
            receivers.append(_receiver(services, new))
            _decide(services, "overlap")
            # Both receivers verify the same deliveries: one signature under each key.
            for receiver in receivers:
                receiver.wait_for(1)
                assert receiver.refused == []

            # A leaked key: rotated out with no overlap, it neither signs nor is published.
            dropped = run_main(settings, "keys", "webhook", "rotate", "--overlap-hours", "0")
            assert dropped.returncode == 0, dropped.stdout + dropped.stderr
            (newest,) = _published(settings.base_url)
            assert newest not in (old, new)
            receivers.append(_receiver(services, newest))
            _decide(services, "dropped")
            receivers[2].wait_for(1)
            assert receivers[2].refused == []
            for stale in receivers[:2]:
                _wait_refused(stale)
                assert set(stale.refused) == {"webhook_invalid"}
        finally:
            worker.stop()
            for receiver in receivers:
                receiver.stop()

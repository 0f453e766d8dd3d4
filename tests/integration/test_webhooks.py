"""Verdict webhooks end to end: register an endpoint through the API, file and decide a
dispute, and receive dispute.decided on a real loopback receiver that checks the signature
with the SDK's verify_webhook (ed25519 v1a from the published key, and v1 HMAC)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.client import APIError, PlatformClient
from infra.ledger.webhooks import MAX_ENDPOINTS_PER_OWNER
from infra.secret_box import SEALED_PREFIX
from infra.settings import Settings
from infra.webhooks.delivery import EmbeddedWorker
from orderseal.services import Services
from tests.support.webhook_receiver import Receiver, loopback_webhook_settings


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    """The module's settings, with loopback receivers allowed and fast retries."""
    return loopback_webhook_settings(module_home, database_url, storage_overrides)


@pytest.fixture(scope="module")
def worker(services: Services) -> Iterator[EmbeddedWorker]:
    """The embedded delivery thread (the test server runs without a lifespan)."""
    running = EmbeddedWorker(services.dispatcher)
    running.start()
    yield running
    running.stop()


def _api(live_api: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=live_api, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _published_key(live_api: str) -> str:
    keys = httpx.get(f"{live_api}/v1/trust/webhook-keys", timeout=30).json()["keys"]
    assert [k["algorithm"] for k in keys] == ["ed25519"]
    key: str = keys[0]["public_key"]
    return key


def _file_and_decide(platform: httpx.Client, order_id: str) -> str:
    created = platform.post(
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": "buyer-1",
            "claim_type": "damaged",
            "amount": "10.00",
            "currency": "USD",
        },
    )
    assert created.status_code == 201, created.text
    dispute_id: str = created.json()["dispute_id"]
    decided = platform.post(f"/v1/disputes/{dispute_id}/decide")
    assert decided.status_code == 200, decided.text
    return dispute_id


def _settled_log(platform: httpx.Client, endpoint_id: str) -> list[dict[str, Any]]:
    """The endpoint's delivery log once no delivery is pending: the worker records an attempt
    after the receiver has answered, so the log may lag the receiver by a moment."""
    path = f"/v1/webhook-endpoints/{endpoint_id}/deliveries"
    deadline = time.monotonic() + 30
    log: list[dict[str, Any]] = platform.get(path).json()["items"]
    while any(d["status"] == "pending" for d in log) and time.monotonic() < deadline:
        time.sleep(0.05)
        log = platform.get(path).json()["items"]
    return log


def test_a_decided_dispute_arrives_signed_at_a_real_receiver(
    live_api: str, credentials: dict[str, str], worker: EmbeddedWorker
) -> None:
    key = _published_key(live_api)
    receiver = Receiver(key=key).start()
    try:
        with _api(live_api, credentials["platform"]) as platform:
            created = platform.post(
                "/v1/webhook-endpoints",
                json={
                    "url": receiver.url,
                    "events": ["dispute.decided", "dispute.decision_changed"],
                },
            )
            assert created.status_code == 201, created.text
            endpoint = created.json()
            assert endpoint["secret"].startswith("whsec_")
            receiver.secret = endpoint["secret"]
            listed = platform.get("/v1/webhook-endpoints").json()["items"]
            assert [e["endpoint_id"] for e in listed] == [endpoint["endpoint_id"]]
            assert "secret" not in listed[0]

            dispute_id = _file_and_decide(platform, "ord-webhook-1")
            (event,) = receiver.wait_for(1)
            assert event.type == "dispute.decided"
            assert event.data["dispute_id"] == dispute_id
            assert event.data["previous_decision"] is None
            assert event.webhook_id.startswith("msg_")

            # A re-decision is dispute.decision_changed, naming the previous decision.
            again = platform.post(f"/v1/disputes/{dispute_id}/decide")
            assert again.status_code == 200, again.text
            second = receiver.wait_for(2)[1]
            assert second.type == "dispute.decision_changed"
            assert second.data["previous_decision"] == event.data["decision"]
            assert second.webhook_id != event.webhook_id

            # The delivery log: delivered, one attempt each, latency recorded.
            log = _settled_log(platform, endpoint["endpoint_id"])
            assert {(d["status"], d["attempts"]) for d in log} == {("delivered", 1)}
            assert {d["webhook_id"] for d in log} == {event.webhook_id, second.webhook_id}
            assert all(d["log"][0]["status_code"] == 200 for d in log)
        assert receiver.refused == []
    finally:
        receiver.stop()


def test_rotation_signs_with_both_secrets_and_admin_redelivers_with_the_same_id(
    live_api: str, credentials: dict[str, str], worker: EmbeddedWorker
) -> None:
    key = _published_key(live_api)
    receiver = Receiver(key=key).start()
    try:
        with _api(live_api, credentials["platform"]) as platform:
            endpoint = platform.post("/v1/webhook-endpoints", json={"url": receiver.url}).json()
            old = endpoint["secret"]
            rotated = platform.post(
                f"/v1/webhook-endpoints/{endpoint['endpoint_id']}/rotate-secret"
            ).json()
            assert rotated["secret"] != old
            assert rotated["previous_secret_expires_at"]
            # A receiver still on the old secret keeps verifying during the overlap.
            receiver.secret, receiver.key = old, "whpk_" + "A" * 43 + "="
            _file_and_decide(platform, "ord-webhook-2")
            (event,) = [e for e in receiver.wait_for(1) if e.type == "dispute.decided"]
            log = _settled_log(platform, endpoint["endpoint_id"])
            delivery_id = log[0]["delivery_id"]
        with _api(live_api, credentials["admin"]) as admin:
            redone = admin.post(f"/v1/webhook-deliveries/{delivery_id}/redeliver")
            assert redone.status_code == 200, redone.text
            assert redone.json()["webhook_id"] == event.webhook_id
        duplicate = receiver.wait_for(2)[1]
        assert duplicate.webhook_id == event.webhook_id
        with _api(live_api, credentials["platform"]) as platform:
            gone = platform.delete(f"/v1/webhook-endpoints/{endpoint['endpoint_id']}")
            assert gone.status_code == 204
            again = platform.delete(f"/v1/webhook-endpoints/{endpoint['endpoint_id']}")
            assert again.json()["error"]["code"] == "webhook_endpoint_not_found"
    finally:
        receiver.stop()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://169.254.169.254/latest/meta-data", id="metadata"),
        pytest.param("ftp://127.0.0.1/", id="scheme"),
        pytest.param("http://0.0.0.0:80/", id="unspecified"),
    ],
)
def test_ssrf_targets_are_refused_at_registration(
    live_api: str, credentials: dict[str, str], url: str
) -> None:
    with _api(live_api, credentials["platform"]) as platform:
        response = platform.post("/v1/webhook-endpoints", json={"url": url})
    assert (response.status_code, response.json()["error"]["code"]) == (
        422,
        "webhook_url_invalid",
    )


def test_the_sdk_manages_endpoints_and_verifies_what_they_receive(
    live_api: str, credentials: dict[str, str], worker: EmbeddedWorker
) -> None:
    platform = PlatformClient(live_api, credentials["platform"])
    receiver = Receiver(key=_published_key(live_api)).start()
    try:
        endpoint = platform.create_webhook_endpoint(receiver.url, events=["dispute.decided"])
        receiver.secret = endpoint["secret"]
        listed = platform.webhook_endpoints()["items"]
        assert endpoint["endpoint_id"] in {e["endpoint_id"] for e in listed}
        with _api(live_api, credentials["platform"]) as raw:
            dispute_id = _file_and_decide(raw, "ord-webhook-sdk")
        event = next(e for e in receiver.wait_for(1) if e.data["dispute_id"] == dispute_id)
        with _api(live_api, credentials["platform"]) as raw:
            _settled_log(raw, endpoint["endpoint_id"])
        log = platform.webhook_deliveries(endpoint["endpoint_id"])["items"]
        assert [d["webhook_id"] for d in log] == [event.webhook_id]
        rotated = platform.rotate_webhook_secret(endpoint["endpoint_id"])
        assert rotated["secret"] != endpoint["secret"]
        again = PlatformClient(live_api, credentials["admin"]).redeliver_webhook(
            log[0]["delivery_id"]
        )
        assert again["webhook_id"] == event.webhook_id
        platform.delete_webhook_endpoint(endpoint["endpoint_id"])
        with pytest.raises(APIError) as gone:
            platform.delete_webhook_endpoint(endpoint["endpoint_id"])
        assert gone.value.code == "webhook_endpoint_not_found"
    finally:
        receiver.stop()


def test_the_ledger_keeps_endpoint_secrets_sealed(
    live_api: str, credentials: dict[str, str], services: Services
) -> None:
    # A reader of the ledger alone (a dump, a backup, a read-only SQL account) finds no secret.
    owner = services.ledger.api_keys.find(credentials["platform"])
    assert owner is not None
    with _api(live_api, credentials["platform"]) as platform:
        created = platform.post(
            "/v1/webhook-endpoints", json={"url": "https://93.184.215.14/sealed"}
        )
        assert created.status_code == 201, created.text
        endpoint_id, first = created.json()["endpoint_id"], created.json()["secret"]
        rotated = platform.post(f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret")
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()["secret"]
    row = services.ledger.webhooks.get_endpoint(endpoint_id, owner.subject)
    assert row is not None
    assert row.previous_secret is not None
    stored = (row.secret, row.previous_secret)
    assert all(value.startswith(SEALED_PREFIX) for value in stored)
    assert not any(secret in value for secret in (first, second) for value in stored)
    assert "whsec_" not in "".join(stored)
    # The service itself opens them: the current secret and the one in its overlap window.
    box = services.dispatcher.secret_box
    assert box.open(row.secret, context=endpoint_id) == second
    assert box.open(row.previous_secret, context=endpoint_id) == first


def test_live_endpoints_per_subject_are_bounded(live_api: str, services: Services) -> None:
    """Adversary: a platform key registering endpoints in a loop, so that every verdict is
    delivered (signed, retried for days) once per endpoint."""
    key = services.ledger.api_keys.issue(
        role="platform", subject="endpoint-flooder", now=services.clock()
    ).secret
    url = "http://127.0.0.1:9/hook"
    with _api(live_api, key) as platform:
        made = [platform.post("/v1/webhook-endpoints", json={"url": url}) for _ in range(20)]
        assert [r.status_code for r in made] == [201] * MAX_ENDPOINTS_PER_OWNER
        refused = platform.post("/v1/webhook-endpoints", json={"url": url})
        assert (refused.status_code, refused.json()["error"]["code"]) == (
            409,
            "webhook_endpoint_limit_reached",
        )
        # Deleting one frees its place.
        gone = platform.delete(f"/v1/webhook-endpoints/{made[0].json()['endpoint_id']}")
        assert gone.is_success
        assert platform.post("/v1/webhook-endpoints", json={"url": url}).status_code == 201

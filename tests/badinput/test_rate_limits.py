"""Per-credential rate limits: 429 ``rate_limited`` with Retry-After, one caller never slows
another, and the Redis-backed limiter shares one budget between workers (real Redis)."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clients.client import APIError
from infra.errors import UnavailableError
from infra.ratelimit import Limit, MemoryLimiter, RedisLimiter
from infra.settings import Settings
from orderseal.samples import make_jpeg
from tests.conftest import free_port, make_settings
from tests.support import flows
from tests.support.require import missing

SESSIONS_PER_MINUTE = 30
BURST = 5


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    return make_settings(
        module_home,
        database_url=database_url,
        rate_limit_sessions_per_minute=SESSIONS_PER_MINUTE,
        rate_limit_burst=BURST,
        **storage_overrides,
    )


def test_memory_bucket_refills_at_the_configured_rate() -> None:
    now = [1000.0]
    limiter = MemoryLimiter(clock=lambda: now[0])
    limit = Limit(per_minute=60, burst=2)
    assert limiter.take("k", limit) == 0
    assert limiter.take("k", limit) == 0
    assert limiter.take("k", limit) == pytest.approx(1.0)
    assert limiter.take("other", limit) == 0
    now[0] += 1.0
    assert limiter.take("k", limit) == 0


def _open(base_url: str, token: str, label: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/receipt-sessions",
        json={"token": label},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_a_flood_from_one_buyer_does_not_slow_another(
    live_api: str, credentials: dict[str, str], tmp_path: Path
) -> None:
    a = flows.actors(live_api, credentials)
    b = flows.actors(live_api, credentials)
    label_a = flows.ship(a, flows.register_order(a), tmp_path).label_token
    label_b = flows.ship(b, flows.register_order(b), tmp_path).label_token
    token_a = flows.buyer_token_response(a.platform, a.buyer_id)["token"]
    token_b = flows.buyer_token_response(b.platform, b.buyer_id)["token"]

    statuses: list[int] = []
    refused: list[httpx.Response] = []
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            response = _open(live_api, token_a, label_a)
            statuses.append(response.status_code)
            if response.status_code == 429:
                refused.append(response)

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        latencies = []
        for _ in range(BURST):
            started = time.monotonic()
            response = _open(live_api, token_b, label_b)
            latencies.append(time.monotonic() - started)
            assert response.status_code == 201, response.text
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert statuses.count(201) <= BURST + 2  # the burst plus what refilled meanwhile
    assert len(refused) > 10
    error = refused[0].json()["error"]
    assert error["code"] == "rate_limited"
    assert int(refused[0].headers["Retry-After"]) >= 1
    assert max(latencies) < 2.0


def test_other_actions_have_their_own_budget(
    live_api: str, credentials: dict[str, str], tmp_path: Path
) -> None:
    """Sessions exhausted for one station: its uploads and another station still work."""
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    sessions = [cast.station.open_session(order_id) for _ in range(BURST)]
    with pytest.raises(APIError) as caught:
        cast.station.open_session(order_id)
    assert (caught.value.status, caught.value.code) == (429, "rate_limited")
    photo = make_jpeg(tmp_path / "p.jpg", seed=4, size=(96, 72))
    assert cast.station.upload(sessions[0], photo, title="p.jpg")["replayed"] is False
    other = flows.actors(live_api, credentials)
    assert other.station.open_session(order_id)["order_id"] == order_id


# Redis: one budget for every worker ----------------------------------------------------------
def _reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis on 6379, else a throwaway ``redis-server`` (Debian package)."""
    if _reachable(6379):
        yield "redis://127.0.0.1:6379/0"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        missing("expected Redis on 127.0.0.1:6379 or the redis-server binary (redis-server)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _reachable(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_redis_limiter_shares_one_budget_between_workers(redis_url: str) -> None:
    prefix = f"orderseal-test:{secrets.token_hex(6)}:"
    worker_1 = RedisLimiter(redis_url, prefix=prefix)
    worker_2 = RedisLimiter(redis_url, prefix=prefix)
    limit = Limit(per_minute=60, burst=3)
    granted = [worker.take("uploads:buyer:b1", limit) for worker in (worker_1, worker_2) * 2]
    assert granted[:3] == [0, 0, 0]
    assert 0 < granted[3] <= 1.0
    assert worker_2.take("uploads:buyer:b2", limit) == 0
    time.sleep(1.05)
    assert worker_1.take("uploads:buyer:b1", limit) == 0


def test_redis_outage_is_a_retryable_error() -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(UnavailableError) as caught:
        limiter.take("k", Limit(per_minute=60, burst=1))
    assert caught.value.code == "rate_limiter_unavailable"

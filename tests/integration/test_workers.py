"""Two server processes on one PostgreSQL and one SeaweedFS; a worker killed mid-upload."""

from __future__ import annotations

import os
import signal
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import create_engine, select

from clients.client import StationClient
from infra.ledger.models import Evidence
from infra.media import sha256_file
from infra.settings import Settings
from keys.store import DevelopmentCAWarning
from orderseal.bootstrap import initialize_home, load_credentials
from orderseal.services import build_store
from tests.conftest import free_port
from tests.support import flows
from tests.support.databases import fresh_database_url
from tests.support.seaweed import SeaweedS3
from tests.support.servers import Server, start_server


def _start(settings: Settings, log: Path) -> Server:
    return start_server(settings, log, port=free_port())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, list[Server]]]:
    home = tmp_path_factory.mktemp("cluster")
    with fresh_database_url(postgres=True) as url, SeaweedS3() as s3:
        settings = Settings(
            home=home,
            database_url=url,
            storage="s3",
            s3_endpoint_url=s3.endpoint_url,
            s3_bucket="evidence-cluster",
            s3_access_key=s3.access_key,
            s3_secret_key=s3.secret_key,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DevelopmentCAWarning)
            initialize_home(settings)
        servers = [_start(settings, home / f"server-{i}.log") for i in range(2)]
        try:
            yield settings, servers
        finally:
            for server in servers:
                server.kill()


def test_two_servers_share_ledger_and_storage(
    cluster: tuple[Settings, list[Server]], tmp_path: Path
) -> None:
    settings, servers = cluster
    credentials = load_credentials(settings)
    casts = [flows.actors(server.url, credentials) for server in servers]

    def one_order(index: int) -> str:
        cast = casts[index % 2]
        other = casts[(index + 1) % 2]
        order_id = flows.register_order(cast)
        shipped = flows.ship(cast, order_id, tmp_path)
        # The receipt goes through the other server: state lives only in the shared services.
        receiver = flows.Actors(
            other.base_url, other.platform, other.station, cast.buyer_device, cast.buyer_id
        )
        files = flows.receive(receiver, shipped, tmp_path)
        decided = flows.dispute(receiver, order_id, files)
        return str(decided["verdict"]["decision"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        decisions = list(pool.map(one_order, range(6)))
    assert decisions == ["allow"] * 6

    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(Evidence.storage_key, Evidence.sealed_sha256)).all()
    engine.dispose()
    assert len(rows) == 12  # one shipment and one receipt photo per order, nothing twice
    store = build_store(settings)
    for key, sealed_sha in rows:
        with store.open_local(key) as path:
            assert sha256_file(path) == sealed_sha


def _slow_body(path: Path, chunk: int = 256 * 1024) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while data := handle.read(chunk):
            yield data
            time.sleep(0.02)


def test_worker_killed_during_upload_leaves_nothing_half_written(
    cluster: tuple[Settings, list[Server]], tmp_path: Path
) -> None:
    settings, servers = cluster
    credentials = load_credentials(settings)
    victim = servers[0]
    cast = flows.actors(victim.url, credentials)
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    big = tmp_path / "big.jpg"
    noise = Image.frombytes("RGB", (2000, 2000), os.urandom(2000 * 2000 * 3))
    noise.save(big, format="JPEG", quality=95)

    # Stream the body slowly by hand so the kill lands mid-upload.
    statement, signature, digest = cast.station.device.attest(
        order_id=order_id, session_id=session["session_id"], stage="shipment", path=big
    )
    url = f"/v1/shipment-sessions/{session['session_id']}/evidence"
    headers = cast.station.signed_headers("PUT", url, digest)
    headers.update(
        {
            "X-OrderSeal-Content-SHA256": digest,
            "X-OrderSeal-Statement": statement,
            "X-OrderSeal-Statement-Signature": signature,
            "Idempotency-Key": "kill-1",
            "Content-Length": str(big.stat().st_size),
        }
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(
            httpx.put, f"{victim.url}{url}", content=_slow_body(big), headers=headers, timeout=60
        )
        time.sleep(0.3)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        with pytest.raises(httpx.TransportError):
            pending.result(timeout=60)

    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Evidence.evidence_id).where(Evidence.order_id == order_id)
        ).all()
    engine.dispose()
    assert rows == []

    servers[0] = _start(settings, tmp_path / "restarted.log")
    retry = StationClient(servers[0].url, cast.station.device)
    first = retry.upload(session, big, title="big.jpg", idempotency_key="kill-1")
    second = retry.upload(session, big, title="big.jpg", idempotency_key="kill-1")
    assert second["evidence_id"] == first["evidence_id"]
    assert second["replayed"] is True

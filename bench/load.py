"""The HTTP service under concurrent load: a server started here, a bounded async client.

The server is ``orderseal serve`` (SQLite, local store) on a free 127.0.0.1 port with its own
``ORDERSEAL_HOME``; the client is httpx's ``AsyncClient`` with at most ``concurrency``
requests in flight. Seals go through a station's shipment session (signed requests,
attested captures); verdicts through the public ``POST /verify``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from clients.client import DeviceKey, PlatformClient, StationClient

__all__ = ["LoadResult", "run_http_benchmark"]

_ORDERSEAL = Path(sys.executable).with_name("orderseal")


@dataclass(frozen=True)
class LoadResult:
    """Throughput and latency of one load run."""

    requests: int
    concurrency: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return self.__dict__.copy()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _workers_supported() -> bool:
    result = subprocess.run(  # noqa: S603 - our own console script
        [str(_ORDERSEAL), "serve", "--help"], capture_output=True, text=True, check=False
    )
    return "--workers" in result.stdout


# Capacity is measured, not abuse protection: the per-credential limits and the per-address
# public upload slots would turn a single-client load generator's requests into 429s.
_NO_RATE_LIMITS = {
    "ORDERSEAL_RATE_LIMIT_SESSIONS_PER_MINUTE": "0",
    "ORDERSEAL_RATE_LIMIT_UPLOADS_PER_MINUTE": "0",
    "ORDERSEAL_RATE_LIMIT_DISPUTES_PER_MINUTE": "0",
    "ORDERSEAL_PUBLIC_UPLOADS_MAX_CONCURRENT": "1024",
    "ORDERSEAL_PUBLIC_UPLOADS_MAX_PER_CLIENT": "1024",
}


@contextmanager
def _server(
    home: Path, workers: int, backend_env: dict[str, str]
) -> Iterator[tuple[str, dict[str, str]]]:
    env = {**os.environ, **_NO_RATE_LIMITS, **backend_env, "ORDERSEAL_HOME": str(home)}
    subprocess.run(  # noqa: S603
        [str(_ORDERSEAL), "init"], env=env, check=True, capture_output=True
    )
    port = _free_port()
    args = [str(_ORDERSEAL), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        args += ["--workers", str(workers)]
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited; see {home / 'server.log'}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /healthz within 60 s")
            time.sleep(0.1)
        credentials = json.loads((home / "credentials.json").read_text())
        yield base_url, {str(k): str(v) for k, v in credentials.items()}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _station_session(base_url: str, credentials: dict[str, str]) -> tuple[StationClient, str, str]:
    admin = PlatformClient(base_url, credentials["admin"])
    platform = PlatformClient(base_url, credentials["platform"])
    device = DeviceKey.generate(f"station-bench-{secrets.token_hex(3)}")
    admin.call(
        "POST",
        "/v1/devices",
        json={
            "device_id": device.device_id,
            "kind": "station",
            "owner_id": None,
            "csr_pem": device.csr_pem(),
        },
    )
    order_id = f"ORD-BENCH-{secrets.token_hex(3).upper()}"
    platform.call(
        "POST",
        "/v1/orders",
        json={
            "order_id": order_id,
            "buyer_id": "buyer-bench",
            "items": [{"sku": "SKU-1", "quantity": 1}],
            "declared_value": "10.00",
            "currency": "USD",
            "expected_delivery": (datetime.now(UTC) + timedelta(days=3)).date().isoformat(),
        },
    )
    station = StationClient(base_url, device)
    session = station.open_session(order_id)
    return station, order_id, str(session["session_id"])


def _upload_requests(
    station: StationClient, session_id: str, order_id: str, photo: Path, count: int
) -> list[tuple[str, dict[str, str]]]:
    """Signed upload requests, made before the clock starts (client work is not measured)."""
    statement, signature, digest = station.device.attest(
        order_id=order_id, session_id=session_id, stage="shipment", path=photo
    )
    url = f"/v1/shipment-sessions/{session_id}/evidence"
    requests = []
    for _ in range(count):
        headers = station.signed_headers("PUT", url, digest)
        headers.update(
            {
                "X-OrderSeal-Content-SHA256": digest,
                "X-OrderSeal-Statement": statement,
                "X-OrderSeal-Statement-Signature": signature,
                "X-OrderSeal-Title": photo.name,
                "Content-Type": "application/octet-stream",
            }
        )
        requests.append((url, headers))
    return requests


async def _drive(
    base_url: str,
    method: str,
    requests: list[tuple[str, dict[str, str]]],
    body: bytes,
    concurrency: int,
    expect: int,
) -> LoadResult:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:

        async def one(url: str, headers: dict[str, str]) -> None:
            nonlocal errors
            async with gate:
                started = time.perf_counter()
                try:
                    response = await client.request(method, url, content=body, headers=headers)
                except httpx.TransportError:
                    errors += 1  # counted, not fatal: the run's figures say how many failed
                    return
                latencies.append(time.perf_counter() - started)
                if response.status_code != expect:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(url, headers) for url, headers in requests))
        seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return LoadResult(
        requests=len(requests),
        concurrency=concurrency,
        seconds=seconds,
        per_second=len(requests) / seconds,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=p99 * 1000,
        errors=errors,
    )


def _sealed_copy(home: Path, photo: Path) -> bytes:
    """``photo`` sealed with the server's own key, for the public verify route."""
    from bench.child import sealed_path
    from capture.sealing.seal import Sealer
    from evidence.manifest import CaptureAssertion, Stage
    from keys.store import KeyStore

    store = KeyStore(home / "keys")
    sealer = Sealer(signer=store.service_signer(), trust_pem=store.trust_list().pem)
    dest = sealed_path(photo, "served")
    now = datetime.now(UTC).isoformat()
    assertion = CaptureAssertion(
        order_id="ORD-BENCH",
        stage=Stage.SHIPMENT,
        device_id="station-bench",
        session_id="ss_bench",
        captured_at=now,
        received_at=now,
        content_sha256="0" * 64,
        media_type="image/jpeg",
    )
    sealer.seal(photo, dest, media_type="image/jpeg", assertion=assertion, title=photo.name)
    data = dest.read_bytes()
    dest.unlink()
    return data


def _server_durations_ms(home: Path, route: str, last: int) -> list[float]:
    """The server's own timing (access log ``duration_ms``) of the last ``last`` calls."""
    durations = []
    for line in (home / "server.log").read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("route") == route and "duration_ms" in entry:
            durations.append(float(entry["duration_ms"]))
    return durations[-last:]


def run_http_benchmark(
    home: Path,
    photo: Path,
    *,
    seals: int,
    verdicts: int,
    concurrency: int,
    sequential: int,
    backend_env: dict[str, str] | None = None,
    backend: str = "sqlite + local folder",
) -> dict[str, Any]:
    """Start a server, seal and verify ``photo`` under load, stop the server.

    Loads run at one client, at 4 and at ``concurrency`` (closed loop: each client sends its
    next request when the previous one answered).

    Returns:
        JSON with the worker count, single-client seal latency (client and server side) and
        the load results.
    """
    workers = 2 if _workers_supported() else 1
    body = photo.read_bytes()
    upload_route = "/v1/shipment-sessions/{session_id}/evidence"
    with _server(home, workers, backend_env or {}) as (base_url, credentials):
        station, order_id, session_id = _station_session(base_url, credentials)

        def seal_run(count: int, clients: int) -> LoadResult:
            requests = _upload_requests(station, session_id, order_id, photo, count)
            return asyncio.run(_drive(base_url, "PUT", requests, body, clients, 201))

        single = seal_run(sequential, 1)
        time.sleep(0.5)  # let the access-log lines of the last requests land
        server_side = _server_durations_ms(home, upload_route, sequential)
        sealed_4 = seal_run(max(seals // 4, 20), 4)
        sealed = seal_run(seals, concurrency)
        evidence = _sealed_copy(home, photo)

        def verify_run(count: int, clients: int) -> LoadResult:
            requests = [("/verify", {"Content-Type": "application/octet-stream"})] * count
            return asyncio.run(_drive(base_url, "POST", requests, evidence, clients, 200))

        verdict_1 = verify_run(max(verdicts // 8, 20), 1)
        verdict_4 = verify_run(max(verdicts // 4, 20), 4)
        verdict = verify_run(verdicts, concurrency)
    # The server's own log outlives the run's temporary home: read it when errors show up.
    kept = Path(".bench") / f"server-{backend.split()[0].lower()}.log"
    kept.parent.mkdir(exist_ok=True)
    shutil.copyfile(home / "server.log", kept)
    return {
        "workers": workers,
        "backend": backend,
        "photo_bytes": len(body),
        "seal_single_client": single.to_json(),
        "seal_server_p50_ms": statistics.median(server_side) if server_side else None,
        "seal_load_4": sealed_4.to_json(),
        "seal_load": sealed.to_json(),
        "verify_single_client": verdict_1.to_json(),
        "verify_load_4": verdict_4.to_json(),
        "verify_load": verdict.to_json(),
    }

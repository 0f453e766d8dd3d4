"""Bounded soak: honest traffic and abusive clients together, through a database and a storage
outage, against ``orderseal serve --workers 2`` on loopback.

The load lasts ``ORDERSEAL_SOAK_SECONDS`` (default 40, at least 30; 100 for the figures in
docs/security.md); the outages are placed at the same fractions of it, so a short run still
stops each service once for ``OUTAGE_SECONDS`` and leaves time to recover afterwards.

Honest: stations pack orders, buyers seal unboxing captures, the platform files disputes.
Abusive: slow bodies on the public ``/verify``, oversized headers, WebM bombs from a buyer's
own receipt session, and forged or deeply nested tokens. Meanwhile the test's own PostgreSQL
cluster and SeaweedFS are each stopped and restarted once.

Asserted: no 500 anywhere; every honest seal either stored or answered with a retryable code;
every evidence row's blob present with its sealed SHA-256 (nothing lost or half-written).
Honest latency per operation is printed (docs/security.md keeps the figures).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import statistics
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from clients.client import APIError
from infra.ledger.models import Evidence
from infra.settings import Settings
from keys.store import DevelopmentCAWarning
from orderseal.bootstrap import initialize_home, load_credentials
from orderseal.services import build_services
from tests.conftest import free_port
from tests.support import flows
from tests.support.private_postgres import PrivatePostgres
from tests.support.seaweed import SeaweedS3
from tests.support.servers import Server, start_server

#: Shortest load that still fits both outages, apart, with time to recover after the second.
MIN_LOAD_SECONDS = 30
LOAD_SECONDS = max(MIN_LOAD_SECONDS, int(os.environ.get("ORDERSEAL_SOAK_SECONDS", "40")))
OUTAGE_SECONDS = 8
#: PostgreSQL stops a quarter into the load, SeaweedFS past the middle (25 s and 60 s of 100).
DB_OUTAGE_AT = round(LOAD_SECONDS * 0.25)
STORAGE_OUTAGE_AT = round(LOAD_SECONDS * 0.6)
HONEST_THREADS = 2
#: Answers an honest client retries later: they never lose or corrupt anything.
RETRYABLE = frozenset({408, 429, 503, 507})


@dataclass
class Tally:
    """What every client saw, shared between threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    honest_errors: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    sealed: list[str] = field(default_factory=list)
    latency: dict[str, list[float]] = field(default_factory=dict)
    journeys: Counter[str] = field(default_factory=Counter)
    #: When (monotonic) each honest journey completed.
    completed_at: list[float] = field(default_factory=list)

    def status(self, code: int) -> None:
        with self.lock:
            self.statuses[code] += 1

    def took(self, operation: str, seconds: float) -> None:
        with self.lock:
            self.latency.setdefault(operation, []).append(seconds)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Server, Any, Any]]:
    home = tmp_path_factory.mktemp("soak-home")
    # Each honest client files a claim per journey: the claimant limits are not under test.
    policy = home / "no-claimant-limits.toml"
    policy.write_text("[limits]\nmax_refunds_per_order = 1\nmax_disputes_per_buyer = 100000\n")
    with PrivatePostgres() as postgres, SeaweedS3() as s3:
        settings = Settings(
            home=home,
            port=free_port(),
            database_url=postgres.url,
            storage="s3",
            s3_endpoint_url=s3.endpoint_url,
            s3_bucket="evidence-soak",
            s3_access_key=s3.access_key,
            s3_secret_key=s3.secret_key,
            policy_file=policy,
            body_idle_timeout_seconds=2.0,
            body_rate_grace_seconds=2.0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DevelopmentCAWarning)
            initialize_home(settings)
        server = start_server(settings, home / "serve.log", port=settings.port, workers=2)
        try:
            yield settings, server, postgres, s3
        finally:
            server.kill()


def _honest(
    base_url: str, credentials: dict[str, str], work: Path, tally: Tally, stop: float
) -> None:
    cast = flows.actors(base_url, credentials)
    while time.monotonic() < stop:
        try:
            _journey(cast, work, tally)
            with tally.lock:
                tally.journeys["completed"] += 1
                tally.completed_at.append(time.monotonic())
        except APIError as exc:
            tally.status(exc.status)
            with tally.lock:
                tally.honest_errors[f"{exc.status} {exc.code}"] += 1
                if exc.status not in RETRYABLE:
                    tally.unexpected.append(f"honest client got {exc.status} {exc.code}")
            tally.journeys["interrupted"] += 1
            time.sleep(0.5)  # an honest client backs off before retrying
        except httpx.TransportError as exc:
            with tally.lock:
                tally.honest_errors[f"transport {type(exc).__name__}"] += 1
            tally.journeys["interrupted"] += 1
            time.sleep(0.5)


def _timed(tally: Tally, operation: str, call: Callable[[], Any]) -> Any:
    started = time.monotonic()
    result = call()
    tally.took(operation, time.monotonic() - started)
    return result


def _journey(cast: flows.Actors, work: Path, tally: Tally) -> None:
    order_id = _timed(tally, "register order", lambda: flows.register_order(cast))
    shipped = _timed(
        tally, "pack (open, seal photo, label)", lambda: flows.ship(cast, order_id, work)
    )
    with tally.lock:
        tally.sealed.extend(e["evidence_id"] for e in shipped.evidence)
    files = _timed(
        tally, "receipt (open, seal, download)", lambda: flows.receive(cast, shipped, work)
    )
    decided = _timed(
        tally, "dispute (file, attach, decide)", lambda: flows.dispute(cast, order_id, files)
    )
    if decided["verdict"]["decision"] != "allow":
        with tally.lock:
            tally.unexpected.append(f"honest claim got {decided['verdict']['decision']}")


def _status_of(reply: bytes) -> int | None:
    if not reply.startswith(b"HTTP/1."):
        return None
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def _slow_body(port: int, tally: Tally, stop: float) -> None:
    """Trickle a declared 1 MB body into the public /verify, one byte a second."""
    while time.monotonic() < stop:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(
                b"POST /verify HTTP/1.1\r\nHost: soak\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: 1000000\r\n\r\n"
            )
            reply = b""
            try:
                for _ in range(30):
                    conn.sendall(b"x")
                    time.sleep(1)
            except OSError:
                pass  # the server hung up on us, as it should
            try:
                reply = conn.recv(4096)
            except OSError:
                reply = b""
        code = _status_of(reply)
        if code is not None:
            tally.status(code)


def _header_bomb(port: int, tally: Tally, stop: float) -> None:
    """Send 1 MiB of headers; expect 431 (or a closed connection), never a stored request."""
    filler = b"X-Filler: " + b"a" * 8000 + b"\r\n"
    while time.monotonic() < stop:
        reply = b""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: soak\r\n")
                for _ in range(128):
                    conn.sendall(filler)
                conn.sendall(b"\r\n")
                reply = conn.recv(4096)
        except OSError:
            pass
        code = _status_of(reply)
        if code is not None:
            tally.status(code)
            if code < 400:
                with tally.lock:
                    tally.unexpected.append(f"1 MiB of headers answered {code}")
        time.sleep(0.5)


def _token_fuzz(base_url: str, buyer_token: str, tally: Tally, stop: float) -> None:
    """Forged, truncated and deeply nested tokens on the token-reading routes."""
    rng = random.Random(7)  # noqa: S311 - fuzz input, not a secret
    with httpx.Client(base_url=base_url, timeout=10) as client:
        while time.monotonic() < stop:
            nested = "[" * rng.randint(100, 3000)
            token = rng.choice(
                [
                    "OS1." + nested,
                    "OS1." + "".join(rng.choice("AZaz09-_.") for _ in range(rng.randint(0, 400))),
                    buyer_token[: rng.randint(0, len(buyer_token))],
                    json.dumps({"exp": 10**20}),
                ]
            )
            buyer = {"Authorization": f"Bearer {buyer_token}"}
            try:
                answers = [
                    client.post("/v1/qr/check", json={"payload": token[:4096]}, headers=buyer),
                    client.post(
                        "/v1/receipt-sessions", json={"token": token[:2048]}, headers=buyer
                    ),
                    client.post(
                        "/v1/qr/check",
                        json={"payload": "x"},
                        headers={"Authorization": f"Bearer {token[:4096]}"},
                    ),
                ]
            except httpx.TransportError:
                continue
            for answer in answers:
                tally.status(answer.status_code)
            time.sleep(0.05)


def _webm_bomb(path: Path) -> Path:
    """Tiny VP8 WebM of many large flat frames: costly to decode, cheap to send."""
    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=30)
        stream.width, stream.height, stream.pix_fmt = 3840, 2160, "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8"}
        frame = av.VideoFrame.from_ndarray(
            np.zeros((2160, 3840, 3), dtype=np.uint8), format="rgb24"
        )
        for index in range(40):
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _webm_bombs(cast: flows.Actors, work: Path, tally: Tally, stop: float) -> None:
    """A buyer uploads WebM bombs into their own receipt session."""
    bomb = _webm_bomb(work / "bomb.webm")
    while time.monotonic() < stop:
        try:
            shipped = flows.ship(cast, flows.register_order(cast), work)
            buyer = cast.buyer()
            session = buyer.open_receipt(shipped.label_token)
            for _ in range(3):
                try:
                    buyer.upload(session, bomb, title="unbox.webm")
                    with tally.lock:
                        tally.unexpected.append("a WebM bomb was sealed")
                except APIError as exc:
                    tally.status(exc.status)
                time.sleep(1)
        except (APIError, httpx.TransportError):
            time.sleep(1)  # the outage window: try again later


def _outages(
    postgres: PrivatePostgres, s3: SeaweedS3, started: float, log: list[str], back: list[float]
) -> None:
    for at, name, down, up in (
        (DB_OUTAGE_AT, "PostgreSQL", postgres.stop, postgres.start),
        (STORAGE_OUTAGE_AT, "SeaweedFS", s3.stop, s3.start),
    ):
        time.sleep(max(0.0, started + at - time.monotonic()))
        down()
        log.append(f"{name} stopped at {time.monotonic() - started:.0f} s")
        time.sleep(OUTAGE_SECONDS)
        up()
        back.append(time.monotonic())
        log.append(f"{name} back at {time.monotonic() - started:.0f} s")


def _wait_ready(base_url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError("the service did not become ready after the outages")


def _p(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(quantile * (len(ordered) - 1)))]


def test_soak_keeps_every_seal_and_never_answers_500(
    stack: tuple[Settings, Server, PrivatePostgres, SeaweedS3],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings, server, postgres, s3 = stack
    credentials = load_credentials(settings)
    tally = Tally()
    started = time.monotonic()
    stop = started + LOAD_SECONDS
    abuser = flows.actors(server.url, credentials)
    buyer_token = flows.buyer_token_response(abuser.platform, abuser.buyer_id)["token"]
    outage_log: list[str] = []
    back_at: list[float] = []
    workers = [
        *(
            threading.Thread(
                target=_honest,
                args=(server.url, credentials, tmp_path / f"honest-{i}", tally, stop),
                daemon=True,
            )
            for i in range(HONEST_THREADS)
        ),
        threading.Thread(target=_slow_body, args=(server.port, tally, stop), daemon=True),
        threading.Thread(target=_header_bomb, args=(server.port, tally, stop), daemon=True),
        threading.Thread(
            target=_token_fuzz, args=(server.url, buyer_token, tally, stop), daemon=True
        ),
        threading.Thread(
            target=_webm_bombs, args=(abuser, tmp_path / "abuse", tally, stop), daemon=True
        ),
        threading.Thread(
            target=_outages, args=(postgres, s3, started, outage_log, back_at), daemon=True
        ),
    ]
    for index in range(HONEST_THREADS):
        (tmp_path / f"honest-{index}").mkdir()
    (tmp_path / "abuse").mkdir()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=LOAD_SECONDS + 90)
    assert not any(worker.is_alive() for worker in workers), "a soak client did not stop"

    _wait_ready(server.url)
    # Recovered: a whole honest journey goes through once both services are back, however
    # little of the load was left after the second outage.
    (tmp_path / "after").mkdir()
    _journey(flows.actors(server.url, credentials), tmp_path / "after", tally)
    services = build_services(settings)
    with Session(create_engine(settings.database_url)) as db:
        rows = {row.evidence_id: row for row in db.scalars(select(Evidence))}
    missing = [evidence_id for evidence_id in tally.sealed if evidence_id not in rows]
    corrupt = []
    for row in rows.values():
        with services.store.open_local(row.storage_key) as path:
            if hashlib.sha256(path.read_bytes()).hexdigest() != row.sealed_sha256:
                corrupt.append(row.evidence_id)

    with capsys.disabled():
        print(
            f"\nsoak: {LOAD_SECONDS} s, {HONEST_THREADS} honest clients + 4 abusive; "
            + "; ".join(outage_log)
        )
        print(f"soak: journeys {dict(tally.journeys)}; honest errors {dict(tally.honest_errors)}")
        print(f"soak: statuses {dict(sorted(tally.statuses.items()))}; evidence rows {len(rows)}")
        for operation, values in sorted(tally.latency.items()):
            print(
                f"soak: {operation:34s} n={len(values):4d} "
                f"p50={statistics.median(values) * 1000:7.0f} ms "
                f"p99={_p(values, 0.99) * 1000:7.0f} ms"
            )
    assert tally.statuses[500] == 0, tally.statuses
    served = server.log.read_text(errors="replace")
    assert '"status": 500' not in served  # the server's own access log agrees
    assert "Traceback" not in served
    assert not [code for code in tally.statuses if code >= 500 and code not in RETRYABLE]
    assert tally.unexpected == []
    assert missing == []
    assert corrupt == []
    assert tally.journeys["completed"] > 0
    # Both outages happened during the load, with honest journeys already done before the first.
    assert len(back_at) == 2, outage_log
    assert min(tally.completed_at) < started + DB_OUTAGE_AT
    assert tally.sealed, "no honest seal went through"

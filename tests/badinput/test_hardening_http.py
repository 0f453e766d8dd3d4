"""Issue 14, items 2, 3 and 13: headers, slow bodies, upload admission and disconnects.

Each adversary goes through a real uvicorn server on loopback with raw sockets, next to the
honest caller who still gets through:

- an anonymous client sends huge or countless headers (431 ``headers_too_large``), on both
  HTTP protocols uvicorn can run;
- an anonymous client on ``/verify``, a buyer with a token and a station trickle their bodies
  (408 ``body_too_slow``, the temp file is gone);
- anonymous clients hold every public upload slot (503 ``uploads_busy``, 429
  ``too_many_uploads``, both with ``Retry-After``);
- a body would fill the work folder (507 ``insufficient_storage``), declared or chunked;
- a client disconnects mid-body: one info access line with 499, no error, no traceback.

Times are small settings (1 s idle timeout, 3 s grace), so every case ends in seconds.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from infra.settings import Settings
from infra.uploads import UploadGate
from orderseal.app import create_app
from orderseal.samples import make_jpeg
from orderseal.server import serve_in_thread
from orderseal.services import Services, build_services
from tests.conftest import free_port, make_settings
from tests.support import flows
from tests.support.servers import start_server

IDLE_SECONDS = 1.0
GRACE_SECONDS = 3.0
MIN_RATE = 4096
MAX_PUBLIC = 3
MAX_PER_CLIENT = 2
#: Every exchange gives up after this long: a missing answer fails the test, never hangs it.
ANSWER_SECONDS = 15.0


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    return make_settings(
        module_home,
        database_url=database_url,
        body_idle_timeout_seconds=IDLE_SECONDS,
        body_rate_grace_seconds=GRACE_SECONDS,
        body_min_bytes_per_second=MIN_RATE,
        public_uploads_max_concurrent=MAX_PUBLIC,
        public_uploads_max_per_client=MAX_PER_CLIENT,
        **storage_overrides,
    )


@dataclass
class Served:
    app: FastAPI
    base_url: str
    port: int
    h11_port: int
    services: Services

    @property
    def gate(self) -> UploadGate:
        gate: UploadGate = self.app.state.upload_gate
        return gate

    def leftover_parts(self) -> list[Path]:
        return sorted(self.services.capture.work_dir.glob("upload-*.part"))


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    services = build_services(settings)
    app = create_app(settings, services=services)
    h11_port = free_port()
    with (
        serve_in_thread(app, host="127.0.0.1", port=settings.port),
        serve_in_thread(app, host="127.0.0.1", port=h11_port, h11_protocol=True),
    ):
        yield Served(app, settings.base_url, settings.port, h11_port, services)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def code(self) -> str:
        return str(self.body.get("error", {}).get("code", ""))


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_answer(sock: socket.socket) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise AssertionError(f"connection closed before an answer: {data[:200]!r}")
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        piece = sock.recv(65536)
        if not piece:
            break
        rest += piece
    body = json.loads(rest[:length]) if length and rest.startswith(b"{") else {}
    return Answer(int(status_line.split()[1]), headers, body)


def _readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def _exchange(
    port: int, head: bytes, pieces: Iterable[bytes] = (), *, pause_seconds: float = 0.0
) -> Answer:
    """Send ``head`` then each piece (pausing between), stopping once the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_SECONDS) as sock:
        sock.sendall(head)
        for piece in pieces:
            if _readable(sock):
                break
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(pause_seconds)
        return _read_answer(sock)


def _trickle(count: int) -> Iterator[bytes]:
    """``count`` single bytes: with pauses, slower than any minimum rate we configure."""
    return (b"x" for _ in range(count))


# --- item 2: request headers -------------------------------------------------------------


@pytest.fixture(params=["httptools", "h11"])
def header_port(request: pytest.FixtureRequest, served: Served) -> int:
    return served.port if request.param == "httptools" else served.h11_port


def test_honest_headers_pass(header_port: int) -> None:
    headers = {f"X-Honest-{i}": "v" * 100 for i in range(80)} | {"Authorization": "a" * 4000}
    answer = _exchange(header_port, _head("GET", "/healthz", headers))
    assert answer.status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Big": "a" * 20_000},
        {f"X-Many-{i}": "v" for i in range(150)},
        {"X-Long-Url": "ok"},
    ],
    ids=["one-20k-header", "150-headers", "20k-url"],
)
def test_oversized_complete_headers_get_431(header_port: int, headers: dict[str, str]) -> None:
    path = "/healthz?" + "q" * 20_000 if "X-Long-Url" in headers else "/healthz"
    answer = _exchange(header_port, _head("GET", path, headers))
    assert (answer.status, answer.code) == (431, "headers_too_large")
    assert answer.headers["connection"] == "close"


def test_an_endless_header_is_cut_off_early(header_port: int) -> None:
    """The 64 MB header of the report: the server stops reading after the limit."""
    total = 8 * 1024 * 1024
    sent = 0
    answer: Answer | None = None
    with socket.create_connection(("127.0.0.1", header_port), timeout=ANSWER_SECONDS) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        try:
            while sent < total and not _readable(sock):
                sock.sendall(b"a" * 65536)
                sent += 65536
            answer = _read_answer(sock)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed with our unread bytes still queued: refused all the same
    assert sent < total
    if answer is not None:
        assert (answer.status, answer.code) == (431, "headers_too_large")


def test_orderseal_serve_workers_take_the_limits_from_settings(
    settings: Settings, tmp_path: Path
) -> None:
    """The deployment path: ``orderseal serve --workers 2`` reads ORDERSEAL_MAX_HEADER_BYTES."""
    limited = settings.model_copy(update={"max_header_bytes": 4096, "max_headers": 20})
    server = start_server(limited, tmp_path / "serve.log", port=free_port(), workers=2)
    try:
        for _ in range(4):  # whichever worker accepts the connection
            honest = _exchange(server.port, _head("GET", "/healthz", {"X-Ok": "v" * 3000}))
            assert honest.status == 200
            big = _exchange(server.port, _head("GET", "/healthz", {"X-Big": "v" * 5000}))
            assert (big.status, big.code) == (431, "headers_too_large")
            many = _exchange(
                server.port, _head("GET", "/healthz", {f"X-{i}": "v" for i in range(30)})
            )
            assert (many.status, many.code) == (431, "headers_too_large")
    finally:
        server.kill()


# --- item 3: slow bodies -----------------------------------------------------------------


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_jpeg(tmp_path_factory.mktemp("photo") / "honest.jpg", seed=14, size=(320, 240))


def _verify_head(length: int | None, **extra: str) -> bytes:
    headers = {"Content-Type": "application/octet-stream", **extra}
    if length is None:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(length)
    return _head("POST", "/verify", headers)


def _chunked(data: bytes, size: int = 65536) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        piece = data[start : start + size]
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def test_honest_public_verify_still_answers(served: Served, photo: Path) -> None:
    data = photo.read_bytes()
    answer = _exchange(served.port, _verify_head(len(data)) + data)
    assert answer.status == 200
    assert answer.body["carries_orderseal_chain"] is False


def test_an_idle_public_body_gets_408_and_leaves_no_file(served: Served) -> None:
    before = time.monotonic()
    answer = _exchange(served.port, _verify_head(100_000) + b"x" * 10)
    assert (answer.status, answer.code) == (408, "body_too_slow")
    assert time.monotonic() - before < ANSWER_SECONDS
    assert served.leftover_parts() == []


def test_a_trickling_public_body_gets_408_after_the_grace_period(served: Served) -> None:
    # One byte every half second never trips the 1 s idle timeout; the minimum rate does.
    answer = _exchange(
        served.port,
        _verify_head(100_000, **{"X-Forwarded-For": "198.51.100.1"}),
        _trickle(60),
        pause_seconds=IDLE_SECONDS / 2,
    )
    assert (answer.status, answer.code) == (408, "body_too_slow")
    assert served.leftover_parts() == []


def test_a_trickling_station_and_buyer_get_408(
    served: Served, credentials: dict[str, str], photo: Path, tmp_path: Path
) -> None:
    cast = flows.actors(served.base_url, credentials)
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    # Honest station upload first: the limits leave a normal upload alone.
    cast.station.upload(session, photo, title="pack.jpg")

    data = photo.read_bytes()
    statement, signature, digest = cast.station.device.attest(
        order_id=order_id, session_id=session["session_id"], stage="shipment", path=photo
    )
    path = f"/v1/shipment-sessions/{session['session_id']}/evidence"
    station_headers = cast.station._headers("PUT", path, digest) | {
        "X-OrderSeal-Content-SHA256": digest,
        "X-OrderSeal-Statement": statement,
        "X-OrderSeal-Statement-Signature": signature,
        "Content-Length": str(len(data)),
    }
    answer = _exchange(served.port, _head("PUT", path, station_headers) + data[:100])
    assert (answer.status, answer.code) == (408, "body_too_slow")

    label = cast.station.close(session)["token"]
    buyer = cast.buyer()
    receipt = buyer.open_receipt(label)
    unbox = make_jpeg(tmp_path / "unbox.jpg", seed=141, size=(320, 240))
    statement, signature, digest = cast.buyer_device.attest(
        order_id=order_id, session_id=receipt["session_id"], stage="receipt", path=unbox
    )
    buyer_headers = {
        "Authorization": str(buyer.http.headers["Authorization"]),
        "X-OrderSeal-Device": cast.buyer_device.device_id,
        "X-OrderSeal-Statement": statement,
        "X-OrderSeal-Statement-Signature": signature,
        "X-OrderSeal-Content-SHA256": digest,
        "Content-Length": str(unbox.stat().st_size),
    }
    path = f"/v1/receipt-sessions/{receipt['session_id']}/evidence"
    answer = _exchange(
        served.port, _head("PUT", path, buyer_headers), _trickle(60), pause_seconds=0.5
    )
    assert (answer.status, answer.code) == (408, "body_too_slow")
    assert served.leftover_parts() == []
    # The buyer's honest retry is sealed.
    assert buyer.upload(receipt, unbox, title="unbox.jpg")["evidence_id"]


def _hold(port: int, address: str) -> socket.socket:
    """A public upload that has started and keeps its slot (for less than the grace period)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_SECONDS)
    sock.sendall(_verify_head(1_000_000, **{"X-Forwarded-For": address}) + b"x" * 100)
    return sock


def _until_admitted(try_once: Callable[[], Answer]) -> Answer:
    deadline = time.monotonic() + ANSWER_SECONDS
    while True:
        answer = try_once()
        if answer.status not in (429, 503) or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def test_public_upload_slots_are_capped_per_address_and_in_total(
    served: Served, photo: Path
) -> None:
    data = photo.read_bytes()
    holders: list[socket.socket] = []
    try:
        holders += [_hold(served.port, "203.0.113.7") for _ in range(MAX_PER_CLIENT)]
        time.sleep(0.3)  # the server has taken their slots
        same = _exchange(served.port, _verify_head(len(data), **{"X-Forwarded-For": "203.0.113.7"}))
        assert (same.status, same.code) == (429, "too_many_uploads")
        assert int(same.headers["retry-after"]) > 0

        holders += [_hold(served.port, f"203.0.113.{8 + i}") for i in range(MAX_PUBLIC - 2)]
        time.sleep(0.3)
        other = _exchange(served.port, _verify_head(len(data), **{"X-Forwarded-For": "192.0.2.1"}))
        assert (other.status, other.code) == (503, "uploads_busy")
        assert int(other.headers["retry-after"]) > 0
    finally:
        for sock in holders:
            sock.close()
    # Once they are gone, an honest upload is admitted again.
    answer = _until_admitted(lambda: _exchange(served.port, _verify_head(len(data)) + data))
    assert answer.status == 200
    assert served.leftover_parts() == []


@pytest.fixture
def low_disk(served: Served) -> Iterator[list[int]]:
    """Free space the gate sees: the values in the list, one per check, then the last."""
    values: list[int] = []
    real = served.gate.free_bytes

    def fake(directory: Path) -> int:
        return values.pop(0) if len(values) > 1 else values[0]

    served.gate.free_bytes = fake
    try:
        yield values
    finally:
        served.gate.free_bytes = real


def test_a_declared_body_that_would_fill_the_disk_gets_507(
    served: Served, photo: Path, low_disk: list[int]
) -> None:
    data = photo.read_bytes()
    reserve = served.gate.reserve_bytes
    low_disk.append(reserve + len(data) - 1)
    answer = _exchange(served.port, _verify_head(len(data)) + data)
    assert (answer.status, answer.code) == (507, "insufficient_storage")
    low_disk[:] = [reserve + len(data) + 1]
    answer = _exchange(served.port, _verify_head(len(data)) + data)
    assert answer.status == 200


def test_a_chunked_body_is_cut_off_when_the_disk_fills(served: Served, low_disk: list[int]) -> None:
    reserve = served.gate.reserve_bytes
    low_disk += [reserve + 10**9, reserve - 1]  # room at admission, none after 4 MiB
    body = b"\0" * (6 * 1024 * 1024)
    answer = _exchange(served.port, _verify_head(None), _chunked(body))
    assert (answer.status, answer.code) == (507, "insufficient_storage")
    assert served.leftover_parts() == []


# --- item 13: disconnects ----------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log_records() -> Iterator[_Records]:
    handler = _Records()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.error")]
    access = logging.getLogger("orderseal.access")
    level = access.level
    access.setLevel(logging.INFO)
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        access.setLevel(level)


def test_a_disconnect_mid_body_is_one_info_line_with_499(
    served: Served, log_records: _Records
) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=ANSWER_SECONDS) as sock:
        sock.sendall(_verify_head(1_000_000, **{"X-Forwarded-For": "198.51.100.99"}) + b"x" * 1000)
        time.sleep(0.2)
    deadline = time.monotonic() + ANSWER_SECONDS
    access: list[logging.LogRecord] = []
    while not access and time.monotonic() < deadline:
        time.sleep(0.05)
        access = [
            r
            for r in log_records.records
            if r.name == "orderseal.access" and getattr(r, "fields", {}).get("route") == "/verify"
        ]
    errors = [r for r in log_records.records if r.levelno >= logging.WARNING or r.exc_info]
    assert errors == []
    assert [(r.levelno, r.fields["status"]) for r in access] == [(logging.INFO, 499)]  # type: ignore[attr-defined]
    assert served.leftover_parts() == []

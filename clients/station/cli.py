"""``orderseal station ...``: the packing-station client.

enrol (generate the device key, send a CSR to the admin route), open a session from a scanned
order number, capture files or watch a hot folder, upload with a progress bar, and keep an
offline queue that uploads exactly once when the service is back.

State lives in ``--home`` (``ORDERSEAL_STATION_HOME``, default ``~/.orderseal-station``):
``station.json`` (service URL, device id), ``device-key.pem`` (mode 0600; never leaves the
station), ``device-cert.pem``, ``session.json`` (the open packing session) and ``queue/``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)

from clients.client import APIError, DeviceKey, PlatformClient, StationClient
from clients.commands import EXIT_INPUT_ERROR, run_command
from clients.schemas import SessionResponse
from clients.station.queue import CaptureQueue, FlushResult, QueuedCapture
from wire.errors import OrderSealError
from wire.keyfile import save_private_key

__all__ = ["CAPTURE_SUFFIXES", "EXIT_INPUT_ERROR", "StationState", "main", "station_app"]

station_app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Packing-station client (enrol, capture)"
)
console = Console()

#: File types a tethered camera drops that the service seals.
CAPTURE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".mp4", ".mov"})
_DEFAULT_HOME = Path("~/.orderseal-station")
#: Exit status of a station not ready for the command or a failed service call, as
#: ``orderseal station`` gives it through ``orderseal.cli:main``.


class StationError(OrderSealError):
    """The station is not set up for the command (not enrolled, no open session, ...)."""

    code = "station_not_ready"
    http_status = 400


@dataclass(frozen=True)
class StationState:
    """The station's files."""

    home: Path

    @property
    def config_path(self) -> Path:
        """Service URL and device id."""
        return self.home / "station.json"

    @property
    def key_path(self) -> Path:
        """The device's private key (0600)."""
        return self.home / "device-key.pem"

    @property
    def session_path(self) -> Path:
        """The open packing session."""
        return self.home / "session.json"

    @property
    def queue(self) -> CaptureQueue:
        """The offline queue."""
        return CaptureQueue(self.home / "queue")

    def config(self) -> dict[str, str]:
        """The saved configuration.

        Raises:
            StationError: not enrolled yet.
        """
        if not self.config_path.exists() or not self.key_path.exists():
            raise StationError("this station is not enrolled: run `orderseal station enrol`")
        data: dict[str, str] = json.loads(self.config_path.read_text())
        return data

    def device(self) -> DeviceKey:
        """The device key with its certificate."""
        config = self.config()
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise StationError("expected an EC P-256 device key", code="station_key_invalid")
        certificate = x509.load_pem_x509_certificate((self.home / "device-cert.pem").read_bytes())
        return DeviceKey(config["device_id"], key, certificate)

    def client(self, *, timeout: float = 300.0) -> StationClient:
        """A signed client for the configured service."""
        return StationClient(self.config()["base_url"], self.device(), timeout=timeout)

    def session(self) -> SessionResponse:
        """The open session.

        Raises:
            StationError: no session is open.
        """
        if not self.session_path.exists():
            raise StationError(
                "no open packing session: scan an order with `orderseal station open`",
                code="no_open_session",
            )
        data: SessionResponse = json.loads(self.session_path.read_text())
        return data


HomeOption = Annotated[
    Path,
    typer.Option(
        "--home", envvar="ORDERSEAL_STATION_HOME", help="station state folder (key, queue)"
    ),
]


def _state(home: Path) -> StationState:
    path = home.expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return StationState(path)


def _write_json(path: Path, data: Mapping[str, object]) -> None:
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(data, indent=2))
    os.replace(temp, path)


@contextmanager
def _service_calls() -> Iterator[None]:
    """Client failures become OrderSeal errors: one line and exit status 3 from ``main``."""
    try:
        yield
    except APIError as exc:
        raise StationError(exc.message, code=exc.code) from exc
    except httpx.TransportError as exc:
        raise StationError(
            "the capture service is unreachable", code="service_unreachable"
        ) from exc


@station_app.command()
def enrol(
    url: Annotated[str, typer.Option("--url", help="capture service base URL")],
    device_id: Annotated[str, typer.Option("--device-id", help="this station's name")],
    admin_key: Annotated[
        str, typer.Option("--admin-key", envvar="ORDERSEAL_ADMIN_KEY", help="enrolment credential")
    ],
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Generate this station's key and have the service's device CA certify it (CSR)."""
    state = _state(home)
    if state.key_path.exists():
        raise StationError(
            f"this station is already enrolled as {state.config().get('device_id')}",
            code="station_enrolled",
        )
    device = DeviceKey.generate(device_id)
    with _service_calls():
        issued = PlatformClient(url, admin_key).call(
            "POST",
            "/v1/devices",
            json={"device_id": device_id, "kind": "station", "csr_pem": device.csr_pem()},
        )
    save_private_key(device.private_key, state.key_path)
    (state.home / "device-cert.pem").write_text(issued["certificate_pem"] + issued["chain_pem"])
    _write_json(state.config_path, {"base_url": url.rstrip("/"), "device_id": device_id})
    console.print(f"enrolled [bold]{device_id}[/] (certificate valid until {issued['not_after']})")


@station_app.command("open")
def open_session(
    order_id: Annotated[str | None, typer.Argument(help="scanned order number")] = None,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Open a packing session for a scanned order (a barcode scanner types the number)."""
    state = _state(home)
    scanned = (order_id or typer.prompt("Scan the order barcode")).strip()
    with _service_calls():
        session = state.client().open_session(scanned)
    _write_json(state.session_path, session)
    console.print(f"session [bold]{session['session_id']}[/] open for order {scanned}")


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=False,
    )


def _flush(state: StationState) -> FlushResult:
    """Upload the queue with a progress bar per capture."""
    client = state.client()
    with _progress_bar() as progress:

        def bar(entry: QueuedCapture) -> Callable[[int], None]:
            task = progress.add_task(entry.title, total=entry.size)
            return lambda sent: progress.advance(task, sent)

        result = state.queue.flush(client, progress=bar)
    for answer in result.uploaded:
        console.print(f"sealed {answer['evidence_id']} ({answer['media_type']})")
    for answer in result.replayed:
        console.print(f"already sealed {answer['evidence_id']} (retry answered once)")
    for capture_id, code in result.rejected:
        console.print(f"[red]refused[/] {capture_id}: {code} (kept in queue/rejected)")
    if result.offline:
        console.print(
            f"[yellow]service unreachable[/]: {result.remaining} capture(s) stay queued; "
            "run `orderseal station flush` when it is back"
        )
    return result


@station_app.command()
def capture(
    files: Annotated[list[Path], typer.Argument(help="photos or videos to seal", exists=True)],
    serial: Annotated[
        list[str] | None, typer.Option("--serial", help="unit serial scanned (repeatable)")
    ] = None,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Attest and queue captures for the open session, then upload what the service takes."""
    state = _state(home)
    session = state.session()
    device = state.device()
    for path in files:
        state.queue.add(
            path,
            device=device,
            order_id=session["order_id"],
            session_id=session["session_id"],
            title=path.name,
            serials=tuple(serial or ()),
        )
    result = _flush(state)
    if result.rejected:
        raise typer.Exit(1)


def _stable_new_files(folder: Path, seen: set[str], sizes: dict[str, int]) -> list[Path]:
    """New capture files whose size did not change since the last poll (camera finished)."""
    ready: list[Path] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in CAPTURE_SUFFIXES:
            continue
        stat = path.stat()
        key = f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
        if key in seen:
            continue
        if sizes.get(key) is None:
            sizes[key] = stat.st_size  # first sighting: wait one poll for the write to finish
            continue
        ready.append(path)
        seen.add(key)
    return ready


@contextmanager
def _seen_files(state: StationState) -> Iterator[set[str]]:
    path = state.home / "watch-seen.json"
    seen: set[str] = set(json.loads(path.read_text())) if path.exists() else set()
    try:
        yield seen
    finally:
        _write_json_list(path, sorted(seen))


def _write_json_list(path: Path, data: list[str]) -> None:
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(data))
    os.replace(temp, path)


@station_app.command()
def watch(
    folder: Annotated[Path, typer.Argument(help="hot folder the tethered camera writes to")],
    interval: Annotated[float, typer.Option(min=0.05, help="poll every N seconds")] = 1.0,
    max_seconds: Annotated[
        float | None, typer.Option(help="stop after N seconds (default: until Ctrl-C)")
    ] = None,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Poll a hot folder: each new file is attested, queued and uploaded."""
    state = _state(home)
    session = state.session()
    device = state.device()
    deadline = time.monotonic() + max_seconds if max_seconds is not None else None
    sizes: dict[str, int] = {}
    console.print(f"watching {folder} for order {session['order_id']} (Ctrl-C to stop)")
    with _seen_files(state) as seen:
        try:
            while deadline is None or time.monotonic() < deadline:
                new = _stable_new_files(folder, seen, sizes)
                for path in new:
                    state.queue.add(
                        path,
                        device=device,
                        order_id=session["order_id"],
                        session_id=session["session_id"],
                        title=path.name,
                    )
                if new or state.queue.pending():
                    _flush(state)
                time.sleep(interval)
        except KeyboardInterrupt:
            pass


@station_app.command()
def flush(home: HomeOption = _DEFAULT_HOME) -> None:
    """Upload every queued capture (exactly once each)."""
    result = _flush(_state(home))
    if result.offline:
        raise typer.Exit(2)
    if result.rejected:
        raise typer.Exit(1)


@station_app.command()
def status(home: HomeOption = _DEFAULT_HOME) -> None:
    """The open session and the queue."""
    state = _state(home)
    summary = state.queue.summary()
    session = state.session() if state.session_path.exists() else None
    console.print_json(data={"session": session, "queue": summary})


@station_app.command()
def close(
    out: Annotated[
        Path | None, typer.Option("--out", help="write the label here (.png or .pdf)")
    ] = None,
    dpi: Annotated[int, typer.Option(help="printer resolution: 203 or 300")] = 203,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Finish packing: upload the queue, close the session and fetch the parcel label."""
    state = _state(home)
    session = state.session()
    _flush(state)
    if state.queue.pending(session_id=session["session_id"]):
        raise StationError(
            "captures of this session are still queued: the label waits until they are sealed",
            code="queue_not_empty",
        )
    client = state.client()
    with _service_calls():
        label = client.close(session)
        state.session_path.unlink()
        console.print(f"session closed; label token for order {label['order_id']}")
        if out is not None:
            is_pdf = out.suffix.lower() == ".pdf"
            fetch = client.label_pdf if is_pdf else client.label_png
            out.write_bytes(fetch(label["order_id"], dpi=dpi))
            console.print(f"label written to {out}")


def main() -> None:
    """``orderseal-station``, the station distribution's command: the same commands as
    ``orderseal station``, and the same exit statuses (3 with one line for a station error or a
    usage error, 4 for anything else; never a traceback).
    """
    # Without standalone mode click returns the code of typer.Exit instead of exiting.
    run_command(lambda: station_app(standalone_mode=False, prog_name="orderseal-station"), console)


if __name__ == "__main__":
    main()

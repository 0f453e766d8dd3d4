"""``orderseal station ...``: the packing-station client.

enrol (generate the device key, send a CSR to the admin route), open a session from a scanned
order number, capture files or watch a hot folder, upload with a progress bar, and keep an
offline queue that uploads exactly once when the service is back. Every command exits with a
status that tells sealed from queued from refused (:mod:`clients.station.errors`), and warns
before sealing what is probably wrong evidence (:mod:`clients.station.checks`).

State lives in ``--home`` (``ORDERSEAL_STATION_HOME``, default ``~/.orderseal-station``):
``station.json`` (service URL, device id), ``device-key.pem`` (mode 0600; never leaves the
station), ``device-cert.pem``, ``session.json`` (the open packing session), ``queue/`` and
``records.sqlite`` (what this station sealed and closed).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from clients.client import APIError, DeviceKey, PlatformClient, StationClient
from clients.commands import EXIT_INPUT_ERROR, run_command
from clients.schemas import SessionResponse
from clients.station.admin_key import read_admin_key
from clients.station.backoff import Backoff
from clients.station.checks import capture_warnings, refuse_unless_forced
from clients.station.errors import (
    EXIT_OK,
    EXIT_QUEUED,
    EXIT_REFUSED,
    NeedsForceError,
    QueuedError,
    ServiceRefusedError,
    ServiceUnreachableError,
    StationError,
)
from clients.station.offline import OfflineStore, SyncResult, label_url
from clients.station.queue import LOCAL_SESSION_PREFIX, CaptureQueue, FlushResult, QueuedCapture
from clients.station.records import StationRecords
from wire.keyfile import save_private_key

__all__ = [
    "CAPTURE_SUFFIXES",
    "EXIT_INPUT_ERROR",
    "StationError",
    "StationState",
    "main",
    "station_app",
]

station_app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Packing-station client (enrol, capture)"
)
console = Console()

#: File types a tethered camera drops that the service seals.
CAPTURE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".mp4", ".mov"})
_DEFAULT_HOME = Path("~/.orderseal-station")
#: ``status`` warns when the device certificate expires sooner than this (``renew`` it).
_EXPIRY_WARNING = timedelta(days=7)


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
    def cert_path(self) -> Path:
        """The device certificate and its chain (PEM)."""
        return self.home / "device-cert.pem"

    @property
    def queue(self) -> CaptureQueue:
        """The offline queue."""
        return CaptureQueue(self.home / "queue")

    @property
    def offline(self) -> OfflineStore:
        """The assignment list and the provisional labels (offline packing)."""
        return OfflineStore(self.home)

    def root(self) -> x509.Certificate:
        """The PKI root this station's certificate chains to (last in ``device-cert.pem``)."""
        return x509.load_pem_x509_certificates(self.cert_path.read_bytes())[-1]

    @property
    def records(self) -> StationRecords:
        """What this station sealed and closed."""
        return StationRecords(self.home / "records.sqlite")

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
        certificate = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
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

    def session_opened_at(self) -> datetime:
        """When the open session was opened, by the station clock (older files: written)."""
        raw = json.loads(self.session_path.read_text()).get("opened_at")
        if isinstance(raw, str):
            return datetime.fromisoformat(raw)
        return datetime.fromtimestamp(self.session_path.stat().st_mtime, tz=UTC)


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
    """Client failures become station errors: one line, and exit 1 (refused) or 5 (down)."""
    try:
        yield
    except APIError as exc:
        if exc.status >= 500 or exc.status == 429:
            raise ServiceUnreachableError(
                f"the capture service is busy or failing ({exc.code}): try again shortly"
            ) from exc
        raise ServiceRefusedError(exc.message, code=exc.code) from exc
    except httpx.TransportError as exc:
        raise ServiceUnreachableError("the capture service is unreachable") from exc


AdminKeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--admin-key-file",
        help="file holding the enrolment key (mode 0600); default: $ORDERSEAL_ADMIN_KEY",
    ),
]
MerchantOption = Annotated[
    str | None, typer.Option("--merchant", help="merchant this station packs for")
]


def _enrol_key(
    state: StationState, *, url: str, device_id: str, admin_key: str, merchant: str | None
) -> str:
    """Enrol a fresh key as ``device_id``; only after the service issued it are files written.

    Returns:
        The certificate's ``not_after``.
    """
    device = DeviceKey.generate(device_id)
    body = {"device_id": device_id, "kind": "station", "csr_pem": device.csr_pem()}
    if merchant:
        body["merchant_id"] = merchant
    with _service_calls():
        issued = PlatformClient(url, admin_key).call("POST", "/v1/devices", json=body)
    # Written beside, then swapped in (0600 from the start): a reset replaces the old key.
    fresh = state.key_path.with_suffix(".new")
    fresh.unlink(missing_ok=True)
    save_private_key(device.private_key, fresh)
    os.replace(fresh, state.key_path)
    state.cert_path.write_text(issued["certificate_pem"] + issued["chain_pem"])
    config = {"base_url": url.rstrip("/"), "device_id": device_id}
    if merchant:
        config["merchant_id"] = merchant
    _write_json(state.config_path, config)
    return str(issued["not_after"])


@station_app.command()
def enrol(
    url: Annotated[str, typer.Option("--url", help="capture service base URL")],
    device_id: Annotated[str, typer.Option("--device-id", help="this station's name")],
    admin_key_file: AdminKeyFileOption = None,
    merchant: MerchantOption = None,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Generate this station's key and have the service's device CA certify it (CSR).

    The enrolment key comes from ``ORDERSEAL_ADMIN_KEY`` or ``--admin-key-file``, never the
    command line (shell history).
    """
    state = _state(home)
    if state.key_path.exists():
        raise StationError(
            f"this station is already enrolled as {state.config().get('device_id')}: "
            "`orderseal station renew` before expiry, `orderseal station reset` after",
            code="station_enrolled",
        )
    admin_key = read_admin_key(admin_key_file)
    not_after = _enrol_key(
        state, url=url, device_id=device_id, admin_key=admin_key, merchant=merchant
    )
    console.print(f"enrolled [bold]{device_id}[/] (certificate valid until {not_after})")


@station_app.command("open")
def open_session(
    order_id: Annotated[str | None, typer.Argument(help="scanned order number")] = None,
    abandon: Annotated[
        bool, typer.Option("--abandon", help="leave the session still open on this station")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="pack again an order this station already closed")
    ] = False,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Open a packing session for a scanned order (a barcode scanner types the number).

    Refused while another session is open (``session_open``, unless ``--abandon``) and for an
    order this station already closed (``order_shipped_before``, unless ``--force``: the
    platform or the merchant admin reopened it for a repack).
    """
    state = _state(home)
    if state.session_path.exists() and not abandon:
        current = state.session()
        raise NeedsForceError(
            f"session {current['session_id']} for order {current['order_id']} is still open: "
            "close it (`orderseal station close`) or pass --abandon",
            code="session_open",
        )
    scanned = (order_id or typer.prompt("Scan the order barcode")).strip()
    shipped = state.records.closed_before(scanned)
    if shipped is not None and not force:
        raise NeedsForceError(
            f"this station already closed order {scanned} at {shipped} (its label is out): "
            "scan the parcel again? To repack it, the platform or merchant admin reopens the "
            "order, then pass --force",
            code="order_shipped_before",
        )
    try:
        with _service_calls():
            session = state.client().open_session(scanned)
    except ServiceUnreachableError as exc:
        _open_offline(state, scanned, exc)
        return
    except ServiceRefusedError as exc:
        if exc.code != "order_already_packed":
            raise
        raise ServiceRefusedError(
            f"order {scanned} is already packed (its label is out): only the platform or the "
            "merchant admin can reopen it for a repack",
            code=exc.code,
        ) from exc
    if state.session_path.exists():
        old = state.session()
        console.print(f"[yellow]abandoned[/] session {old['session_id']} (order {old['order_id']})")
    opened_at = datetime.now(UTC).isoformat()
    _write_json(state.session_path, {**session, "opened_at": opened_at})
    if shipped is not None:
        console.print(
            f"[yellow]forced[/]: order {scanned} is packed again (closed before {shipped})"
        )
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


def _open_session_or_none(state: StationState) -> SessionResponse | None:
    return state.session() if state.session_path.exists() else None


def _flush(state: StationState) -> FlushResult:
    """Upload the queue, a progress bar per capture, and remember what was sealed."""
    client = state.client()
    records = state.records
    offline = state.offline
    opened = offline.open_official(client) if offline.pending() else None
    # Every synced session's held captures move into it, also those a crash left behind.
    for synced in offline.pending():
        if synced.session_id is None:
            continue
        official: SessionResponse = {
            "session_id": synced.session_id or "",
            "order_id": synced.order_id,
            "stage": "shipment",
            "expires_at": "",
        }
        moved = state.queue.rebind(synced.local_session_id, official, client.device)
        if moved or (opened and synced in opened.opened):
            console.print(
                f"synced offline session {synced.local_session_id} (order {synced.order_id}) "
                f"as {synced.session_id}: {moved} capture(s) to seal"
            )
    with _progress_bar() as progress:

        def bar(entry: QueuedCapture) -> Callable[[int], None]:
            # The bar appears with the first byte sent, named by the capture being sent: a
            # service that is down shows no bar at all.
            task: list[TaskID] = []

            def advance(sent: int) -> None:
                if not task:
                    task.append(progress.add_task(entry.title, total=entry.size))
                progress.advance(task[0], sent)

            return advance

        result = state.queue.flush(client, progress=bar, session=_open_session_or_none(state))
    for entry, answer in result.sealed:
        records.record_sealed(
            content_sha256=entry.content_sha256,
            order_id=entry.order_id,
            session_id=entry.session_id,
            evidence_id=answer["evidence_id"],
            forced=entry.forced,
        )
    for answer in result.uploaded:
        console.print(f"sealed {answer['evidence_id']} ({answer['media_type']})")
    for answer in result.replayed:
        console.print(f"already sealed {answer['evidence_id']} (retry answered once)")
    _replace_labels(state, client, result, opened)
    for entry, refusal in result.rejected:
        console.print(
            f"[red]refused[/] {entry.capture_id} ({entry.title}): {refusal.code}: "
            f"{refusal.message} (kept: `orderseal station rejected`)",
            highlight=False,
        )
    if result.held:
        orders = ", ".join(sorted({e.order_id for e in result.held}))
        console.print(
            f"[yellow]held[/]: {len(result.held)} capture(s) of a previous enrolment wait for "
            f"a session of order {orders} (`orderseal station open ORDER`)"
        )
    if result.local:
        console.print(
            f"[yellow]queued[/]: {len(result.local)} capture(s) of a session opened offline stay "
            "queued, not sealed yet; they are sealed at the sync after it closes"
        )
    if result.offline:
        console.print(
            f"[yellow]service unreachable[/]: {result.remaining} capture(s) stay queued, "
            "not sealed yet; run `orderseal station flush` when it is back"
        )
    if result.blocked is not None:
        console.print(
            f"[red]this station is refused[/] ({result.blocked.code}: {result.blocked.message}): "
            f"{result.remaining} capture(s) stay queued; `orderseal station renew` before the "
            "certificate expires, `orderseal station reset` after revocation or expiry",
            highlight=False,
        )
    return result


def _exit_for(result: FlushResult) -> int:
    """0 all sealed, 1 something (or this station) refused, 2 something still queued."""
    if result.rejected or result.blocked is not None or result.provisional_refused:
        return EXIT_REFUSED
    if result.offline or result.held or result.local or result.provisional_pending:
        return EXIT_QUEUED
    return EXIT_OK


ForceOption = Annotated[
    bool, typer.Option("--force", help="seal despite the station's warnings (recorded)")
]


def _queue_checked(
    state: StationState,
    session: SessionResponse,
    files: list[Path],
    *,
    force: bool,
    serials: tuple[str, ...] = (),
) -> None:
    """Check every file first, then attest and queue them all (nothing queued on a refusal)."""
    opened_at = state.session_opened_at()
    warnings = [
        warning
        for path in files
        for warning in capture_warnings(
            path,
            order_id=session["order_id"],
            opened_at=opened_at,
            records=state.records,
            queue=state.queue,
        )
    ]
    forced = refuse_unless_forced(warnings, force=force)
    if forced:
        console.print(
            f"[yellow]forced[/] ({', '.join(forced)}): " + "; ".join(w.message for w in warnings)
        )
    device = state.device()
    for path in files:
        state.queue.add(
            path,
            device=device,
            order_id=session["order_id"],
            session_id=session["session_id"],
            title=path.name,
            serials=serials,
            forced=forced,
        )


@station_app.command()
def capture(
    files: Annotated[list[Path], typer.Argument(help="photos or videos to seal", exists=True)],
    serial: Annotated[
        list[str] | None, typer.Option("--serial", help="unit serial scanned (repeatable)")
    ] = None,
    force: ForceOption = False,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Attest and queue captures for the open session, then upload what the service takes.

    Exit 0 sealed, 1 refused, 2 queued (not sealed yet), 6 a warning (``--force``).
    """
    state = _state(home)
    session = state.session()
    _queue_checked(state, session, files, force=force, serials=tuple(serial or ()))
    raise typer.Exit(_exit_for(_flush(state)))


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
    retry_max: Annotated[
        float, typer.Option(min=0.1, help="longest wait between tries while the service is down")
    ] = 300.0,
    force: ForceOption = False,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Poll a hot folder: each new file is attested, queued and uploaded.

    A file written before the session opened is skipped with a warning (``--force`` takes it);
    bytes already taken for another order are skipped. While the service is down, uploads
    are retried after 1 s, 2 s, 4 s ... (with jitter) up to ``--retry-max``; new files are
    still attested and queued at once. Exit 0 when everything taken is sealed, 1 if something
    was refused, 2 if captures are still queued.
    """
    state = _state(home)
    session = state.session()
    deadline = time.monotonic() + max_seconds if max_seconds is not None else None
    sizes: dict[str, int] = {}
    backoff = Backoff(base=max(interval, 1.0), cap=retry_max)
    refused = False
    # Files a station check refused: not polled again in this run, and not remembered as
    # taken, so a later run with --force can take them.
    skipped: set[str] = set()
    console.print(f"watching {folder} for order {session['order_id']} (Ctrl-C to stop)")
    with _seen_files(state) as seen:
        try:
            while deadline is None or time.monotonic() < deadline:
                for path in _stable_new_files(folder, seen, sizes):
                    try:
                        _queue_checked(state, session, [path], force=force)
                        console.print(f"queued {path.name}")
                    except (NeedsForceError, ServiceRefusedError) as exc:
                        stat = path.stat()
                        skipped.add(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
                        console.print(f"[yellow]skipped[/] {exc.code}: {exc.message}")
                now = time.monotonic()
                if (state.queue.pending() or state.offline.pending()) and backoff.due(now):
                    result = _flush(state)
                    refused = refused or bool(result.rejected) or result.blocked is not None
                    if result.offline or result.blocked is not None:
                        delay = backoff.failed(time.monotonic())
                        console.print(f"next try in {delay:.1f} s")
                    else:
                        backoff.succeeded()
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
        finally:
            seen.difference_update(skipped)
    if refused:
        raise typer.Exit(EXIT_REFUSED)
    raise typer.Exit(EXIT_QUEUED if state.queue.pending() else EXIT_OK)


def _open_offline(state: StationState, order_id: str, unreachable: ServiceUnreachableError) -> None:
    """The service is unreachable: open the session locally if the signed assignment list
    names the order (exit 2: the service has not seen it yet).

    Raises:
        ServiceUnreachableError: the order is not on a valid assignment list.
    """
    config = state.config()
    try:
        listed, _ = state.offline.assignment(device_id=config["device_id"], root=state.root())
    except StationError as exc:
        raise ServiceUnreachableError(
            f"the capture service is unreachable, and this station cannot pack offline "
            f"({exc.code}: {exc.message})"
        ) from unreachable
    now = datetime.now(UTC)
    if not listed.covers(order_id, at=now):
        raise ServiceUnreachableError(
            f"the capture service is unreachable, and order {order_id} is not on this "
            f"station's assignment list valid until {listed.expires_at.isoformat()}: pack it "
            "when the service is back"
        ) from unreachable
    if state.session_path.exists():
        old = state.session()
        console.print(f"[yellow]abandoned[/] session {old['session_id']} (order {old['order_id']})")
    local_id = f"{LOCAL_SESSION_PREFIX}{secrets.token_urlsafe(12)}"
    _write_json(
        state.session_path,
        {
            "session_id": local_id,
            "order_id": order_id,
            "stage": "shipment",
            "expires_at": listed.expires_at.isoformat(),
            "opened_at": now.isoformat(),
            "offline": True,
        },
    )
    console.print(
        f"[yellow]service unreachable[/]: session [bold]{local_id}[/] opened offline for order "
        f"{order_id} (assignment list valid until {listed.expires_at.isoformat()}); captures "
        "are queued and sealed at the next sync"
    )
    raise typer.Exit(EXIT_QUEUED)


def _replace_labels(
    state: StationState, client: StationClient, result: FlushResult, opened: SyncResult | None
) -> None:
    """After the uploads: replace each synced provisional label whose captures are all sealed,
    and tell what the sync refused or left for later."""
    offline = state.offline
    refused = list(opened.refused) if opened else []
    if offline.pending() and not result.offline and not (opened and opened.offline):
        queued = {e.session_id for e in state.queue.pending()}
        replaced = offline.replace_labels(client, queued_sessions=queued)
        refused += replaced.refused
        for entry in replaced.replaced:
            console.print(
                f"label of order {entry.order_id} replaced: the provisional label of "
                f"{entry.local_session_id} now opens official session {entry.session_id} "
                f"(reprint: `orderseal station label {entry.order_id}`)"
            )
    for entry in refused:
        console.print(
            f"[red]sync refused[/] {entry.local_session_id} (order {entry.order_id}): "
            f"{entry.refused_code}: {entry.refused_message} (its captures stay held: "
            "`orderseal station drop --held`)",
            highlight=False,
        )
        result.provisional_refused.append(f"{entry.refused_code}: {entry.refused_message}")
    result.provisional_pending = len(offline.pending())
    if result.provisional_pending:
        console.print(
            f"[yellow]offline[/]: {result.provisional_pending} provisional label(s) not "
            "replaced yet; they are at the next sync"
        )


def _write_provisional_label(path: Path, url: str, order_id: str, dpi: int) -> None:
    """A 4x6 inch label with the provisional token's QR, drawn on the station (offline)."""
    try:
        import qrcode
        import qrcode.constants
        from PIL import Image, ImageDraw
    except ImportError as exc:
        raise StationError(
            "drawing an offline label needs qrcode and Pillow (pip install 'qrcode[pil]')",
            code="label_renderer_missing",
        ) from exc
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(url)
    qr = code.make_image().get_image().convert("L")
    width, height = 4 * dpi, 6 * dpi
    side = int(width * 0.8)
    page = Image.new("L", (width, height), 255)
    page.paste(qr.resize((side, side), Image.Resampling.NEAREST), ((width - side) // 2, dpi // 2))
    draw = ImageDraw.Draw(page)
    draw.text((dpi // 4, side + dpi * 3 // 4), f"ORDER {order_id}", fill=0)
    draw.text((dpi // 4, side + dpi), "PROVISIONAL LABEL (printed offline)", fill=0)
    page.save(path, format="PNG", dpi=(dpi, dpi))


def _close_offline(
    state: StationState, session: SessionResponse, *, out: Path | None, dpi: int, force: bool
) -> int:
    """Close a session opened offline: sign the provisional label, then try to sync at once.

    Returns:
        0 when the service already replaced the label, 2 while it is provisional.
    """
    local_id = session["session_id"]
    if not state.queue.pending(session_id=local_id) and not force:
        raise NeedsForceError(
            f"no capture was queued in offline session {local_id}: a label without evidence of "
            "this parcel? (--force to print it anyway; the service refuses it: session_empty)",
            code="session_no_new_captures",
        )
    config = state.config()
    _, assignment = state.offline.assignment(device_id=config["device_id"], root=state.root())
    entry = state.offline.close_offline(
        state.device(),
        order_id=session["order_id"],
        local_session_id=local_id,
        assignment_token=str(assignment["token"]),
    )
    state.records.record_closed(order_id=session["order_id"], session_id=local_id)
    state.session_path.unlink()
    console.print(
        f"session {local_id} closed offline; provisional label for order {entry.order_id} "
        f"(station clock {entry.closed_at})"
    )
    try:
        result = _flush(state)
    except ServiceUnreachableError:
        result = None
    synced = state.offline.for_order(entry.order_id)
    if synced is not None and synced.done and synced.local_session_id == local_id:
        if out is not None:
            with _service_calls():
                _write_label(state.client(), entry.order_id, out, dpi)
        return EXIT_OK
    if out is not None:
        base = str(assignment.get("label_base_url") or config["base_url"])
        _write_provisional_label(out, label_url(base, entry.token), entry.order_id, dpi)
        console.print(f"provisional label written to {out}")
    return _exit_for(result) if result is not None else EXIT_QUEUED


@station_app.command()
def sync(home: HomeOption = _DEFAULT_HOME) -> None:
    """Fetch this station's signed assignment list (for packing offline), then sync what was
    packed offline and upload the queue. Exit 0 all synced, 1 refused, 2 still queued, 5 the
    service is unreachable (the kept list still serves)."""
    state = _state(home)
    config = state.config()
    with _service_calls():
        data = state.client(timeout=30.0).assignments()
    listed = state.offline.save_assignment(data, device_id=config["device_id"], root=state.root())
    console.print(
        f"assignment list: {len(listed.order_ids)} order(s) this station may pack offline, "
        f"valid until {listed.expires_at.isoformat()}"
    )
    raise typer.Exit(_exit_for(_flush(state)))


@station_app.command()
def flush(home: HomeOption = _DEFAULT_HOME) -> None:
    """Upload every queued capture (exactly once each). Exit 0, 1 refused, 2 still queued."""
    raise typer.Exit(_exit_for(_flush(_state(home))))


def _certificate_status(state: StationState) -> dict[str, object]:
    certificate = x509.load_pem_x509_certificate(state.cert_path.read_bytes())
    not_after = certificate.not_valid_after_utc
    left = not_after - datetime.now(UTC)
    return {
        "not_after": not_after.isoformat(),
        "days_left": round(left.total_seconds() / 86400, 1),
        "expired": left.total_seconds() <= 0,
        "expiring_soon": left < _EXPIRY_WARNING,
    }


@station_app.command()
def status(home: HomeOption = _DEFAULT_HOME) -> None:
    """Identity, service and its reachability, certificate expiry, the session and the queue
    (JSON; ``warnings`` lists what needs the operator)."""
    state = _state(home)
    summary = state.queue.summary()
    session = state.session() if state.session_path.exists() else None
    warnings: list[str] = []
    identity = service = certificate = None
    if state.config_path.exists() and state.key_path.exists():
        config = state.config()
        identity = {
            "device_id": config["device_id"],
            "station_id": config["device_id"],
            "merchant_id": config.get("merchant_id"),
        }
        reachable = state.client(timeout=2.0).healthy(timeout=2.0)
        service = {"url": config["base_url"], "reachable": reachable}
        if not reachable:
            warnings.append("service unreachable: captures are queued, not sealed")
        certificate = _certificate_status(state)
        if certificate["expired"]:
            warnings.append("device certificate expired: `orderseal station reset`")
        elif certificate["expiring_soon"]:
            warnings.append("device certificate expires soon: `orderseal station renew`")
    else:
        warnings.append("not enrolled: `orderseal station enrol`")
    if summary["rejected"]:
        warnings.append(f"{summary['rejected']} refused capture(s): `orderseal station rejected`")
    provisional = state.offline.pending()
    offline: dict[str, object] = {"provisional_pending": len(provisional)}
    if state.offline.assignment_path.exists():
        kept = json.loads(state.offline.assignment_path.read_text())
        offline |= {
            "assigned_orders": len(kept.get("order_ids", [])),
            "until": kept.get("expires_at"),
        }
    if provisional:
        warnings.append(
            f"{len(provisional)} provisional label(s) not replaced yet: `orderseal station sync`"
        )
    other = [d for d in summary["devices"] if identity is None or d != identity["device_id"]]
    if other:
        warnings.append(f"captures of a previous enrolment ({', '.join(other)}) are held")
    console.print_json(
        data={
            "identity": identity,
            "service": service,
            "certificate": certificate,
            "session": session,
            "queue": summary,
            "offline": offline,
            "warnings": warnings,
        }
    )


def _write_label(client: StationClient, order_id: str, out: Path, dpi: int) -> None:
    is_pdf = out.suffix.lower() == ".pdf"
    fetch = client.label_pdf if is_pdf else client.label_png
    out.write_bytes(fetch(order_id, dpi=dpi))
    console.print(f"label written to {out}")


OutOption = Annotated[
    Path | None, typer.Option("--out", help="write the label here (.png or .pdf)")
]
DpiOption = Annotated[int, typer.Option(help="printer resolution: 203 or 300")]


@station_app.command()
def close(
    out: OutOption = None,
    dpi: DpiOption = 203,
    force: Annotated[
        bool, typer.Option("--force", help="close although this station sealed nothing new")
    ] = False,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Finish packing: upload the queue, close the session and fetch the parcel label.

    Exit 2 (no label yet) while captures of the session are queued; 6 when this station
    sealed nothing in the session (``--force`` asks the service, which refuses a session
    with no capture of its own: ``session_empty``).
    """
    state = _state(home)
    session = state.session()
    if session["session_id"].startswith(LOCAL_SESSION_PREFIX):
        raise typer.Exit(_close_offline(state, session, out=out, dpi=dpi, force=force))
    _flush(state)
    if state.queue.pending(session_id=session["session_id"]):
        raise QueuedError(
            "captures of this session are still queued, not sealed: the label waits until "
            "they are (`orderseal station flush`)"
        )
    if not state.records.sealed_in_session(session["session_id"]) and not force:
        raise NeedsForceError(
            f"this station sealed no capture in session {session['session_id']}: a label "
            "without new evidence of this parcel? (--force to ask the service anyway)",
            code="session_no_new_captures",
        )
    client = state.client()
    with _service_calls():
        label = client.close(session)
        state.records.record_closed(order_id=session["order_id"], session_id=session["session_id"])
        state.session_path.unlink()
        console.print(f"session closed; label token for order {label['order_id']}")
        if out is not None:
            _write_label(client, label["order_id"], out, dpi)


@station_app.command()
def label(
    order_id: Annotated[str, typer.Argument(help="order whose label to print again")],
    out: Annotated[Path, typer.Option("--out", help="write the label here (.png or .pdf)")],
    dpi: DpiOption = 203,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Print again the label of an order this station packed (the service refuses any other
    order, another merchant's or one another station packed, with ``no_label``)."""
    state = _state(home)
    with _service_calls():
        _write_label(state.client(), order_id.strip(), out, dpi)


@station_app.command()
def rejected(home: HomeOption = _DEFAULT_HOME) -> None:
    """Captures the service refused, with its code and message (oldest first)."""
    entries = _state(home).queue.rejected()
    if not entries:
        console.print("no refused captures")
    for entry, refusal in entries:
        console.print(
            f"{entry.capture_id}  order {entry.order_id}  {entry.title}  "
            f"{refusal.code}: {refusal.message or '(no message kept)'}  {refusal.refused_at}",
            highlight=False,
        )


def _selected(capture_id: str | None, every: bool) -> str | None:
    if (capture_id is not None) != every:  # exactly one of them
        return capture_id
    raise StationError("name one capture id or pass --all", code="invalid_arguments")


CaptureIdArgument = Annotated[
    str | None, typer.Argument(help="capture id (see `orderseal station rejected`)")
]
AllOption = Annotated[bool, typer.Option("--all", help="every refused capture")]


@station_app.command()
def retry(
    capture_id: CaptureIdArgument = None,
    every: AllOption = False,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Queue refused captures again (e.g. after the order was corrected) and upload them."""
    state = _state(home)
    moved = state.queue.retry(_selected(capture_id, every))
    if not moved:
        raise StationError("no such refused capture", code="rejected_unknown")
    console.print(f"queued again: {', '.join(moved)}")
    raise typer.Exit(_exit_for(_flush(state)))


@station_app.command()
def drop(
    capture_id: CaptureIdArgument = None,
    every: AllOption = False,
    held: Annotated[
        bool,
        typer.Option(
            "--held",
            help="the held captures of a previous enrolment, or of an offline session the "
            "service refused, instead",
        ),
    ] = False,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Delete refused captures (or, with ``--held``, a previous enrolment's held ones) for good
    (their files leave the station's queue)."""
    state = _state(home)
    if held:
        if capture_id is not None or every:
            raise StationError("--held takes no capture id or --all", code="invalid_arguments")
        dropped = state.queue.drop_held(state.config()["device_id"])
        for refused in state.offline.entries():
            if refused.refused_code is not None:
                dropped += state.queue.drop_session(refused.local_session_id)
    else:
        dropped = state.queue.drop(_selected(capture_id, every))
    if not dropped:
        raise StationError("no such refused capture", code="rejected_unknown")
    console.print(f"dropped: {', '.join(dropped)}")


@station_app.command()
def renew(home: HomeOption = _DEFAULT_HOME) -> None:
    """Renew the device certificate with the same key, before it expires (after: ``reset``)."""
    state = _state(home)
    with _service_calls():
        issued = state.client(timeout=30.0).renew()
    state.cert_path.write_text(issued["certificate_pem"] + issued["chain_pem"])
    console.print(f"renewed {issued['device_id']} (certificate valid until {issued['not_after']})")


@station_app.command()
def reset(
    device_id: Annotated[
        str, typer.Option("--device-id", help="the new device id (the old one stays revoked)")
    ],
    url: Annotated[
        str | None, typer.Option("--url", help="capture service base URL (default: the same)")
    ] = None,
    admin_key_file: AdminKeyFileOption = None,
    merchant: MerchantOption = None,
    home: HomeOption = _DEFAULT_HOME,
) -> None:
    """Enrol again with a new key after revocation or expiry, keeping the queue.

    Queued captures of the previous identity are held; opening a session for their order
    attests them again with the new key (same ``captured_at``) and uploads them.
    """
    state = _state(home)
    old = state.config()
    if device_id == old["device_id"]:
        raise StationError(
            f"expected a new device id: {device_id} is the enrolment being replaced",
            code="invalid_arguments",
        )
    admin_key = read_admin_key(admin_key_file)
    not_after = _enrol_key(
        state,
        url=url or old["base_url"],
        device_id=device_id,
        admin_key=admin_key,
        merchant=merchant or old.get("merchant_id"),
    )
    if state.session_path.exists():
        # The open session belongs to the old device: the service answers the new one 404.
        stale = state.session()
        state.session_path.unlink()
        console.print(
            f"session {stale['session_id']} (order {stale['order_id']}) of {old['device_id']} "
            "is dropped on this station; open the order again to seal its queued captures"
        )
    held = [e for e in state.queue.pending() if e.device_id != device_id]
    console.print(
        f"reset: enrolled [bold]{device_id}[/] (certificate valid until {not_after}) in place "
        f"of {old['device_id']}; {len(held)} queued capture(s) kept"
    )


def main() -> None:
    """``orderseal-station``, the station distribution's command: the same commands as
    ``orderseal station``, and the same exit statuses (3 with one line for a station error or a
    usage error, 4 for anything else; never a traceback).
    """
    # Without standalone mode click returns the code of typer.Exit instead of exiting.
    run_command(lambda: station_app(standalone_mode=False, prog_name="orderseal-station"), console)


if __name__ == "__main__":
    main()

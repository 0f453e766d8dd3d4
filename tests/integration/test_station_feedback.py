"""``orderseal station`` tells the operator the truth: exit statuses that tell sealed from queued
from refused, warnings before wrong evidence is sealed, and ways out of refusals and broken
enrolments. Run through ``run_command`` (the real exit statuses) against one live server.

Adversaries, each next to the honest path:
- an operator (or a rogue station) sealing an old hot-folder photo, the previous parcel's, into
  a new order: refused unless ``--force``, and the override is recorded;
- the same bytes sealed into two orders: refused by the station, and by the service for a
  rogue station that skips the check (``409 capture_sealed_elsewhere``);
- a stolen admin key from shell history: ``--admin-key`` no longer exists, a world-readable
  key file is refused;
- a station reprinting the label of an order it did not pack, or of another merchant's order:
  ``no_label`` from the service, exit 1;
- an order already shipped reopened from the station, and a second label with no new capture:
  refused by the station and by the service (``order_already_packed``, ``session_empty``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from capture.devices import revoke_device
from clients.client import APIError, DeviceKey, PlatformClient, StationClient
from clients.commands import run_command
from clients.station.cli import StationState, console, station_app
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows

EXIT_OK, EXIT_REFUSED, EXIT_QUEUED, EXIT_STATION, EXIT_UNREACHABLE, EXIT_FORCE = 0, 1, 2, 3, 5, 6
DEAD_URL = "http://127.0.0.1:9"  # discard port: nothing listens


class Station:
    """One station folder, driven like ``orderseal-station`` on the command line."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str]:
        self.capsys.readouterr()
        argv = [*args, "--home", str(self.home)]
        with pytest.raises(SystemExit) as exited:
            run_command(lambda: station_app(args=argv, standalone_mode=False), console)
        out = self.capsys.readouterr().out
        return int(exited.value.code or 0), " ".join(out.split())

    @property
    def state(self) -> StationState:
        return StationState(self.home)

    def point_at(self, url: str) -> None:
        """Edit the service URL (a dead one makes the service unreachable)."""
        config = json.loads(self.state.config_path.read_text())
        self.state.config_path.write_text(json.dumps({**config, "base_url": url}))


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.fixture(autouse=True)
def _admin_key_in_env(monkeypatch: pytest.MonkeyPatch, credentials: dict[str, str]) -> None:
    monkeypatch.setenv("ORDERSEAL_ADMIN_KEY", credentials["admin"])


def _enrolled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], live_api: str, name: str = "st"
) -> Station:
    station = Station(tmp_path / name, capsys)
    device_id = f"station-fb-{name}-{secrets.token_hex(3)}"
    status, out = station("enrol", "--url", live_api, "--device-id", device_id)
    assert status == EXIT_OK, out
    return station


def _photo(folder: Path, name: str) -> Path:
    return make_jpeg(folder / f"{name}.jpg", seed=secrets.randbelow(10**9), size=(160, 120))


def _age(path: Path, minutes: int) -> Path:
    then = (datetime.now(UTC) - timedelta(minutes=minutes)).timestamp()
    os.utime(path, (then, then))
    return path


def test_admin_key_comes_from_the_environment_or_a_private_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    live_api: str,
    credentials: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    station = Station(tmp_path / "keys", capsys)
    enrol = ("enrol", "--url", live_api, "--device-id", f"station-key-{secrets.token_hex(3)}")
    # Shell history: the option is gone, so the secret is never typed on a command line.
    status, out = station(*enrol, "--admin-key", credentials["admin"])
    assert (status, "No such option" in out) == (EXIT_STATION, True), out
    monkeypatch.delenv("ORDERSEAL_ADMIN_KEY")
    status, out = station(*enrol)
    assert (status, "admin_key_missing" in out) == (EXIT_STATION, True), out
    key_file = tmp_path / "admin.key"
    key_file.write_text(credentials["admin"] + "\n")
    key_file.chmod(0o644)
    status, out = station(*enrol, "--admin-key-file", str(key_file))
    assert (status, "admin_key_file_unsafe" in out) == (EXIT_STATION, True), out
    assert not station.state.key_path.exists()
    key_file.chmod(0o600)
    status, out = station(*enrol, "--admin-key-file", str(key_file))
    assert status == EXIT_OK, out


def test_exit_statuses_tell_sealed_queued_refused_and_rejects_are_managed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    live_api: str,
    cast: flows.Actors,
    services: Services,
) -> None:
    station = _enrolled(tmp_path, capsys, live_api, "exits")
    order_id = flows.register_order(cast)
    assert station("open", order_id)[0] == EXIT_OK
    status, out = station("capture", str(_photo(tmp_path, "one")))
    assert (status, "sealed ev_" in out) == (EXIT_OK, True), out

    station.point_at(DEAD_URL)
    status, out = station("capture", str(_photo(tmp_path, "two")))
    assert (status, "not sealed yet" in out) == (EXIT_QUEUED, True), out
    status, out = station("close")
    assert (status, "queue_not_empty" in out) == (EXIT_QUEUED, True), out
    assert station("open", flows.register_order(cast), "--abandon")[0] == EXIT_UNREACHABLE
    status, out = station("status")
    report = json.loads(out)
    assert report["service"] == {"url": DEAD_URL, "reachable": False}
    assert report["queue"]["pending"] == 1
    assert any("unreachable" in w for w in report["warnings"])

    station.point_at(live_api)
    report = json.loads(station("status")[1])
    assert report["identity"]["device_id"] == station.state.config()["device_id"]
    assert report["service"]["reachable"] is True
    assert report["certificate"]["expiring_soon"] is False
    assert datetime.fromisoformat(report["certificate"]["not_after"]) > datetime.now(UTC)
    assert station("flush")[0] == EXIT_OK

    # A refused capture keeps the service's code and message; retry and drop act on it.
    status, out = station("capture", str(_photo(tmp_path, "unit")), "--serial", "SN-NOT-ON-IT")
    assert (status, "serial_mismatch" in out) == (EXIT_REFUSED, True), out
    [(entry, refusal)] = station.state.queue.rejected()
    assert (refusal.code, refusal.status) == ("serial_mismatch", 409)
    assert "SN-NOT-ON-IT" in refusal.message
    status, out = station("rejected")
    assert (status, entry.capture_id in out, "SN-NOT-ON-IT" in out) == (EXIT_OK, True, True)
    assert station("retry", entry.capture_id)[0] == EXIT_REFUSED  # still the wrong unit
    assert station("retry")[0] == EXIT_STATION  # neither an id nor --all
    assert station("drop", "cap-unknown")[0] == EXIT_STATION
    status, out = station("drop", "--all")
    assert (status, entry.capture_id in out) == (EXIT_OK, True), out
    assert station.state.queue.rejected() == []

    status, out = station("close", "--out", str(tmp_path / "label.png"))
    assert status == EXIT_OK, out
    assert len(services.ledger.evidence_for_order(order_id)) == 2


def test_old_hot_folder_photo_is_refused_unless_forced(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    live_api: str,
    cast: flows.Actors,
    services: Services,
) -> None:
    station = _enrolled(tmp_path, capsys, live_api, "stale")
    hot = tmp_path / "hot"
    hot.mkdir()
    previous_parcel = _age(_photo(hot, "IMG_0001"), minutes=10)
    order_id = flows.register_order(cast)
    assert station("open", order_id)[0] == EXIT_OK
    status, out = station("capture", str(previous_parcel), str(_photo(tmp_path, "fresh")))
    assert (status, "capture_older_than_session" in out) == (EXIT_FORCE, True), out
    assert station.state.queue.pending() == []  # nothing of the command was queued

    # The hot folder skips it and takes the new photo.
    _photo(hot, "IMG_0002")
    status, out = station("watch", str(hot), "--interval", "0.1", "--max-seconds", "1.2")
    assert status == EXIT_OK, out
    assert "skipped capture_older_than_session" in out
    assert "queued IMG_0002.jpg" in out
    assert [r.title for r in services.ledger.evidence_for_order(order_id)] == ["IMG_0002.jpg"]

    with caplog.at_level(logging.WARNING, logger="capture.routes.uploads"):
        status, out = station("capture", str(previous_parcel), "--force")
    assert (status, "forced (capture_older_than_session)" in out) == (EXIT_OK, True), out
    forced = [r for r in services.ledger.evidence_for_order(order_id) if r.title == "IMG_0001.jpg"]
    assert len(forced) == 1
    # The override reaches the service (signed query) and its log names the evidence.
    assert any(
        "forced capture_older_than_session" in r.getMessage()
        and forced[0].evidence_id in r.getMessage()
        for r in caplog.records
    )


def test_the_same_bytes_never_seal_into_two_orders(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    live_api: str,
    cast: flows.Actors,
    services: Services,
) -> None:
    station = _enrolled(tmp_path, capsys, live_api, "dup")
    photo = _photo(tmp_path, "parcel")
    first, second = flows.register_order(cast), flows.register_order(cast)
    assert station("open", first)[0] == EXIT_OK
    assert station("capture", str(photo))[0] == EXIT_OK
    assert station("close")[0] == EXIT_OK
    assert station("open", second)[0] == EXIT_OK
    for force in ((), ("--force",)):
        status, out = station("capture", str(photo), *force)
        assert (status, "capture_already_taken" in out) == (EXIT_REFUSED, True), out
    assert services.ledger.evidence_for_order(second) == []

    # A station with no memory of it (re-installed, or rogue) is refused by the service. The
    # photo predates this session, so the station warns first; --force overrides its warning,
    # never the service's refusal (and keeps the test independent of how long setup took).
    other = _enrolled(tmp_path, capsys, live_api, "dup-other")
    assert other("open", second)[0] == EXIT_OK
    status, out = other("capture", str(photo), "--force")
    assert (status, "capture_sealed_elsewhere" in out) == (EXIT_REFUSED, True), out
    [(_, refusal)] = other.state.queue.rejected()
    assert refusal.code == "capture_sealed_elsewhere"
    assert first in refusal.message
    rogue = StationClient(live_api, other.state.device())
    with pytest.raises(APIError) as refused:
        rogue.upload(other.state.session(), photo, title="again.jpg")
    assert (refused.value.status, refused.value.code) == (409, "capture_sealed_elsewhere")
    assert services.ledger.evidence_for_order(second) == []


def test_open_and_close_refuse_what_is_probably_a_mistake(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    live_api: str,
    cast: flows.Actors,
) -> None:
    station = _enrolled(tmp_path, capsys, live_api, "open")
    order_a, order_b = flows.register_order(cast), flows.register_order(cast)
    assert station("open", order_a)[0] == EXIT_OK
    session_a = station.state.session()["session_id"]
    status, out = station("open", order_b)
    assert (status, "session_open" in out, session_a in out) == (EXIT_FORCE, True, True), out
    status, out = station("open", order_b, "--abandon")
    assert (status, f"abandoned session {session_a}" in out) == (EXIT_OK, True), out
    # No capture in this session: no label without --force, and the service refuses anyway.
    status, out = station("close")
    assert (status, "session_no_new_captures" in out) == (EXIT_FORCE, True), out
    status, out = station("close", "--force")
    assert (status, "session_empty" in out) == (EXIT_REFUSED, True), out

    assert station("capture", str(_photo(tmp_path, "b")))[0] == EXIT_OK
    assert station("close")[0] == EXIT_OK
    # Scanning the shipped parcel again: the station remembers it closed it.
    status, out = station("open", order_b)
    assert (status, "order_shipped_before" in out) == (EXIT_FORCE, True), out
    status, out = station("open", order_b, "--force")
    assert (status, "order_already_packed" in out) == (EXIT_REFUSED, True), out
    # The platform reopens it for a repack: a new label needs a new capture of this session.
    cast.platform.call("POST", f"/v1/orders/{order_b}/reopen")
    assert station("open", order_b, "--force")[0] == EXIT_OK
    assert station("close", "--force")[0] == EXIT_REFUSED  # session_empty: nothing new
    assert station("capture", str(_photo(tmp_path, "b-repack")))[0] == EXIT_OK
    assert station("close")[0] == EXIT_OK


def test_labels_reprint_only_for_orders_this_station_packed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    live_api: str,
    cast: flows.Actors,
    credentials: dict[str, str],
    services: Services,
) -> None:
    station = _enrolled(tmp_path, capsys, live_api, "label")
    mine = flows.register_order(cast)
    assert station("open", mine)[0] == EXIT_OK
    assert station("capture", str(_photo(tmp_path, "mine")))[0] == EXIT_OK
    assert station("close")[0] == EXIT_OK
    status, out = station("label", mine, "--out", str(tmp_path / "again.pdf"), "--dpi", "300")
    assert status == EXIT_OK, out
    assert (tmp_path / "again.pdf").read_bytes().startswith(b"%PDF")

    packed_elsewhere = flows.register_order(cast)
    flows.ship(cast, packed_elsewhere, tmp_path)
    merchant_id = f"m-fb-{secrets.token_hex(3)}"
    services.ledger.merchants.add(merchant_id, name="Other seller", now=services.clock())
    foreign = StationClient(live_api, DeviceKey.generate(f"station-x-{secrets.token_hex(3)}"))
    PlatformClient(live_api, credentials["admin"]).enrol_device(
        foreign.device, kind="station", merchant_id=merchant_id
    )
    foreign_order = f"ORD-X-{secrets.token_hex(3)}"
    cast.platform.call(
        "POST",
        "/v1/orders",
        json={
            "order_id": foreign_order,
            "buyer_id": cast.buyer_id,
            "items": [{"sku": "SKU-1", "quantity": 1}],
            "declared_value": "10.00",
            "currency": "USD",
            "merchant_id": merchant_id,
        },
    )
    session = foreign.open_session(foreign_order)
    foreign.upload(session, _photo(tmp_path, "foreign"), title="f.jpg")
    foreign.close(session)
    for order_id in (packed_elsewhere, foreign_order, "ORD-NEVER"):
        out_file = tmp_path / f"{order_id}.png"
        status, out = station("label", order_id, "--out", str(out_file))
        assert (status, "no_label" in out, out_file.exists()) == (EXIT_REFUSED, True, False)


def test_renew_then_reset_after_revocation_keeps_the_queue(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    live_api: str,
    cast: flows.Actors,
    services: Services,
) -> None:
    station = _enrolled(tmp_path, capsys, live_api, "renew")
    old_serial = station.state.device().certificate.serial_number  # type: ignore[union-attr]
    status, out = station("renew")
    assert status == EXIT_OK, out
    assert station.state.device().certificate.serial_number != old_serial  # type: ignore[union-attr]

    order_id, elsewhere = flows.register_order(cast), flows.register_order(cast)
    assert station("open", elsewhere)[0] == EXIT_OK
    station.point_at(DEAD_URL)
    assert station("capture", str(_photo(tmp_path, "elsewhere")))[0] == EXIT_QUEUED
    station.point_at(live_api)
    assert station("open", order_id, "--abandon")[0] == EXIT_OK
    opened = datetime.now(UTC)
    station.point_at(DEAD_URL)
    assert station("capture", str(_photo(tmp_path, "offline")))[0] == EXIT_QUEUED
    old_device = station.state.config()["device_id"]
    revoke_device(
        services.keys, services.ledger, old_device, reason="key_compromise", now=datetime.now(UTC)
    )
    station.point_at(live_api)
    # Revoked: the queue is kept, not turned into rejects.
    status, out = station("flush")
    assert (status, "device_revoked" in out) == (EXIT_REFUSED, True), out
    assert len(station.state.queue.pending()) == 2
    assert station.state.queue.rejected() == []
    assert station("renew")[0] == EXIT_REFUSED

    assert station("reset", "--device-id", old_device)[0] == EXIT_STATION
    new_device = f"{old_device}-r1"
    status, out = station("reset", "--device-id", new_device)
    assert (status, "2 queued capture(s) kept" in out) == (EXIT_OK, True), out
    assert not station.state.session_path.exists()
    status, out = station("flush")
    assert (status, "held" in out) == (EXIT_QUEUED, True), out
    # A session of the same order: the held capture is attested again and sealed.
    status, out = station("open", order_id)
    assert status == EXIT_OK, out
    status, out = station("flush")
    # Sealed; the other order's capture stays held (exit 2) until dropped.
    assert (status, "sealed ev_" in out, "held" in out) == (EXIT_QUEUED, True, True), out
    [held] = station.state.queue.pending()
    assert held.order_id == elsewhere
    assert station("drop", "--held", "--all")[0] == EXIT_STATION
    status, out = station("drop", "--held")
    assert (status, held.capture_id in out) == (EXIT_OK, True), out
    assert station.state.queue.pending() == []
    assert station("flush")[0] == EXIT_OK
    [row] = services.ledger.evidence_for_order(order_id)
    assert row.device_id == new_device
    # The original station clock at capture is kept (before the new session opened).
    session = services.ledger.get_session(station.state.session()["session_id"])
    assert session is not None
    zone = row.captured_at.tzinfo
    assert opened.replace(tzinfo=zone) - timedelta(seconds=5) <= row.captured_at
    assert row.captured_at < session.opened_at.replace(tzinfo=zone)


def test_watch_backs_off_while_the_service_is_down(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    live_api: str,
    cast: flows.Actors,
) -> None:
    station = _enrolled(tmp_path, capsys, live_api, "watch")
    assert station("open", flows.register_order(cast))[0] == EXIT_OK
    hot = tmp_path / "hot-down"
    hot.mkdir()
    station.point_at(DEAD_URL)
    _photo(hot, "IMG_0100")
    status, out = station("watch", str(hot), "--interval", "0.1", "--max-seconds", "4")
    assert status == EXIT_QUEUED, out
    # Polled 40 times, but tried about 1 s, 2 s, 4 s apart (jitter), not every poll.
    tries = len(re.findall(r"next try in", out))
    assert 1 <= tries <= 4, out
    assert "queued IMG_0100.jpg" in out
    station.point_at(live_api)
    assert station("flush")[0] == EXIT_OK

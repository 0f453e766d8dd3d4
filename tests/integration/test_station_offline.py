"""Offline packing (issue 18 §1): a packing line that keeps running while the service is
unreachable, against one live server.

The station's offline day runs as one test through the real command line: sync the signed
assignment list, lose the service, open, capture and print a provisional label, get the
service back, sync (sealed once, label replaced), then the buyer scans the *provisional*
label and seals a receipt chained to the shipment. Its transcript is saved under
``test-artifacts/station-offline-day.txt``.

Adversaries, each next to the honest path:
- a station of another merchant submitting a provisional session for an order it is not
  assigned (its own list, or the honest station's list): refused, and the buyer's scan of its
  label opens nothing (``label_not_assigned``);
- a buyer forging a provisional label with their own device key (naming themselves, or naming
  the honest station): ``token_forged``, and the QR check shows the scam warning;
- one sync replayed: the same session and the same official label, never a second;
- a second provisional label under a synced local session, for another order (a stolen
  station key replaying it onto another order): ``provisional_conflict`` at sync,
  ``label_order_mismatch`` at the buyer's scan;
- a station clock far off: the gap is recorded within the bound, the sync refused beyond it;
- a provisional label used after it was replaced: it opens the official session, marked, and
  is refused when policy says so.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.client import APIError, BuyerClient, DeviceKey, PlatformClient, StationClient
from clients.commands import run_command
from clients.station.cli import StationState, console, station_app
from evidence.manifest import ASSERTION_LABEL
from evidence.reader import TrustSettings, read_evidence
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows
from tests.support.paths import repo_root
from wire.provisional import ProvisionalLabel, issue_provisional_token

EXIT_OK, EXIT_REFUSED, EXIT_QUEUED = 0, 1, 2
DEAD_URL = "http://127.0.0.1:9"  # discard port: nothing listens
TRANSCRIPT = "test-artifacts/station-offline-day.txt"


class Station:
    """One station folder, driven like ``orderseal-station``; keeps a transcript."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self.capsys = capsys
        self.transcript: list[str] = []

    def __call__(self, *args: str) -> tuple[int, str]:
        self.capsys.readouterr()
        argv = [*args, "--home", str(self.home)]
        with pytest.raises(SystemExit) as exited:
            run_command(lambda: station_app(args=argv, standalone_mode=False), console)
        out = self.capsys.readouterr().out
        status = int(exited.value.code or 0)
        shown = " ".join(a if not a.startswith("/") else Path(a).name for a in args)
        self.transcript.append(f"$ orderseal station {shown}\n{out.rstrip()}\n[exit {status}]\n")
        return status, " ".join(out.split())

    def note(self, text: str) -> None:
        self.transcript.append(f"# {text}\n")

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


def _refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status, caught.value.code


def _open_receipt(buyer: BuyerClient, token: str) -> tuple[int, str]:
    response = buyer.http.post("/v1/receipt-sessions", json={"token": token})
    body = response.json()
    return response.status_code, body.get("error", {}).get("code", "opened")


def _assertion(services: Services, path: Path) -> dict[str, Any]:
    report = read_evidence(path, trust=TrustSettings(anchors_pem=services.keys.trust_list().pem))
    data: dict[str, Any] = report.active_manifest.assertions[ASSERTION_LABEL]
    return data


def _shipment_assertion(services: Services, order_id: str, work: Path) -> dict[str, Any]:
    rows = services.ledger.evidence_for_order(order_id, "shipment")
    assert len(rows) == 1
    with services.store.open_local(rows[0].storage_key) as stored:
        copy = work / f"{order_id}-shipment-sealed.jpg"
        copy.write_bytes(stored.read_bytes())
    return _assertion(services, copy)


def _photo(work: Path, name: str) -> Path:
    return make_jpeg(work / f"{name}.jpg", seed=secrets.randbelow(10**9), size=(160, 120))


def _provisional(
    key: DeviceKey,
    order_id: str,
    *,
    local_id: str | None = None,
    device_id: str | None = None,
    at: datetime | None = None,
) -> str:
    label = ProvisionalLabel(
        order_id=order_id,
        device_id=device_id or key.device_id,
        local_session_id=local_id or f"ls_{secrets.token_urlsafe(9)}",
        station_time=at or datetime.now(UTC),
        nonce=secrets.token_urlsafe(6),
    )
    return issue_provisional_token(key.private_key, label)


def _sync(
    station: StationClient, token: str, assignment: str, *, clock: datetime | None = None
) -> dict[str, Any]:
    return station.sync_provisional(
        provisional_token=token,
        assignment_token=assignment,
        station_clock=(clock or datetime.now(UTC)).isoformat(),
    )


def _pack_offline(
    station: StationClient, order_id: str, work: Path, *, clock: datetime | None = None
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A rogue-free station's whole sync through the API: provisional token, session, label."""
    assignment = station.assignments()
    assert order_id in assignment["order_ids"]
    token = _provisional(station.device, order_id)
    opened = _sync(station, token, assignment["token"], clock=clock)
    session = {**opened, "stage": "shipment"}
    station.upload(session, _photo(work, f"{order_id}-offline"), title="pack.jpg")
    label = station.close_provisional(opened["local_session_id"])
    return token, opened, label


def test_the_stations_offline_day(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    live_api: str,
    cast: flows.Actors,
    services: Services,
) -> None:
    station = Station(tmp_path / "line-1", capsys)
    device_id = f"station-offline-{secrets.token_hex(3)}"
    assert station("enrol", "--url", live_api, "--device-id", device_id)[0] == EXIT_OK
    order_id = flows.register_order(cast)

    station.note("morning, online: the station keeps the signed list of orders it may pack")
    status, out = station("sync")
    assert (status, "assignment list:" in out) == (EXIT_OK, True), out

    station.note("the network drops: the line keeps packing")
    station.point_at(DEAD_URL)
    status, out = station("open", order_id)
    assert (status, "opened offline" in out) == (EXIT_QUEUED, True), out
    status, out = station("capture", str(_photo(tmp_path, "parcel")))
    assert (status, "stay queued, not sealed yet" in out) == (EXIT_QUEUED, True), out
    label_png = tmp_path / "provisional-label.png"
    status, out = station("close", "--out", str(label_png))
    assert (status, "provisional label written" in out) == (EXIT_QUEUED, True), out
    assert label_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    provisional = station.state.offline.for_order(order_id)
    assert provisional is not None
    assert provisional.token.startswith("OSP1.")
    assert provisional.official_token is None
    status, out = station("status")
    report = json.loads(out)
    assert report["offline"]["provisional_pending"] == 1, out
    assert any("provisional label" in w for w in report["warnings"]), out

    # The parcel leaves before the sync: the buyer's scan says "not synced yet", no scam card.
    buyer = cast.buyer()
    assert _open_receipt(buyer, provisional.token) == (409, "label_not_yet_synced")
    assert buyer.check_qr(provisional.token)["state"] == "not_yet_synced"
    station.note("buyer scans the provisional label before the sync: 409 label_not_yet_synced")

    station.note("the network is back: sync seals the captures once and replaces the label")
    station.point_at(live_api)
    status, out = station("sync")
    assert (status, "sealed ev_" in out, "replaced" in out) == (EXIT_OK, True, True), out
    synced = station.state.offline.for_order(order_id)
    assert synced is not None
    assert synced.official_token is not None
    assert synced.official_token.startswith("OS1.")

    # The seal and the ledger keep both clocks and their gap.
    row = services.ledger.provisional.get(device_id, synced.local_session_id)
    assert row is not None
    assert row.session_id == synced.session_id
    assert abs(row.clock_gap_seconds) < 60
    offline = _shipment_assertion(services, order_id, tmp_path)["offline"]
    assert offline["local_session_id"] == synced.local_session_id
    assert offline["clock_gap_seconds"] == row.clock_gap_seconds
    assert {"station_clock", "service_clock", "station_closed_at"} <= offline.keys()

    # Exactly once: a second sync does nothing; the raw replays answer the first results.
    status, out = station("sync")
    assert (status, "sealed ev_" in out, "replaced" in out) == (EXIT_OK, False, False), out
    client = station.state.client()
    again = _sync(client, synced.token, synced.assignment_token)
    assert (again["session_id"], again["replayed"]) == (synced.session_id, True)
    label = client.close_provisional(synced.local_session_id)
    assert (label["token"], label["replayed"]) == (synced.official_token, True)
    assert len(services.ledger.evidence_for_order(order_id, "shipment")) == 1
    packed = services.ledger.packed_shipment_session(order_id)
    assert packed is not None
    assert packed.session_id == synced.session_id
    status, out = station("label", order_id, "--out", str(tmp_path / "official.png"))
    assert status == EXIT_OK, out

    station.note("the buyer scans the provisional label on the parcel")
    shipped = flows.Shipped(order_id, [], provisional.token)
    sealed = flows.receive(cast, shipped, tmp_path)
    receipt = _assertion(services, sealed[0])
    assert receipt["label_provisional"] is True
    station.note(
        f"receipt sealed from the provisional label (label_provisional), chained to "
        f"{len(receipt['chain'])} shipment seal(s); shipment seal clock gap "
        f"{offline['clock_gap_seconds']} s"
    )
    assert [link["manifest_id"] for link in receipt["chain"]] == [
        e.manifest_id for e in services.ledger.evidence_for_order(order_id, "shipment")
    ]
    decided = flows.dispute(cast, order_id, sealed)
    assert decided["verdict"]["decision"] == "allow", flows.codes(decided)
    station.note(
        f"receipt sealed and chained to the shipment: verdict {decided['verdict']['decision']}"
    )

    artifact = repo_root() / TRANSCRIPT
    artifact.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(station.transcript)
    for real, shown in ((device_id, "station-line-1"), (live_api, "SERVICE"), (str(tmp_path), ".")):
        text = text.replace(real, shown)
    artifact.write_text(text)


@pytest.fixture(scope="module")
def rival(live_api: str, credentials: dict[str, str], services: Services) -> StationClient:
    """A station of another merchant."""
    merchant_id = f"m-rival-{secrets.token_hex(3)}"
    services.ledger.merchants.add(merchant_id, name="Rival", now=services.clock())
    device = DeviceKey.generate(f"station-rival-{secrets.token_hex(3)}")
    PlatformClient(live_api, credentials["admin"]).enrol_device(
        device, kind="station", merchant_id=merchant_id
    )
    return StationClient(live_api, device)


def test_a_station_of_another_merchant_cannot_sync_an_order_it_is_not_assigned(
    cast: flows.Actors, rival: StationClient, tmp_path: Path
) -> None:
    order_id = flows.register_order(cast)
    own = rival.assignments()
    assert order_id not in own["order_ids"]
    token = _provisional(rival.device, order_id)
    assert _refused(lambda: _sync(rival, token, own["token"])) == (403, "order_not_assigned")
    # The honest station's list is not the rival's to present.
    honest = cast.station.assignments()
    assert order_id in honest["order_ids"]
    assert _refused(lambda: _sync(rival, token, honest["token"])) == (403, "assignment_invalid")
    # The rival's label on the parcel opens nothing and is not "not synced yet" either.
    assert _open_receipt(cast.buyer(), token) == (403, "label_not_assigned")
    # Honest path: the assigned station syncs the same order.
    _, opened, label = _pack_offline(cast.station, order_id, tmp_path)
    assert (opened["order_id"], label["token"][:4]) == (order_id, "OS1.")


def test_a_buyer_cannot_forge_a_provisional_label_with_their_own_key(
    cast: flows.Actors, tmp_path: Path
) -> None:
    order_id = flows.register_order(cast)
    buyer = cast.buyer()
    as_self = _provisional(cast.buyer_device, order_id)
    as_station = _provisional(cast.buyer_device, order_id, device_id=cast.station.device.device_id)
    for forged in (as_self, as_station):
        assert _open_receipt(buyer, forged) == (401, "token_forged")
        assert buyer.check_qr(forged)["state"] == "not_official"
    # Honest path: the station's own label, once synced, opens the receipt.
    token, _, _ = _pack_offline(cast.station, order_id, tmp_path)
    assert _open_receipt(buyer, token) == (201, "opened")


def test_a_synced_local_session_cannot_be_replayed_onto_another_order(
    cast: flows.Actors, tmp_path: Path
) -> None:
    first, second = flows.register_order(cast), flows.register_order(cast)
    token, opened, label = _pack_offline(cast.station, first, tmp_path)
    assignment = cast.station.assignments()["token"]
    # Replaying the same sync answers the same session and label.
    again = _sync(cast.station, token, assignment)
    assert (again["session_id"], again["replayed"]) == (opened["session_id"], True)
    assert cast.station.close_provisional(opened["local_session_id"])["token"] == label["token"]
    # A second token under the same local session id, for another order.
    other = _provisional(cast.station.device, second, local_id=opened["local_session_id"])
    assert _refused(lambda: _sync(cast.station, other, assignment)) == (409, "provisional_conflict")
    assert _open_receipt(cast.buyer(), other) == (403, "label_order_mismatch")
    assert cast.buyer().check_qr(other)["state"] == "not_official"


@pytest.mark.parametrize(
    ("offset_seconds", "accepted"),
    [(-270, True), (270, True), (-330, False), (330, False), (-3600, False)],
    ids=["behind-within", "ahead-within", "behind-beyond", "ahead-beyond", "an-hour-behind"],
)
def test_a_station_clock_gap_is_recorded_within_the_bound_and_refused_beyond(
    cast: flows.Actors, services: Services, offset_seconds: int, accepted: bool
) -> None:
    order_id = flows.register_order(cast)
    assignment = cast.station.assignments()["token"]
    # The station closed the session on its own clock just before it synced.
    clock = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    token = _provisional(cast.station.device, order_id, at=clock)
    if not accepted:
        assert _refused(lambda: _sync(cast.station, token, assignment, clock=clock)) == (
            409,
            "station_clock_skewed",
        )
        return
    opened = _sync(cast.station, token, assignment, clock=clock)
    assert abs(opened["clock_gap_seconds"] + offset_seconds) < 15
    row = services.ledger.provisional.get(cast.station.device.device_id, opened["local_session_id"])
    assert row is not None
    assert row.clock_gap_seconds == opened["clock_gap_seconds"]


def test_a_replaced_provisional_label_opens_the_official_session_or_is_refused_by_policy(
    cast: flows.Actors, services: Services, tmp_path: Path
) -> None:
    order_id = flows.register_order(cast)
    token, _opened, label = _pack_offline(cast.station, order_id, tmp_path)
    buyer = cast.buyer()
    checked = buyer.check_qr(token)
    assert (checked["state"], checked["order_id"]) == ("official", order_id)
    resolver = services.capture.sessions.provisional
    assert resolver is not None
    resolver.policy = "refuse"
    try:
        assert _open_receipt(buyer, token) == (403, "label_provisional_refused")
        assert buyer.check_qr(token)["state"] == "provisional_refused"
        # The official label that replaced it is not affected by the policy.
        assert _open_receipt(buyer, label["token"]) == (201, "opened")
    finally:
        resolver.policy = "accept"
    response = buyer.http.post("/v1/receipt-sessions", json={"token": token})
    assert response.status_code == 201
    session = response.json()
    assert session["order_id"] == order_id
    assert services.ledger.provisional.receipt(session["session_id"]) is not None


def test_an_assignment_list_is_bounded_and_only_the_stations_merchants(
    cast: flows.Actors, rival: StationClient, services: Services
) -> None:
    mine = flows.register_order(cast)
    listed = cast.station.assignments()
    assert mine in listed["order_ids"]
    assert len(listed["order_ids"]) <= services.settings.offline_max_assigned_orders
    assert mine not in rival.assignments()["order_ids"]
    expires = datetime.fromisoformat(listed["expires_at"])
    issued = datetime.fromisoformat(listed["issued_at"])
    assert expires - issued == timedelta(hours=services.settings.offline_assignment_hours)
    # An edited list (an order added by hand) is not the service's signature any more.
    prefix, body, signature = listed["token"].split(".")
    forged = f"{prefix}.{body[:-2]}AA.{signature}"
    token = _provisional(cast.station.device, mine)
    assert _refused(lambda: _sync(cast.station, token, forged)) == (403, "assignment_invalid")
    assert httpx.get(f"{cast.base_url}/v1/stations/me/assignments", timeout=10).status_code == 401


def test_a_label_closed_outside_its_list_or_after_its_own_sync_clock_is_refused(
    cast: flows.Actors,
) -> None:
    order_id = flows.register_order(cast)
    listed = cast.station.assignments()
    issued = datetime.fromisoformat(listed["issued_at"])
    # Closed (by a right clock) a minute before the list it claims to pack from existed.
    early = _provisional(cast.station.device, order_id, at=issued - timedelta(seconds=60))
    assert _refused(lambda: _sync(cast.station, early, listed["token"])) == (
        409,
        "assignment_expired",
    )
    # Closed "later" than the station's own clock says it is now: one clock cannot say both.
    later = _provisional(cast.station.device, order_id, at=datetime.now(UTC) + timedelta(minutes=5))
    assert _refused(lambda: _sync(cast.station, later, listed["token"])) == (
        409,
        "station_clock_skewed",
    )
    # Honest path: closed while the list is valid.
    honest = _provisional(cast.station.device, order_id)
    assert _sync(cast.station, honest, listed["token"])["order_id"] == order_id


def test_an_offline_parcel_packed_meanwhile_by_another_station_is_refused_and_droppable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    live_api: str,
    cast: flows.Actors,
) -> None:
    station = Station(tmp_path / "line-2", capsys)
    device_id = f"station-offline-{secrets.token_hex(3)}"
    assert station("enrol", "--url", live_api, "--device-id", device_id)[0] == EXIT_OK
    order_id = flows.register_order(cast)
    assert station("sync")[0] == EXIT_OK
    station.point_at(DEAD_URL)
    assert station("open", order_id)[0] == EXIT_QUEUED
    assert station("capture", str(_photo(tmp_path, "late")))[0] == EXIT_QUEUED
    assert station("close")[0] == EXIT_QUEUED
    # Meanwhile another station of the merchant packs the same order online.
    flows.ship(cast, order_id, tmp_path)
    station.point_at(live_api)
    status, out = station("sync")
    assert (status, "order_already_packed" in out) == (EXIT_REFUSED, True), out
    assert station.state.queue.summary()["pending"] == 1
    # Refused for good: not tried again, and the operator can drop its held captures.
    status, out = station("flush")
    assert (status, "order_already_packed" in out) == (EXIT_QUEUED, False), out
    status, out = station("drop", "--held")
    assert (status, "dropped: cap-" in out) == (EXIT_OK, True), out
    assert station.state.queue.summary()["pending"] == 0

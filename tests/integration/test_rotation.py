"""Rotation of the sealing key and the service CA, and intermediates from an offline root.

Evidence sealed before a rotation keeps verifying (``allow``), as does evidence sealed after;
a parcel label printed before the rotation still opens a receipt session afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clients.client import PlatformClient, StationClient
from infra.settings import Settings
from orderseal.app import create_app
from orderseal.server import serve_in_thread
from orderseal.services import Services, build_services
from tests.conftest import free_port
from tests.support import flows
from tests.support.keys_cli import check_keys, run_keys


@contextmanager
def _serve_again(settings: Settings) -> Iterator[tuple[str, Services]]:
    """A restarted server (new process state: new signer, new chain)."""
    restarted = settings.model_copy(update={"port": free_port()})
    services = build_services(restarted)
    with serve_in_thread(
        create_app(restarted, services=services), host="127.0.0.1", port=restarted.port
    ):
        yield restarted.base_url, services


def _moved(cast: flows.Actors, base_url: str, credentials: dict[str, str]) -> flows.Actors:
    return dataclasses.replace(
        cast,
        base_url=base_url,
        platform=PlatformClient(base_url, credentials["platform"]),
        station=StationClient(base_url, cast.station.device),
    )


def _allowed(cast: flows.Actors, order_id: str, files: list[Path]) -> None:
    decided = flows.dispute(cast, order_id, files)
    assert decided["verdict"]["decision"] == "allow", decided["verdict"]["reasons"]


def test_rotation_keeps_old_and_new_evidence_valid(
    settings: Settings,
    services: Services,
    live_api: str,
    credentials: dict[str, str],
    tmp_path: Path,
) -> None:
    old_chain = services.capture.sealer.signer.certificate_chain
    cast = flows.actors(live_api, credentials)
    old_order = flows.register_order(cast)
    old_files = flows.receive(cast, flows.ship(cast, old_order, tmp_path), tmp_path)
    pending_order = flows.register_order(cast)
    pending = flows.ship(cast, pending_order, tmp_path)  # label signed by the old key

    check_keys(settings, "rotate", "--intermediate")

    with _serve_again(settings) as (base_url, rotated):
        new_chain = rotated.capture.sealer.signer.certificate_chain
        assert new_chain[0].serial_number != old_chain[0].serial_number
        assert new_chain[1].serial_number != old_chain[1].serial_number  # new service CA
        moved = _moved(cast, base_url, credentials)
        new_order = flows.register_order(moved)
        new_files = flows.receive(moved, flows.ship(moved, new_order, tmp_path), tmp_path)
        # The buyer's QR check calls the old key's label official too (it is not revoked).
        assert moved.buyer().check_qr(pending.label_token)["official"] is True
        late_files = flows.receive(moved, pending, tmp_path)
        _allowed(moved, old_order, old_files)
        _allowed(moved, new_order, new_files)
        _allowed(moved, pending_order, late_files)


def test_offline_root_issues_the_next_intermediate(
    settings: Settings, live_api: str, credentials: dict[str, str], tmp_path: Path
) -> None:
    home_keys = settings.resolved_home / "keys"
    offline = tmp_path / "offline-root"
    check_keys(settings, "export-root", str(offline), "--remove")
    assert not (home_keys / "root.key").exists()
    assert (offline / "root.key").stat().st_mode & 0o077 == 0

    refused = run_keys(settings, "rotate", "--intermediate")
    assert refused.returncode == 3
    assert "root_offline" in refused.stdout

    check_keys(settings, "issue-intermediate", "--root-dir", str(offline))
    check_keys(settings, "rotate")
    cast = flows.actors(live_api, credentials)
    with _serve_again(settings) as (base_url, rotated):
        issuer = rotated.capture.sealer.signer.certificate_chain[1]
        assert issuer == rotated.keys.load_ca("service-ca").certificate
        moved = _moved(cast, base_url, credentials)
        order_id = flows.register_order(moved)
        _allowed(
            moved, order_id, flows.receive(moved, flows.ship(moved, order_id, tmp_path), tmp_path)
        )

    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "root.crt").write_bytes((home_keys / "device-ca.crt").read_bytes())
    (stranger / "root.key").write_bytes((offline / "root.key").read_bytes())
    mismatch = run_keys(settings, "import-root", str(stranger))
    assert mismatch.returncode == 3
    assert "root_invalid" in mismatch.stdout

    check_keys(settings, "import-root", str(offline))
    assert (home_keys / "root.key").stat().st_mode & 0o077 == 0

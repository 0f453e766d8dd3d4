"""``orderseal station``: enrol, open from a scanned order, capture files and a hot folder,
and the offline queue (service stopped, captures made, service restarted: all arrive once).
"""

from __future__ import annotations

import json
import shutil
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner, Result

from clients.client import PlatformClient
from clients.station.cli import StationState
from infra.settings import Settings
from orderseal.app import create_app
from orderseal.cli import app
from orderseal.samples import make_jpeg, make_mp4
from orderseal.server import serve_in_thread
from orderseal.services import Services


def _station(home: Path, *args: str, admin_key: str = "") -> Result:
    env = {"ORDERSEAL_STATION_HOME": str(home), "ORDERSEAL_ADMIN_KEY": admin_key}
    result = CliRunner().invoke(app, ["station", *args], env=env)
    return result


def _serving(settings: Settings, services: Services) -> AbstractContextManager[uvicorn.Server]:
    return serve_in_thread(
        create_app(settings, services=services), host="127.0.0.1", port=settings.port
    )


def test_offline_captures_arrive_exactly_once(
    settings: Settings,
    services: Services,
    credentials: dict[str, str],
    tmp_path: Path,
) -> None:
    home, hot = tmp_path / "station", tmp_path / "hot"
    hot.mkdir()
    platform = PlatformClient(settings.base_url, credentials["platform"])
    with _serving(settings, services):
        enrolled = _station(
            home,
            "enrol",
            "--url",
            settings.base_url,
            "--device-id",
            "station-cli-1",
            admin_key=credentials["admin"],
        )
        assert enrolled.exit_code == 0, enrolled.output
        assert (home / "device-key.pem").stat().st_mode & 0o077 == 0
        order_id = "ORD-CLI-OFFLINE"
        platform.call(
            "POST",
            "/v1/orders",
            json={
                "order_id": order_id,
                "buyer_id": "buyer-cli",
                "items": [{"sku": "SKU-1", "quantity": 1}],
                "declared_value": "10.00",
                "currency": "EUR",
            },
        )
        opened = _station(home, "open", order_id)
        assert opened.exit_code == 0, opened.output

    # The service is down: captures are attested on the station and queued on disk.
    photo = make_jpeg(tmp_path / "pack-1.jpg", seed=71, size=(160, 120))
    clip = make_mp4(tmp_path / "pack-2.mp4", seed=72, seconds=0.3, size=(160, 120))
    offline = _station(home, "capture", str(photo), str(clip))
    assert offline.exit_code == 2, offline.output  # queued, not sealed
    assert "service unreachable" in offline.output
    shutil.copy(make_jpeg(tmp_path / "cam.jpg", seed=73, size=(160, 120)), hot / "IMG_0001.JPG")
    watched = _station(home, "watch", str(hot), "--interval", "0.1", "--max-seconds", "1.5")
    assert watched.exit_code == 2, watched.output
    queue = StationState(home).queue
    pending = queue.pending()
    assert [p.title for p in pending] == ["pack-1.jpg", "pack-2.mp4", "IMG_0001.JPG"]
    assert services.ledger.evidence_for_order(order_id) == []

    with _serving(settings, services):
        # The first capture reached the service once before, but its answer was lost.
        first = pending[0]
        StationState(home).client().upload_attested(
            first.session_id,
            first.media,
            statement=first.statement,
            signature=first.signature,
            digest=first.content_sha256,
            title=first.title,
            idempotency_key=first.capture_id,
        )
        flushed = _station(home, "flush")
        assert flushed.exit_code == 0, flushed.output
        lines = flushed.output.splitlines()
        assert sum(line.startswith("already sealed ev_") for line in lines) == 1
        assert sum(line.startswith("sealed ev_") for line in lines) == 2
        again = _station(home, "flush")
        assert again.exit_code == 0
        rows = services.ledger.evidence_for_order(order_id)
        assert sorted(r.title for r in rows) == ["IMG_0001.JPG", "pack-1.jpg", "pack-2.mp4"]
        assert {r.idempotency_key for r in rows} == {p.capture_id for p in pending}
        # The device clock at capture precedes the service's intake: the gap stays visible.
        assert all(r.captured_at < r.received_at for r in rows)
        assert queue.pending() == []

        label = tmp_path / "label.pdf"
        closed = _station(home, "close", "--out", str(label))
        assert closed.exit_code == 0, closed.output
        assert label.read_bytes().startswith(b"%PDF")
        status = _station(home, "status")
        assert json.loads(status.output)["session"] is None


def test_commands_need_enrolment_and_an_open_session(tmp_path: Path) -> None:
    photo = make_jpeg(tmp_path / "p.jpg", seed=74, size=(160, 120))
    result = _station(tmp_path / "fresh", "capture", str(photo))
    assert result.exit_code != 0
    assert getattr(result.exception, "code", None) in ("station_not_ready", "no_open_session")


@pytest.fixture
def enrolled_home(
    settings: Settings, services: Services, credentials: dict[str, str], tmp_path: Path
) -> Path:
    home = tmp_path / "station-2"
    with _serving(settings, services):
        result = _station(
            home,
            "enrol",
            "--url",
            settings.base_url,
            "--device-id",
            "station-cli-2",
            admin_key=credentials["admin"],
        )
        assert result.exit_code == 0, result.output
    return home


def test_wrong_unit_is_refused_and_kept(
    enrolled_home: Path, settings: Settings, services: Services, credentials: dict[str, str]
) -> None:
    platform = PlatformClient(settings.base_url, credentials["platform"])
    with _serving(settings, services):
        platform.call(
            "POST",
            "/v1/orders",
            json={
                "order_id": "ORD-CLI-SN",
                "buyer_id": "buyer-cli",
                "items": [{"sku": "CAM", "quantity": 1, "serials": ["CAM-001"]}],
                "declared_value": "80.00",
                "currency": "EUR",
            },
        )
        assert _station(enrolled_home, "open", "ORD-CLI-SN").exit_code == 0
        photo = make_jpeg(enrolled_home / "unit.jpg", seed=75, size=(160, 120))
        wrong = _station(enrolled_home, "capture", str(photo), "--serial", "CAM-999")
        assert wrong.exit_code == 1
        assert "serial_mismatch" in wrong.output
        rejected = StationState(enrolled_home).queue.rejected()
        assert [refusal.code for _, refusal in rejected] == ["serial_mismatch"]
        right = _station(enrolled_home, "capture", str(photo), "--serial", "CAM-001")
        assert right.exit_code == 0, right.output
        assert len(services.ledger.evidence_for_order("ORD-CLI-SN")) == 1

"""Public verify page and the agent dispute list."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from orderseal.samples import make_jpeg
from tests.support import flows


@pytest.fixture(scope="module")
def sealed(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[flows.Actors, str, list[Path]]:
    work = tmp_path_factory.mktemp("public")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    return cast, order_id, flows.receive(cast, flows.ship(cast, order_id, work), work)


def _verify(base_url: str, path: Path) -> httpx.Response:
    return httpx.post(
        f"{base_url}/verify",
        content=path.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )


def test_page_is_public(live_api: str) -> None:
    page = httpx.get(f"{live_api}/verify")
    assert page.status_code == 200
    assert 'id="file"' in page.text


def test_sealed_receipt_shows_both_stages_and_no_identities(
    live_api: str, sealed: tuple[flows.Actors, str, list[Path]]
) -> None:
    cast, order_id, files = sealed
    answer = _verify(live_api, files[0])
    assert answer.status_code == 200
    body = answer.json()
    assert body["carries_orderseal_chain"] is True
    assert body["intact"] is True
    assert [s["stage"] for s in body["stages"]] == ["shipment", "receipt"]
    for secret in (
        order_id,
        cast.buyer_id,
        cast.buyer_device.device_id,
        cast.station.device.device_id,
    ):
        assert secret not in answer.text


def test_tampered_copy_is_not_intact(
    live_api: str, sealed: tuple[flows.Actors, str, list[Path]], tmp_path: Path
) -> None:
    _, _, files = sealed
    data = bytearray(files[0].read_bytes())
    data[-150] ^= 0x40
    tampered = tmp_path / "t.jpg"
    tampered.write_bytes(bytes(data))
    body = _verify(live_api, tampered).json()
    assert body["carries_orderseal_chain"] is False
    assert {"content_tampered"} <= {f["code"] for f in body["findings"]}


def test_plain_photo_is_not_orderseal(live_api: str, tmp_path: Path) -> None:
    body = _verify(live_api, make_jpeg(tmp_path / "p.jpg", seed=1, size=(64, 64))).json()
    assert body["carries_orderseal_chain"] is False
    assert [f["code"] for f in body["findings"]] == ["no_manifest"]


def test_oversized_upload_is_refused_before_reading(live_api: str) -> None:
    host, port = live_api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /verify HTTP/1.1\r\nHost: {host}\r\nContent-Length: {10**12}\r\n\r\n".encode()
        )
        head = sock.recv(4096).decode()
        while "payload_too_large" not in head:  # headers and body may come in two segments
            chunk = sock.recv(4096).decode()
            if not chunk:
                break
            head += chunk
    assert head.startswith("HTTP/1.1 413")
    assert "payload_too_large" in head


def test_agent_list_filters_by_decision_and_reason(
    live_api: str,
    credentials: dict[str, str],
    sealed: tuple[flows.Actors, str, list[Path]],
    tmp_path: Path,
) -> None:
    cast, order_id, files = sealed
    allowed = flows.dispute(cast, order_id, files)
    reviewed = flows.dispute(cast, order_id, [make_jpeg(tmp_path / "u.jpg", seed=2, size=(64, 64))])
    agent = {"Authorization": f"Bearer {credentials['agent']}"}
    by_decision = httpx.get(
        f"{live_api}/v1/disputes", params={"decision": "allow"}, headers=agent
    ).json()
    ids = {d["dispute_id"] for d in by_decision["disputes"]}
    assert allowed["dispute_id"] in ids
    assert reviewed["dispute_id"] not in ids
    by_reason = httpx.get(
        f"{live_api}/v1/disputes", params={"reason": "no_manifest"}, headers=agent
    ).json()
    assert {d["dispute_id"] for d in by_reason["disputes"]} == {reviewed["dispute_id"]}
    platform = httpx.get(
        f"{live_api}/v1/disputes", headers={"Authorization": f"Bearer {credentials['platform']}"}
    )
    assert platform.status_code == 403


def test_new_evidence_re_evaluates_and_keeps_history(
    live_api: str,
    credentials: dict[str, str],
    sealed: tuple[flows.Actors, str, list[Path]],
    tmp_path: Path,
) -> None:
    cast, order_id, files = sealed
    unsigned = make_jpeg(tmp_path / "first.jpg", seed=41, size=(64, 64))
    first = flows.dispute(cast, order_id, [unsigned])
    dispute_id = first["dispute_id"]
    assert first["verdict"]["decision"] == "review"
    cast.platform.attach_file(dispute_id, files[0], filename="sealed.jpg")
    second = cast.platform.call("POST", f"/v1/disputes/{dispute_id}/decide")
    assert [v["decision"] for v in second["history"]] == ["review", second["verdict"]["decision"]]
    assert len(second["verdict"]["evidence"]) == 2

"""Private keys never appear in logs, API responses, CLI output or loose files.

A whole scenario runs against the live API (enrolment, shipment, receipt, dispute, report,
published trust, renewal, error paths, key commands). Every response body, every log record
(caplog) and every CLI output is scanned for PEM private-key markers and for the actual
bytes of every private key in the home folder and of the devices' keys, in raw, hex,
base64 and base64url forms. Device keys must not even appear in requests: they never reach
the server. Key files must be mode 0600 in 0700 folders.
"""

from __future__ import annotations

import base64
import logging
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from clients.client import PlatformClient
from infra.settings import Settings
from tests.support import flows
from tests.support.keys_cli import run_keys

pytestmark = pytest.mark.backend_independent

_MARKERS = (b"PRIVATE KEY", b"-----BEGIN EC", b"-----BEGIN ENCRYPTED")


class Recorder:
    """Keeps every request and response body httpx clients send and receive."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.responses: list[bytes] = []


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    record = Recorder()
    original = httpx.Client.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        try:
            record.requests.append(request.content)
        except httpx.RequestNotRead:
            pass  # a streamed upload of a capture: media, not keys
        response = original(self, request, **kwargs)
        if not kwargs.get("stream"):
            record.responses.append(response.content)
        return response

    monkeypatch.setattr(httpx.Client, "send", send)
    return record


def _forms(secret: bytes) -> list[bytes]:
    return [
        secret,
        secret.hex().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def _key_material(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> list[bytes]:
    if isinstance(key, ed25519.Ed25519PrivateKey):  # the webhook signing key
        scalar = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    else:
        scalar = key.private_numbers().private_value.to_bytes(32, "big")
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return [*_forms(scalar), *_forms(der)[1:]]


def _home_secrets(home: Path) -> list[bytes]:
    found: list[bytes] = []
    for path in home.rglob("*.key"):
        data = path.read_bytes()
        if b"PRIVATE KEY" in data:
            key = serialization.load_pem_private_key(data, password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
            found.extend(_key_material(key))
        else:  # the HMAC secret for buyer tokens
            found.append(data.strip())
    return found


def _assert_clean(blobs: list[bytes], secrets: list[bytes], where: str) -> None:
    for blob in blobs:
        for marker in _MARKERS:
            assert marker not in blob, f"private key marker in {where}"
        for secret in secrets:
            assert secret not in blob, f"key material in {where}"


def test_no_key_material_leaks(
    settings: Settings,
    live_api: str,
    credentials: dict[str, str],
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    home_secrets_before = _home_secrets(settings.resolved_home)
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, tmp_path, video=True)
    files = flows.receive(cast, shipped, tmp_path)
    decided = flows.dispute(cast, order_id, files)
    agent = PlatformClient(live_api, credentials["agent"])
    agent.http.get(f"/v1/disputes/{decided['dispute_id']}/report")
    for path in ("/v1/trust/anchors", "/v1/trust/crl?format=pem", "/v1/trust/label-certificates"):
        httpx.get(f"{live_api}{path}")
    # Error paths: bad CSR, bad renewal, unknown routes.
    admin = PlatformClient(live_api, credentials["admin"])
    admin.http.post(
        "/v1/devices",
        json={
            "device_id": "bad-1",
            "kind": "station",
            "csr_pem": "-----BEGIN CERTIFICATE REQUEST-----",
        },
    )
    httpx.post(
        f"{live_api}/v1/devices/{cast.station.device.device_id}/renewal",
        json={"csr_pem": cast.station.device.csr_pem(), "timestamp": "1", "signature": "AA"},
    )
    cli_outputs = []
    for args in (
        ["status"],
        ["crl", "--ca", "service"],
        ["export-trust", str(tmp_path / "trust")],
        ["export-root", str(tmp_path / "root")],
        ["import-root", str(tmp_path / "missing")],
        ["rotate"],
    ):
        result = run_keys(settings, *args, process=True)  # the process's own streams
        cli_outputs.append((result.stdout + result.stderr).encode())

    home = settings.resolved_home
    # Rotation replaced the sealing key: scan for the keys from before and after it.
    secrets = home_secrets_before + _home_secrets(home)
    device_secrets = [
        *_key_material(cast.station.device.private_key),
        *_key_material(cast.buyer_device.private_key),
    ]
    logs = [record.getMessage().encode() for record in caplog.records] + [caplog.text.encode()]
    _assert_clean(recorder.responses, secrets + device_secrets, "an API response")
    _assert_clean(logs, secrets + device_secrets, "the logs")
    _assert_clean(cli_outputs, secrets + device_secrets, "CLI output")
    _assert_clean(recorder.requests, device_secrets, "a request (device keys stay on devices)")
    assert len(recorder.responses) > 10


def test_key_files_are_private(settings: Settings) -> None:
    home = settings.resolved_home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "keys").stat().st_mode) == 0o700
    for path in home.rglob("*"):
        if path.is_dir():
            continue
        data = path.read_bytes()[:200_000]
        if path.suffix == ".key" or b"PRIVATE KEY" in data or path.name == "credentials.json":
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o077 == 0, f"{path.relative_to(home)} is mode {mode:04o}"
